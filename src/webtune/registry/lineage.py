"""Lineage of a version: which run, stages, configs, data and metrics produced it."""

from __future__ import annotations

from pathlib import Path

from webtune.handoffs import EvalReport, Lineage, Manifest, StageLineage, TrainResult
from webtune.stage import read_manifest


def stage_manifests(inputs: dict[str, Path]) -> dict[str, Manifest]:
    """Manifests of the given stages and, transitively, of the stages they read."""
    found: dict[str, Manifest] = {}
    pending = list(inputs.items())
    while pending:
        name, path = pending.pop()
        if name in found:
            continue
        manifest = read_manifest(path)
        if manifest is None:
            continue
        found[name] = manifest
        for item in manifest.inputs:
            if item.stage and item.path:
                pending.append((item.stage, Path(item.path)))
    return found


def stage_summary(manifest: Manifest) -> StageLineage:
    """What lineage keeps of a manifest: fingerprint, config, counts, when, library versions."""
    return StageLineage(fingerprint=manifest.fingerprint, config=manifest.config, counts=manifest.counts,
                        finished_at=manifest.finished_at, versions=manifest.versions)


def data_hashes(manifests: dict[str, Manifest]) -> dict[str, dict[str, str]]:
    """SHA-256 of the datasets: the dataset stage's splits and the files collect read."""
    data: dict[str, dict[str, str]] = {}
    dataset = manifests.get("dataset")
    if dataset:
        data["dataset"] = {o.path: o.sha256 for o in dataset.outputs
                           if o.path.endswith(".jsonl") and o.path != "rejects.jsonl"}
    collect = manifests.get("collect")
    if collect:
        data["sources"] = {f.path: f.sha256 for item in collect.inputs for f in item.files or []}
    return data


def build_lineage(run_dir: Path, inputs: dict[str, Path], train_result: TrainResult,
                  report: EvalReport | None) -> Lineage:
    """The lineage block of a version record."""
    manifests = stage_manifests(inputs)
    return Lineage(
        run_dir=str(Path(run_dir).resolve()),
        stages={name: stage_summary(m) for name, m in sorted(manifests.items())},
        data=data_hashes(manifests),
        base_model=train_result.base_model,
        base_model_path=train_result.base_model_path,
        base_model_revision=train_result.base_model_revision,
        tracking=train_result.tracking,
        train_metrics=train_result.metrics,
        eval_metrics=report.metrics if report is not None else {},
    )
