"""examples/python-docs: the pipeline file loads, and collect, clean and dataset run on a small
snapshot made from this Python's own standard library (real text, present without network)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

from webtune.config import load_pipeline
from webtune.pipeline import run_one_stage, stage_spec

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "python-docs"


def make_snapshot_module():
    spec = importlib.util.spec_from_file_location("python_docs_make_snapshot", EXAMPLE / "make_snapshot.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_pipeline_file_loads():
    pipeline = load_pipeline(EXAMPLE / "pipeline.yaml")
    assert pipeline.base_model == "smollm2-135m-instruct"
    assert [t.name for t in pipeline.dataset.templates] == ["explain"]
    assert pipeline.register_.promote_if.no_forgetting


def test_snapshot_then_collect_clean_dataset_on_a_few_modules(tmp_path, tiny_model_dir):
    snapshot = tmp_path / "snapshot.jsonl"
    assert make_snapshot_module().main(["--out", str(snapshot), "--modules", "textwrap", "base64", "shlex",
                                        "fnmatch", "string", "posixpath", "ntpath"]) == 0
    rows = [json.loads(line) for line in snapshot.read_text().splitlines()]
    wrap = next(r for r in rows if r["title"] == "textwrap.wrap")
    assert wrap["signature"].startswith("wrap(text, width=70") and "wrap" in wrap["docstring"].lower()
    assert wrap["url"].startswith("file://") and "textwrap.py#L" in wrap["url"]

    pipeline = load_pipeline(EXAMPLE / "pipeline.yaml", overrides={
        "base_model": str(tiny_model_dir), "run_dir": str(tmp_path / "run"),
        "sources": [{"kind": "files", "paths": [str(snapshot)], "fields": {"title": "title", "url": "url"}}]})
    manifests = {name: run_one_stage(stage_spec(name), pipeline, tmp_path / "run", force=True)
                 for name in ("collect", "clean", "dataset")}
    assert manifests["collect"].counts.kept == len(rows)
    clean = manifests["clean"].counts
    assert clean.kept + clean.rejected == len(rows) and clean.rejected > 0  # short docstrings, ntpath twins
    dataset = tmp_path / "run" / "dataset"
    train = [json.loads(line) for line in (dataset / "train.jsonl").read_text().splitlines()]
    assert len(train) >= 10
    first = train[0]["messages"]
    assert first[1]["content"].startswith("What does `") and "module do?" in first[1]["content"]
    assert 6 <= len(first[2]["content"].split()) <= 80  # a docstring paragraph, not the document dump
    assert "SourceRef" not in first[2]["content"]
