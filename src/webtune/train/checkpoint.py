"""Training checkpoints in the stage's work directory, written so a kill never leaves a bad one.

A checkpoint is ``<work_dir>/checkpoints/step-<N>/`` with the trainable weights (the adapter for
LoRA), the optimizer and scheduler states and ``state.json`` (step, early-stopping state and the
fingerprint of the training setup). It is written in a temporary directory and renamed into
place; ``latest.json`` then points at it (atomically), so a checkpoint that ``latest.json``
names is always complete. The data position needs no saving: the data order is a function of
the step (`webtune.train.plan`), and the random state is re-seeded from the step.

Sharded runs (FSDP, DeepSpeed) save their states with ``accelerator.save_state`` instead.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from webtune import faults
from webtune.errors import WebtuneError
from webtune.jsonl import atomic_write_json

CHECKPOINTS = "checkpoints"
LATEST = "latest.json"
STATE = "state.json"


def checkpoints_dir(work_dir: Path) -> Path:
    return Path(work_dir) / CHECKPOINTS


def begin_checkpoint(work_dir: Path, step: int) -> Path:
    """A fresh temporary directory to write the checkpoint of ``step`` into."""
    tmp = checkpoints_dir(work_dir) / f".step-{step}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    return tmp


def commit_checkpoint(work_dir: Path, tmp: Path, step: int, state: dict[str, Any], keep: int) -> Path:
    """Write ``state.json``, move ``tmp`` into place as ``step-<step>``, point latest.json at it,
    and delete all but the ``keep`` newest checkpoints."""
    atomic_write_json(tmp / STATE, {**state, "step": step})
    final = checkpoints_dir(work_dir) / f"step-{step}"
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    atomic_write_json(checkpoints_dir(work_dir) / LATEST, {"step": step, "dir": final.name})
    prune(work_dir, keep)
    return final


def save_checkpoint(work_dir: Path, step: int, *, trainable: dict[str, Any], optimizer: dict[str, Any],
                    scheduler: dict[str, Any], state: dict[str, Any], keep: int) -> Path:
    """Save a complete (non-sharded) checkpoint of ``step``; see the module docstring."""
    import torch

    tmp = begin_checkpoint(work_dir, step)
    torch.save(trainable, tmp / "trainable.pt")
    faults.point("train.checkpoint_writing")
    torch.save({"optimizer": optimizer, "scheduler": scheduler}, tmp / "optimizer.pt")
    return commit_checkpoint(work_dir, tmp, step, state, keep)


def latest_checkpoint(work_dir: Path) -> Path | None:
    """The newest complete checkpoint directory, or None."""
    pointer = checkpoints_dir(work_dir) / LATEST
    if not pointer.is_file():
        return None
    try:
        name = json.loads(pointer.read_text(encoding="utf-8"))["dir"]
    except (ValueError, KeyError):
        return None
    path = checkpoints_dir(work_dir) / name
    return path if (path / STATE).is_file() else None


def read_state(path: Path) -> dict[str, Any]:
    """The ``state.json`` of a checkpoint."""
    return json.loads((Path(path) / STATE).read_text(encoding="utf-8"))


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Trainable weights, optimizer and scheduler states, and state of a non-sharded checkpoint."""
    import torch

    try:
        trainable = torch.load(path / "trainable.pt", map_location="cpu", weights_only=True)
        opt = torch.load(path / "optimizer.pt", map_location="cpu", weights_only=False)
    except (OSError, RuntimeError) as exc:
        raise WebtuneError(f"{path}: cannot read checkpoint ({exc}); rerun with --no-resume to start over") from None
    return {"trainable": trainable, "optimizer": opt["optimizer"], "scheduler": opt["scheduler"],
            "state": read_state(path)}


def prune(work_dir: Path, keep: int) -> None:
    """Delete all but the ``keep`` newest checkpoints, and leftovers of interrupted writes."""
    root = checkpoints_dir(work_dir)
    done = sorted((p for p in root.glob("step-*") if p.is_dir()),
                  key=lambda p: int(p.name.split("-")[1]))
    for path in done[:-keep] if keep else done:
        shutil.rmtree(path, ignore_errors=True)
    for path in root.glob(".step-*.tmp-*"):
        shutil.rmtree(path, ignore_errors=True)


def clear(work_dir: Path) -> None:
    """Remove every checkpoint (a fresh, non-resumed run)."""
    shutil.rmtree(checkpoints_dir(work_dir), ignore_errors=True)
