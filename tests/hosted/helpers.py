"""Shared helpers for the hosted-training tests: dataset outputs and pipelines aimed at the fake API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from webtune.config import validate_pipeline


def example(i: int, *, meta: bool = True) -> dict[str, Any]:
    """One valid chat example (with webtune's ``meta``, which must not be uploaded)."""
    obj: dict[str, Any] = {"messages": [
        {"role": "system", "content": "You write product descriptions."},
        {"role": "user", "content": f"Describe product number {i}."},
        {"role": "assistant", "content": f"Product {i} is a sturdy, useful office item."},
    ]}
    if meta:
        obj["meta"] = {"source_id": f"doc-{i}", "template": "copywriter"}
    return obj


def write_dataset(dataset_dir: Path, n_train: int = 12, n_valid: int = 3,
                bad_line: dict[str, Any] | None = None) -> Path:
    """A dataset stage output (train.jsonl, validation.jsonl, test.jsonl) in ``dataset_dir``."""
    dataset_dir.mkdir(parents=True, exist_ok=True)
    train = [example(i) for i in range(n_train)]
    if bad_line is not None:
        train.insert(4, bad_line)
    for name, rows in (("train.jsonl", train), ("validation.jsonl", [example(100 + i) for i in range(n_valid)]),
                       ("test.jsonl", [example(200)])):
        (dataset_dir / name).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return dataset_dir


def pipeline(server: Any, tmp_path: Path, **train: Any) -> Any:
    """A small PipelineConfig whose train section uses the openai backend against ``server``."""
    section = {"backend": "openai", "base_url": server.base_url, "poll_interval": 0.01,
               "epochs": 2, "batch_size": 1, "learning_rate_multiplier": 0.5, "suffix": "demo"}
    section.update(train)
    return validate_pipeline({"name": "hosted-test", "seed": 7, "train": section}, base_dir=tmp_path)


def all_text_under(root: Path) -> str:
    """Every readable file under ``root`` concatenated (to look for leaked secrets)."""
    parts = []
    for path in sorted(Path(root).rglob("*")):
        if path.is_file():
            parts.append(path.read_bytes().decode("utf-8", errors="replace"))
    return "\n".join(parts)
