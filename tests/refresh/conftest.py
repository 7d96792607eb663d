"""Helpers of the refresh tests: run a stage as a refresh run's version N, commit it to history."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from webtune.collect.config import CollectConfig
from webtune.collect.stage import run_collect
from webtune.handoffs import Manifest
from webtune.refresh.history import COLLECTED, RECORDS, SIGNATURES, History
from webtune.stage import run_stage


def read_lines(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def refresh_shared(history: History, version: int, **extra: Any) -> dict[str, Any]:
    return {"refresh": {"history": str(history.root), "version": version, "key": None, "train": "continue",
                        **extra}}


@dataclass
class Version:
    manifest: Manifest
    docs: list[dict[str, Any]]
    rejects: list[dict[str, Any]]
    out: Path


@pytest.fixture
def history(tmp_path) -> History:
    return History(tmp_path / "history")


@pytest.fixture
def collect_version(tmp_path, history):
    """Collect ``sources`` as version N of a refresh run, then commit what collect learnt."""

    def run(sources: list[dict[str, Any]], version: int, commit: bool = True) -> Version:
        config = CollectConfig.model_validate({"sources": sources}, context={"base_dir": tmp_path})
        run_dir = tmp_path / f"v{version}"
        manifest = run_stage("collect", run_collect, run_dir=run_dir, config=config,
                             shared=refresh_shared(history, version))
        out = run_dir / "collect"
        if commit:
            history.commit(version, {RECORDS: out / RECORDS, COLLECTED: out / COLLECTED,
                                     SIGNATURES: out / SIGNATURES}, {}, {})
        return Version(manifest, read_lines(out / "documents.jsonl"), read_lines(out / "rejects.jsonl"), out)

    return run
