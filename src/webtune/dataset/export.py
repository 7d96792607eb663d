"""Export the splits in other formats: OpenAI JSONL (messages only), ShareGPT, Alpaca, TRL, HF, Parquet.

Files land under ``<dataset>/export/<format>/``: ``<split>.jsonl`` for the JSONL formats,
``<split>.parquet`` for Parquet, and a ``DatasetDict.save_to_disk`` directory for ``hf``.
Preference splits (`export_preferences`) go to ``openai/preference_<split>.jsonl`` in OpenAI's
preference format (pairs only: OpenAI has no KTO) and ``trl/preference_<split>.jsonl`` as TRL
reads them (`webtune.dataset.preference`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from webtune.jsonl import write_jsonl

PARQUET_ROWS = 4096  # rows per Parquet row group (and per batch held in memory)
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


def read_rows(path: Path) -> Iterator[dict[str, Any]]:
    """The examples of a split file, one at a time."""
    with open(path, "r", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def export_splits(splits: dict[str, Path], out_dir: Path, formats: list[str]) -> dict[str, list[str]]:
    """Write every split (a chat JSONL file) in every format under ``out_dir``; return the files per format.

    Rows are streamed from the split files, so a large set is never held in memory.
    """
    written: dict[str, list[str]] = {}
    # TRL's SFTTrainer reads conversational rows as ``messages``: the same shape as OpenAI's
    converters = {"openai": to_openai, "sharegpt": to_sharegpt, "alpaca": to_alpaca, "trl": to_openai}
    for fmt in formats:
        target = Path(out_dir) / fmt
        target.mkdir(parents=True, exist_ok=True)
        if fmt in converters:
            for name, path in splits.items():
                write_jsonl(target / f"{name}.jsonl", (converters[fmt](r) for r in read_rows(path)))
            written[fmt] = [f"{fmt}/{name}.jsonl" for name in splits]
        elif fmt == "parquet":
            _write_parquet(splits, target)
            written[fmt] = [f"{fmt}/{name}.parquet" for name in splits]
        elif fmt == "hf":
            _write_hf(splits, target)
            written[fmt] = [fmt]
    return written


PREFERENCE_FORMATS = ("openai", "trl")


def export_preferences(splits: dict[str, Path], out_dir: Path, formats: list[str]) -> dict[str, list[str]]:
    """Write the preference splits in the formats that have a preference shape (openai, trl).

    Streams like `export_splits`; KTO records have no OpenAI form and are left out of that one.
    """
    from webtune.dataset.preference import to_openai_preference, to_trl

    converters = {"openai": to_openai_preference, "trl": to_trl}
    written: dict[str, list[str]] = {}
    for fmt in (f for f in formats if f in PREFERENCE_FORMATS):
        target = Path(out_dir) / fmt
        target.mkdir(parents=True, exist_ok=True)
        for name, path in splits.items():
            rows = (converters[fmt](r) for r in read_rows(path))
            write_jsonl(target / f"preference_{name}.jsonl", (r for r in rows if r is not None))
        written[fmt] = [f"{fmt}/preference_{name}.jsonl" for name in splits]
    return written


def _batches(path: Path, size: int) -> Iterator[list[dict[str, Any]]]:
    """Flat rows of a split file in lists of at most ``size``."""
    batch: list[dict[str, Any]] = []
    for row in read_rows(path):
        batch.append(_flat(row))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _write_parquet(splits: dict[str, Path], target: Path) -> None:
    """One Parquet file per split, written atomically, a row group per PARQUET_ROWS rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from webtune.jsonl import atomic_path

    schema = pa.schema([("messages", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
                        ("meta", pa.string())])
    for name, path in splits.items():
        with atomic_path(target / f"{name}.parquet") as tmp:
            with pq.ParquetWriter(tmp, schema) as writer:
                wrote = False
                for batch in _batches(path, PARQUET_ROWS):
                    writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                    wrote = True
                if not wrote:
                    writer.write_table(pa.Table.from_pylist([], schema=schema))


def _flat_rows(path: str):
    """Generator for ``Dataset.from_generator``: the flat rows of one split file."""
    for row in read_rows(Path(path)):
        yield _flat(row)


def _write_hf(splits: dict[str, Path], target: Path) -> None:
    """A ``DatasetDict`` saved with ``save_to_disk`` (load it back with ``load_from_disk``)."""
    import tempfile

    import datasets

    features = datasets.Features({
        "messages": [{"role": datasets.Value("string"), "content": datasets.Value("string")}],
        "meta": datasets.Value("string"),
    })
    enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()  # the stage shows its own progress; keep logs clean
    try:
        # rows go through an Arrow cache on disk (a throwaway one), not through memory
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".hf-cache-") as cache:
            data = datasets.DatasetDict({
                name: datasets.Dataset.from_generator(_flat_rows, features=features, cache_dir=cache,
                                                      gen_kwargs={"path": str(path)})
                for name, path in splits.items()
            })
            data.save_to_disk(str(target))
    finally:
        if enabled:
            datasets.enable_progress_bars()
