"""Helpers for the clean tests: documents, running one step, running the stage on a list."""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path
from typing import Any

from webtune.clean.config import CleanConfig
from webtune.clean.runner import build_plan
from webtune.clean.stage import run_clean
from webtune.jsonl import atomic_write_json, write_jsonl
from webtune.records import Document, SourceRef, content_id
from webtune.stage import run_stage


def doc(text: str | None = None, *, html: str | None = None, fields: dict | None = None,
        uri: str = "https://example.com/page", line: int = 1, id: str | None = None) -> Document:
    """A Document as collect writes it."""
    body = {"text": text, "html": html, "fields": fields or {}, "uri": uri, "line": line}
    return Document(id=id or content_id(body), source=SourceRef(kind="test", uri=uri, line=line),
                    text=text, html=html, fields=fields or {})


def step(config: dict[str, Any]):
    """One step instance from its config dict (validated like the pipeline file)."""
    cfg = CleanConfig.model_validate({"steps": [config]})
    plan = build_plan(json.dumps([s.model_dump(mode="json") for s in cfg.steps]))
    seg = plan.segments[0]
    return seg.steps[0] if seg.steps else seg.global_step


def apply(config: dict[str, Any], document: Document):
    """Run one document step: (drop or None, stats counters)."""
    stats: dict[str, int] = {}
    return step(config).apply(document, stats), stats


def write_collect(root: Path, docs: list[Any], extra_lines: list[str] | None = None) -> Path:
    """A published collect directory holding ``docs`` (plus raw extra lines)."""
    collect = root / "collect"
    collect.mkdir(parents=True, exist_ok=True)
    write_jsonl(collect / "documents.jsonl", docs)
    if extra_lines:
        with open(collect / "documents.jsonl", "a", encoding="utf-8") as fh:
            fh.writelines(line + "\n" for line in extra_lines)
    atomic_write_json(collect / "manifest.json", {"status": "complete", "fingerprint": "test"})
    return collect


def run(root: Path, docs: list[Any], steps: list[dict], extra_lines: list[str] | None = None,
        out: str = "clean", **options) -> tuple[dict, list[dict], list[dict]]:
    """Run the clean stage: (manifest, kept documents, rejects)."""
    collect = write_collect(root, docs, extra_lines)
    config = CleanConfig.model_validate({"steps": steps, **options})
    manifest = run_stage("clean", run_clean, run_dir=root, config=config, inputs={"collect": collect},
                         output_dir=root / out, force=True)
    return manifest, read(root / out / "documents.jsonl"), read(root / out / "rejects.jsonl")


def read(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def pair_scores(clusters: list[Any], truth: list[Any]) -> tuple[float, float]:
    """Pairwise precision and recall of predicted clusters against true families."""
    tp = fp = fn = 0
    for i, j in combinations(range(len(truth)), 2):
        same_pred, same_true = clusters[i] == clusters[j], truth[i] == truth[j]
        tp += same_pred and same_true
        fp += same_pred and not same_true
        fn += same_true and not same_pred
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return precision, recall
