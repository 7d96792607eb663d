"""The mixing generator: draws rows of a general-purpose chat set into a split.

It runs after the split, once per split the set goes into: ``MixBatch`` carries the split's
name and the target (examples or tokens) worked out from the domain part of that split (see
webtune.dataset.mixing). Rows are drawn in a seeded order until the target is reached; every
drawn row is yielded, kept (``meta.split`` set) or rejected.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from webtune.dataset import mixing
from webtune.dataset.config import MixSource
from webtune.dataset.generators import GENERATORS
from webtune.dataset.generators.base import Candidate, GeneratorEnv, drop, make_reject
from webtune.dataset.validate import check_messages

ROWS_PER_COUNT = 64  # rows tokenised at a time


@dataclass
class MixBatch:
    """What one draw needs: the split, its target, the seed of the shuffle, the token limit."""

    into: str
    target: float
    seed: int
    max_tokens: int | None


def general_candidate(mix: MixSource, row_no: int, row: Any) -> Candidate:
    """A candidate from one general-set row (rejected if it is not a valid chat example)."""
    meta = {"source_id": f"{mix.label()}:{row_no}", "template": f"general:{mix.label()}", "generator": "mix",
            "cluster_id": None, "source": f"general:{mix.label()}", "row": row_no}
    try:
        if isinstance(row, Exception):
            raise mixing.RowError(str(row))
        messages = mixing.to_messages(row)
    except mixing.RowError as exc:
        return Candidate(None, meta, reject=make_reject("mix", "invalid_row", meta, value=str(exc)))
    problems = check_messages(messages)
    if problems:
        return drop(Candidate(None, meta), "mix", "invalid_example",
                    value="; ".join(f"{f}: {m}" for f, m in problems))
    return Candidate(messages, meta)


@GENERATORS.register("mix")
class MixGenerator:
    """Rows of one general set, drawn until its share of a split is reached."""

    Config = MixSource

    def __init__(self, config: MixSource):
        self.config = config

    def generate(self, batch: MixBatch, env: GeneratorEnv) -> Iterator[Candidate]:
        """Every drawn row in order; stops at the row that would overshoot the target most."""
        mix = self.config
        by_tokens = mix.by == "tokens"
        rows = mixing.shuffled_rows(mix.path, batch.seed, mix.hf_split)
        total = 0.0
        for start in range(0, len(rows), ROWS_PER_COUNT):
            chunk = [general_candidate(mix, n, row) for n, row in rows[start:start + ROWS_PER_COUNT]]
            live = [c for c in chunk if c.reject is None]
            for cand, n in zip(live, env.counter.count_chats([c.messages for c in live])):
                cand.tokens = n
            for cand in chunk:
                if cand.reject is None:
                    size = cand.tokens if by_tokens else 1
                    # stop at the example that would take us further from the target than we are
                    if abs(total + size - batch.target) >= abs(total - batch.target):
                        return
                if cand.reject is None and batch.max_tokens is not None and cand.tokens > batch.max_tokens:
                    drop(cand, "mix", "over_max_tokens", value=cand.tokens, threshold=batch.max_tokens)
                elif cand.reject is None:
                    cand.meta["split"] = batch.into
                    total += cand.tokens if by_tokens else 1
                yield cand
