"""Mixing general-purpose chat sets into the domain set, by a ratio of examples or tokens.

A general set is a JSONL file, a Parquet file, or a Hugging Face dataset saved to disk. Rows may
be OpenAI chat (``messages``), ShareGPT (``conversations`` with ``from``/``value``) or Alpaca
(``instruction``, ``input``, ``output``, optional ``system``). Rows are shuffled with the seed and
drawn in that order until the set's share of the split is reached:

    general / (domain + all general) = ratio     (in examples or in tokens)

so the number drawn is ``ratio / (1 - sum of ratios) × domain size``; by tokens, drawing stops
at the example that brings the total closest to the target.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Iterator

from webtune.errors import InputError
from webtune.jsonl import iter_jsonl_lines

SHAREGPT_ROLES = {"system": "system", "human": "user", "user": "user", "gpt": "assistant",
                  "assistant": "assistant", "model": "assistant"}


class RowError(Exception):
    """A general-set row that is not a chat example in any known shape."""


def to_messages(row: Any) -> list[dict[str, str]]:
    """Messages of a row in OpenAI, ShareGPT or Alpaca shape; RowError otherwise."""
    if not isinstance(row, dict):
        raise RowError(f"row is a {type(row).__name__}, not an object")
    if "messages" in row:
        msgs = row["messages"]
        if not isinstance(msgs, list):
            raise RowError("messages is not a list")
        return [{"role": m.get("role"), "content": m.get("content")} if isinstance(m, dict) else m for m in msgs]
    if "conversations" in row:
        out = []
        for turn in row["conversations"] or []:
            if not isinstance(turn, dict) or turn.get("from") not in SHAREGPT_ROLES:
                raise RowError(f"unknown ShareGPT turn {turn!r:.80}")
            out.append({"role": SHAREGPT_ROLES[turn["from"]], "content": turn.get("value")})
        return out
    if "instruction" in row and "output" in row:
        prompt = row["instruction"] or ""
        if row.get("input"):
            prompt = f"{prompt}\n\n{row['input']}"
        out = [{"role": "system", "content": row["system"]}] if row.get("system") else []
        for user, assistant in row.get("history") or []:
            out += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
        return out + [{"role": "user", "content": prompt}, {"role": "assistant", "content": row["output"]}]
    raise RowError("no messages, conversations or instruction/output keys")


def iter_rows(path: Path, hf_split: str = "train") -> Iterator[tuple[int, Any]]:
    """(row number, row) of a JSONL file, a Parquet file or a saved HF dataset directory."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: general set not found")
    if path.is_dir():
        yield from enumerate(_load_hf(path, hf_split), start=1)
    elif path.suffix == ".parquet":
        import pyarrow.parquet as pq

        yield from enumerate(pq.read_table(path).to_pylist(), start=1)
    else:
        for line_no, obj, error in iter_jsonl_lines(path):
            yield line_no, (RowError(error) if error is not None else obj)


def _load_hf(path: Path, split: str) -> list[dict[str, Any]]:
    """Rows of a dataset saved with ``save_to_disk`` (a Dataset or a DatasetDict)."""
    from datasets import DatasetDict, load_from_disk

    try:
        data = load_from_disk(str(path))
    except Exception as exc:  # noqa: BLE001 - any failure here means "not a saved dataset"
        raise InputError(f"{path}: not a Hugging Face dataset saved with save_to_disk ({exc})") from None
    if isinstance(data, DatasetDict):
        if split not in data:
            raise InputError(f"{path}: no split {split!r}; it has: {', '.join(data)}")
        data = data[split]
    return data.to_list()


def shuffled_rows(path: Path, seed: int, hf_split: str = "train") -> list[tuple[int, Any]]:
    """All rows of a general set in a seeded random order."""
    rows = list(iter_rows(path, hf_split))
    random.Random(seed).shuffle(rows)
    return rows


def general_targets(ratios: list[float], domain_amount: float) -> list[float]:
    """How much (examples or tokens) each general set should contribute to a split."""
    rest = 1.0 - sum(ratios)
    if rest <= 0:
        raise InputError("dataset.mix: the ratios of the general sets must sum to less than 1")
    return [r / rest * domain_amount for r in ratios]
