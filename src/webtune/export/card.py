"""The model card (``README.md`` with YAML front matter) of an exported version.

The front matter holds what a hub or a reader needs to trust the model: its lineage (registry
version, weights hash, run, stage fingerprints, data hashes), the data counts of every stage,
the training settings and metrics, and the evaluation (base vs tuned, with the intervals and
verdicts the evaluation report carries).
"""

from __future__ import annotations

from typing import Any

import yaml

from webtune.export.source import ExportSource


def card_data(source: ExportSource, stop_ids: list[int]) -> dict[str, Any]:
    """The front matter of the model card, as a dict."""
    version = source.version
    tokenizer = source.tokenizer
    data: dict[str, Any] = {
        "library_name": "transformers",
        "pipeline_tag": "text-generation",
        "tags": ["webtune", "fine-tuned"],
        "stop_tokens": [tokenizer.convert_ids_to_tokens(i) for i in stop_ids],
    }
    if version is None:
        data["base_model"] = str(source.ref.model_path)
        return data
    lineage = version.lineage
    data["base_model"] = version.base_model
    if version.method:
        data["tags"].append(version.method)
    data["webtune"] = {
        "model": version.label,
        "created_at": version.created_at,
        "weights_sha256": version.weights_sha256,
        "description": version.description,
        "lineage": {"run_dir": lineage.run_dir, "pipeline": version.pipeline,
                    "stages": {name: stage.fingerprint for name, stage in lineage.stages.items()},
                    "data_sha256": lineage.data},
        "data_counts": {name: stage.counts.model_dump(by_alias=True) for name, stage in lineage.stages.items()
                        if stage.counts is not None},
        "training": training(version),
        "evaluation": evaluation(source),
        "gates": {"passed": version.gates.passed,
                  "checks": [check.model_dump() for check in version.gates.checks]},
    }
    return data


def training(version: Any) -> dict[str, Any]:
    """How the version was trained: backend, method, the train stage's settings and seed, its metrics."""
    stage = version.lineage.stages.get("train")
    recorded = stage.config if stage is not None else None
    # A manifest's config is {"shared": {...}, "stage": {...}} when the stage declares shared settings.
    settings = recorded.get("stage", recorded) if isinstance(recorded, dict) else recorded
    shared = recorded.get("shared", {}) if isinstance(recorded, dict) else {}
    return {"backend": version.backend, "method": version.method, "base_model": version.base_model,
            "seed": shared.get("seed"), "config": settings, "metrics": version.lineage.train_metrics}


def evaluation(source: ExportSource) -> dict[str, Any]:
    """The evaluation of the version: the report's rows (intervals, verdicts) when it is still on disk."""
    version = source.version
    assert version is not None
    report = source.eval_report()
    if report is None:
        return {"metrics": version.lineage.eval_metrics}
    return {"metrics": report.metrics, "deltas": report.deltas,
            "rows": [row.model_dump(exclude_none=True) for row in report.rows],
            "counts": report.counts.model_dump(), "settings": report.settings.model_dump(),
            "summary": report.summary}


def model_card(source: ExportSource, stop_ids: list[int]) -> str:
    """README.md: YAML front matter, then a short human-readable summary and how to run it."""
    data = card_data(source, stop_ids)
    front = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)
    version = source.version
    title = version.label if version is not None else source.label
    lines = [f"---\n{front}---", "", f"# {title}", ""]
    if version is not None:
        lines += [version.description or f"Fine-tuned from {version.base_model} with webtune.", ""]
        rows = data["webtune"]["evaluation"].get("rows") or []
        if rows:
            lines += ["| metric | base | tuned | delta |", "|---|---|---|---|"]
            for row in rows:
                lines.append(f"| {row.get('metric')} | {_fmt(row.get('base'))} | {_fmt(row.get('tuned'))} | "
                             f"{_fmt(row.get('delta'))} |")
            lines.append("")
    lines += ["```python", "from transformers import AutoModelForCausalLM, AutoTokenizer",
              'model = AutoModelForCausalLM.from_pretrained(".")',
              'tokenizer = AutoTokenizer.from_pretrained(".")', "```", ""]
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    return "—" if value is None else (f"{value:.4f}" if isinstance(value, float) else str(value))
