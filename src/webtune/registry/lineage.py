"""Lineage of a version: which run, stages, configs, data and metrics produced it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from webtune.stage import read_manifest


def stage_manifests(inputs: dict[str, Path]) -> dict[str, dict[str, Any]]:
    """Manifests of the given stages and, transitively, of the stages they read."""
    found: dict[str, dict[str, Any]] = {}
    pending = list(inputs.items())
    while pending:
        name, path = pending.pop()
        if name in found:
            continue
        manifest = read_manifest(path)
        if manifest is None:
            continue
        found[name] = manifest
        for item in manifest.get("inputs", []):
            if item.get("stage") and item.get("path"):
                pending.append((item["stage"], Path(item["path"])))
    return found


def stage_summary(manifest: dict[str, Any]) -> dict[str, Any]:
    """What lineage keeps of a manifest: fingerprint, config, counts, when, output hashes."""
    return {
        "fingerprint": manifest.get("fingerprint"),
        "config": manifest.get("config"),
        "counts": manifest.get("counts"),
        "finished_at": manifest.get("finished_at"),
        "versions": manifest.get("versions"),
    }


def data_hashes(manifests: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """SHA-256 of the datasets: the dataset stage's splits and the files collect read."""
    data: dict[str, Any] = {}
    dataset = manifests.get("dataset")
    if dataset:
        data["dataset"] = {o["path"]: o["sha256"] for o in dataset.get("outputs", [])
                         if o["path"].endswith(".jsonl") and o["path"] != "rejects.jsonl"}
    collect = manifests.get("collect")
    if collect:
        data["sources"] = {f["path"]: f["sha256"] for item in collect.get("inputs", [])
                           for f in item.get("files", [])}
    return data


def build_lineage(run_dir: Path, inputs: dict[str, Path], train_result: dict[str, Any],
                  report: dict[str, Any] | None) -> dict[str, Any]:
    """The lineage block of a version record."""
    manifests = stage_manifests(inputs)
    return {
        "run_dir": str(Path(run_dir).resolve()),
        "stages": {name: stage_summary(m) for name, m in sorted(manifests.items())},
        "data": data_hashes(manifests),
        "base_model": train_result.get("base_model"),
        "base_model_path": train_result.get("base_model_path"),
        "train_metrics": train_result.get("metrics") or {},
        "eval_metrics": (report or {}).get("metrics") or {},
    }
