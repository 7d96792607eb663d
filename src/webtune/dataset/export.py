"""Export the splits in other formats: OpenAI JSONL (messages only), ShareGPT, Alpaca, HF, Parquet.

Files land under ``<dataset>/export/<format>/``: ``<split>.jsonl`` for the JSONL formats,
``<split>.parquet`` for Parquet, and a ``DatasetDict.save_to_disk`` directory for ``hf``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from webtune.jsonl import write_jsonl

SHAREGPT_FROM = {"system": "system", "user": "human", "assistant": "gpt"}


def to_openai(example: dict[str, Any]) -> dict[str, Any]:
    """Messages only: the exact shape hosted fine-tuning APIs accept."""
    return {"messages": [{"role": m["role"], "content": m["content"]} for m in example["messages"]]}


def to_sharegpt(example: dict[str, Any]) -> dict[str, Any]:
    """ShareGPT: ``conversations`` of ``from`` (system/human/gpt) and ``value``."""
    return {"conversations": [{"from": SHAREGPT_FROM[m["role"]], "value": m["content"]}
                              for m in example["messages"]]}


def to_alpaca(example: dict[str, Any]) -> dict[str, Any]:
    """Alpaca: the last user turn as ``instruction``, the last answer as ``output``.

    A system message goes to ``system`` and earlier turns to ``history`` (LLaMA-Factory's
    convention), so multi-turn examples survive the round trip.
    """
    messages = example["messages"]
    system = next((m["content"] for m in messages if m["role"] == "system"), None)
    turns = [m for m in messages if m["role"] != "system"]
    pairs = [(turns[i]["content"], turns[i + 1]["content"]) for i in range(0, len(turns) - 1, 2)]
    *history, (instruction, output) = pairs
    row = {"instruction": instruction, "input": "", "output": output}
    if system:
        row["system"] = system
    if history:
        row["history"] = [list(p) for p in history]
    return row


def _flat(example: dict[str, Any]) -> dict[str, Any]:
    """A row for tabular formats: messages plus meta as a JSON string (its keys vary)."""
    return {"messages": [{"role": m["role"], "content": m["content"]} for m in example["messages"]],
            "meta": json.dumps(example.get("meta", {}), ensure_ascii=False, sort_keys=True)}


def export_splits(splits: dict[str, list[dict[str, Any]]], out_dir: Path, formats: list[str]) -> dict[str, list[str]]:
    """Write every split in every format under ``out_dir``; return the files written per format."""
    written: dict[str, list[str]] = {}
    converters = {"openai": to_openai, "sharegpt": to_sharegpt, "alpaca": to_alpaca}
    for fmt in formats:
        target = Path(out_dir) / fmt
        target.mkdir(parents=True, exist_ok=True)
        if fmt in converters:
            for name, rows in splits.items():
                write_jsonl(target / f"{name}.jsonl", [converters[fmt](r) for r in rows])
            written[fmt] = [f"{fmt}/{name}.jsonl" for name in splits]
        elif fmt == "parquet":
            _write_parquet(splits, target)
            written[fmt] = [f"{fmt}/{name}.parquet" for name in splits]
        elif fmt == "hf":
            _write_hf(splits, target)
            written[fmt] = [fmt]
    return written


def _write_parquet(splits: dict[str, list[dict[str, Any]]], target: Path) -> None:
    """One Parquet file per split, written atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from webtune.jsonl import atomic_path

    schema = pa.schema([("messages", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
                        ("meta", pa.string())])
    for name, rows in splits.items():
        table = pa.Table.from_pylist([_flat(r) for r in rows], schema=schema)
        with atomic_path(target / f"{name}.parquet") as tmp:
            pq.write_table(table, tmp)


def _write_hf(splits: dict[str, list[dict[str, Any]]], target: Path) -> None:
    """A ``DatasetDict`` saved with ``save_to_disk`` (load it back with ``load_from_disk``)."""
    import datasets

    features = datasets.Features({
        "messages": [{"role": datasets.Value("string"), "content": datasets.Value("string")}],
        "meta": datasets.Value("string"),
    })
    data = datasets.DatasetDict({
        name: datasets.Dataset.from_list([_flat(r) for r in rows], features=features)
        for name, rows in splits.items()
    })
    enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()  # the stage shows its own progress; keep logs clean
    try:
        data.save_to_disk(str(target))
    finally:
        if enabled:
            datasets.enable_progress_bars()
