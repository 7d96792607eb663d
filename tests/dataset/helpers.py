"""Helpers of the dataset tests: documents like clean's output and a stage runner."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from webtune.config import validate_pipeline
from webtune.pipeline import run_one_stage, stage_spec

ROOT = Path(__file__).resolve().parents[2]
DEMO_PIPELINE = ROOT / "examples" / "office-products" / "pipeline.yaml"


def product(i: int, **fields: Any) -> dict[str, Any]:
    """A clean product document like the demo's (fields as scraped, a cluster id from clean)."""
    base = {"title": f"Gel Pen Pack {i}", "brand": f"Brand{i % 4}",
            "features": [f"Quick-drying ink {i}", "Comfort grip"],
            "description": f"The Gel Pen Pack {i} writes smoothly and dries fast for tidy notes."}
    base.update(fields)
    return {"id": f"p{i:03d}", "source": {"kind": "files", "uri": "data/snapshot.json", "line": i},
            "fields": base, "meta": {"cluster_id": f"c{i:03d}"}}


def write_docs(path: Path, docs: list[dict[str, Any]], extra_lines: list[str] = ()) -> Path:
    """A clean output directory holding ``documents.jsonl``."""
    path.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(d) for d in docs] + list(extra_lines)
    (path / "documents.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def demo_dataset_section() -> dict[str, Any]:
    """The demo pipeline's dataset section, exactly as shipped."""
    return yaml.safe_load(DEMO_PIPELINE.read_text())["dataset"]


def run_dataset_stage(tmp_path: Path, model_dir: Path, dataset: dict[str, Any], docs: list[dict[str, Any]],
                    extra_lines: list[str] = (), seed: int = 7, name: str = "t") -> tuple[dict[str, Any], Path]:
    """Run the dataset stage through the stage contract; return its manifest and output dir."""
    clean = write_docs(tmp_path / "clean", docs, extra_lines)
    pipeline = validate_pipeline({"name": name, "base_model": str(model_dir), "seed": seed, "dataset": dataset},
                                 base_dir=tmp_path)
    manifest = run_one_stage(stage_spec("dataset"), pipeline, tmp_path / "run", inputs={"clean": clean}, force=True)
    return manifest, tmp_path / "run" / "dataset"


def read_split(out: Path, name: str) -> list[dict[str, Any]]:
    """Examples of one split file."""
    return [json.loads(line) for line in (out / f"{name}.jsonl").read_text().splitlines() if line.strip()]


def read_rejects(out: Path) -> list[dict[str, Any]]:
    """Rejects of the stage (empty when there were none)."""
    path = out / "rejects.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
