"""One refresh run: collect what is new, build the next dataset version, train, gate, commit history.

`run_refresh` wraps `webtune.pipeline.run_pipeline`; the stages themselves get what they need
through ``ctx.shared`` (`refresh_settings`, `champion_settings`), so each stays within the stage
contract and its fingerprint covers the history version it builds:

1. the run goes to ``<run dir>/v<N>`` (N: the next history version);
2. collect runs first; when it kept nothing (every record unchanged), the run stops there:
   nothing new, no version, production unchanged;
3. ``refresh.train: continue`` sets ``train.init_adapter`` to the production version's
   adapter; ``retrain`` trains the base model on every version's train split (dataset stage);
4. after register, the version is committed to history (`History.commit`) with its lineage,
   whether or not its model was promoted: its records were seen, and its test split joins the
   frozen benchmark of the next version.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from webtune.errors import ConfigError
from webtune.handoffs import Manifest, RegistryVersion
from webtune.jsonl import iter_jsonl_lines
from webtune.refresh.history import COLLECTED, RECORDS, SIGNATURES, History
from webtune.refresh.settings import history_of, production_version


def with_training_start(pipeline: Any, console: Console) -> tuple[Any, dict[str, Any]]:
    """The pipeline whose trainer starts from the production adapter (``continue``), and what was chosen."""
    mode = pipeline.refresh.train
    production = production_version(pipeline)
    if mode == "retrain" or production is None:
        return pipeline, {"mode": mode if production is not None else "first", "from": "base model"}
    if production.kind != "adapter" or not hasattr(pipeline.train, "init_adapter"):
        console.print(f"[yellow]refresh[/yellow]: {production.label} is not a LoRA adapter trained here; "
                      "training starts from the base model")
        return pipeline, {"mode": "retrain", "from": "base model"}
    adapter = Path(production.path) / (production.artifact or "artifact")
    train = pipeline.train.model_copy(update={"init_adapter": str(adapter)})
    return pipeline.model_copy(update={"train": train}), {"mode": "continue", "from": production.label}


@dataclass
class RefreshOutcome:
    """What a refresh run did: its version, manifests, and whether its model went to production."""

    version: int
    run_dir: Path
    manifests: list[Manifest] = field(default_factory=list)
    nothing_new: bool = False
    registered: RegistryVersion | None = None
    lineage: dict[str, Any] = field(default_factory=dict)

    @property
    def promoted(self) -> bool:
        return bool(self.registered is not None and self.registered.promoted)

    def refusal(self) -> str:
        """Why the version was not promoted: its failed gates."""
        if self.registered is None:
            return "not registered"
        return self.registered.gates.failed_text() or "promotion is off (register.promote: false)"


def run_refresh(pipeline: Any, runs_root: Path, console: Console, force: bool = False) -> RefreshOutcome:
    """One refresh run of ``pipeline`` into ``runs_root/v<N>`` (see the module docstring)."""
    from webtune.pipeline import run_pipeline

    steps = [s.step for s in pipeline.clean.steps]
    if "dedup" not in steps:
        raise ConfigError("refresh: clean.steps has no dedup step; dedup against history uses its "
                          "signatures (add `- step: dedup`)")
    history = history_of(pipeline)
    version = history.next_version()
    run_dir = Path(runs_root) / f"v{version}"
    outcome = RefreshOutcome(version=version, run_dir=run_dir)
    console.print(f"[bold]refresh[/bold] {pipeline.name}: dataset version v{version} "
                  f"(history {history.root}) → {run_dir}")
    outcome.manifests = run_pipeline(pipeline, run_dir, force=force, to_stage="collect", console=console)
    collect = outcome.manifests[-1]
    if collect.counts.kept == 0:
        outcome.nothing_new = True
        console.print(f"[bold]refresh[/bold]: nothing new since v{version - 1} "
                      f"({collect.counts.rejected} unchanged records or files); no version made, production unchanged")
        return outcome
    pipeline, start = with_training_start(pipeline, console)
    console.print(f"[bold]refresh[/bold]: training {start['mode']} from {start['from']}")
    outcome.manifests = run_pipeline(pipeline, run_dir, from_stage="clean" if force else None, console=console)
    outcome.registered = RegistryVersion.read(run_dir / "register")
    outcome.lineage = commit(history, version, run_dir, outcome, start)
    return outcome


def own_examples(source: Path, target: Path) -> list[dict[str, Any]]:
    """Copy the split file's examples of this version (not those retraining took from history);
    return their metas."""
    from webtune.jsonl import JsonlWriter

    metas = []
    with JsonlWriter(target) as out:
        for _line, obj, error in iter_jsonl_lines(source):
            if error is None and "from_version" not in obj.get("meta", {}):
                out.write(obj)
                metas.append(obj.get("meta", {}))
    return metas


def commit(history: History, version: int, run_dir: Path, outcome: RefreshOutcome,
           start: dict[str, Any]) -> dict[str, Any]:
    """Store the version in history; return its lineage."""
    from webtune.dataset.splits import SPLITS, split_assignments
    from webtune.stage import read_manifest

    staging = run_dir / "refresh-commit"
    staging.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {RECORDS: run_dir / "collect" / RECORDS, COLLECTED: run_dir / "collect" / COLLECTED,
                              SIGNATURES: run_dir / "clean" / SIGNATURES}
    metas: list[dict[str, Any]] = []
    examples: dict[str, int] = {}
    for split in SPLITS:
        split_metas = own_examples(run_dir / "dataset" / f"{split}.jsonl", staging / f"{split}.jsonl")
        files[f"{split}.jsonl"] = staging / f"{split}.jsonl"
        examples[split] = len(split_metas)
        metas.extend(split_metas)
    manifests = {name: read_manifest(run_dir / name) for name in ("collect", "clean", "dataset")}
    collected = manifests["collect"].stats.get("refresh", {}) if manifests["collect"] else {}
    clean_steps = manifests["clean"].stats.get("steps", {}) if manifests["clean"] else {}
    seen_before = sum(entry.get("reasons", {}).get("seen_before", 0) for entry in clean_steps.values())
    benchmark = history.benchmark_files()
    registered = outcome.registered
    lineage = {
        "run_dir": str(run_dir.resolve()),
        "collected": collected,
        "sources": [item.model_dump(mode="json") for item in manifests["collect"].inputs] if manifests["collect"] else [],
        "clean": {"seen_before": seen_before,
                  "kept": manifests["clean"].counts.kept if manifests["clean"] else None},
        "examples": examples,
        "dataset": (manifests["dataset"].stats.get("refresh") if manifests["dataset"] else None),
        "train": start,
        "benchmark": {"versions": [int(p.parent.name.lstrip("v")) for p in benchmark],
                      "sha256": _files_digest(benchmark)},
        "model": {"name": registered.name, "version": registered.version, "promoted": registered.promoted,
                  "refused": None if registered.promoted else outcome.refusal()} if registered else None,
    }
    history.commit(version, files, lineage, split_assignments(metas))
    for path in staging.iterdir():
        path.unlink()
    staging.rmdir()
    return lineage


def _files_digest(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()
