"""Token counts with the base model's tokenizer and chat template, in batches.

``apply_chat_template(..., tokenize=True)`` on a batch of conversations counts exactly what the
trainer will see (special tokens, role markers, a default system turn the template inserts).
When a tokenizer has no chat template, messages are counted as ``role: content`` lines.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from webtune.errors import WebtuneError

BATCH = 256
# transformers uses a huge sentinel when a tokenizer does not know its max length.
_NO_LIMIT = 10**8


def _ids(encoded: Any) -> list[list[int]]:
    """Token id lists from whatever apply_chat_template / __call__ returned."""
    if hasattr(encoded, "keys") and "input_ids" in encoded.keys():
        encoded = encoded["input_ids"]
    return [list(x) for x in encoded]


def plain_messages(messages: Sequence[Any]) -> list[dict[str, str]]:
    """Messages as plain dicts (from Message models or dicts)."""
    return [m if isinstance(m, dict) else {"role": m.role, "content": m.content} for m in messages]


class TokenCounter:
    """Counts tokens of chat examples and texts with one tokenizer."""

    def __init__(self, tokenizer: Any):
        self.tokenizer = tokenizer
        self.has_template = bool(getattr(tokenizer, "chat_template", None))

    @classmethod
    def for_model(cls, name_or_path: str, key: str | None = None) -> "TokenCounter":
        """A counter for a base model given by catalog name or path (see webtune.models).

        ``key`` (``base_model``, ``--model``) is where the name came from; errors start with it.
        """
        from webtune.models import load_tokenizer

        try:
            return cls(load_tokenizer(name_or_path))
        except WebtuneError as exc:
            if key is None:
                raise
            raise type(exc)(f"{key}: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - a broken tokenizer directory is a user error
            raise WebtuneError(f"cannot load the tokenizer of {name_or_path!r}: {exc}") from exc

    @property
    def max_length(self) -> int | None:
        """The tokenizer's model_max_length, or None when it does not know one."""
        value = getattr(self.tokenizer, "model_max_length", None)
        return int(value) if value and value < _NO_LIMIT else None

    def count_chats(self, conversations: Iterable[Sequence[Any]]) -> list[int]:
        """Token counts of whole conversations, chat template included, batched."""
        convs = [plain_messages(c) for c in conversations]
        if not self.has_template:
            return self.count_texts(["\n".join(f"{m['role']}: {m['content']}" for m in c) for c in convs])
        counts: list[int] = []
        for start in range(0, len(convs), BATCH):
            batch = convs[start:start + BATCH]
            encoded = self.tokenizer.apply_chat_template(batch, tokenize=True)
            counts.extend(len(ids) for ids in _ids(encoded))
        return counts

    def encode_texts(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of plain texts, without special tokens, batched."""
        out: list[list[int]] = []
        for start in range(0, len(texts), BATCH):
            batch = list(texts[start:start + BATCH])
            if batch:
                out.extend(_ids(self.tokenizer(batch, add_special_tokens=False)))
        return out

    def count_texts(self, texts: Sequence[str]) -> list[int]:
        """Token counts of plain texts."""
        return [len(ids) for ids in self.encode_texts(texts)]

    def decode(self, ids: Sequence[int]) -> str:
        """Text of token ids."""
        return self.tokenizer.decode(list(ids), skip_special_tokens=True)

    def truncate_chat(self, messages: list[dict[str, str]], max_tokens: int) -> tuple[list[dict[str, str]], int] | None:
        """Shorten the last assistant message so the chat fits ``max_tokens``; None if it cannot.

        The prompt is never cut (a cut prompt teaches the wrong task); only the final answer is.
        """
        total = self.count_chats([messages])[0]
        if total <= max_tokens:
            return messages, total
        last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
        ids = self.encode_texts([messages[last]["content"]])[0]
        keep = len(ids) - (total - max_tokens)
        # Re-tokenising decoded text can shift a token or two; shrink until it fits.
        for _ in range(8):
            if keep <= 0:
                return None
            text = self.decode(ids[:keep]).strip()
            if not text:
                return None
            trial = [*messages[:last], {**messages[last], "content": text}, *messages[last + 1:]]
            total = self.count_chats([trial])[0]
            if total <= max_tokens:
                return trial, total
            keep -= max(1, total - max_tokens)
        return None


def approx_tokens(messages: Sequence[Any]) -> int:
    """A tokenizer-free estimate (about 4 characters per token plus 4 per message)."""
    plain = plain_messages(messages)
    return sum(math.ceil(len(m.get("content") or "") / 4) + 4 for m in plain) + 2


def approx_file_tokens(path: str | Path) -> int:
    """`approx_tokens` summed over the examples of a chat JSONL file (at least 1)."""
    from webtune.jsonl import read_jsonl

    return max(1, sum(approx_tokens(obj.get("messages") or []) for obj in read_jsonl(path)))


def distribution(values: Sequence[int]) -> dict[str, float | int]:
    """min, mean, p50, p95, max and total of token counts (zeros when empty)."""
    return histogram_distribution(Counter(values))


def histogram_distribution(histogram: Mapping[int, int]) -> dict[str, float | int]:
    """``distribution`` from a histogram (token count -> how many examples have it).

    A histogram is as large as the number of distinct lengths, not the number of examples,
    which keeps the dataset stage's memory flat however large the corpus.
    """
    items = sorted((value, n) for value, n in histogram.items() if n > 0)
    count = sum(n for _, n in items)
    if not count:
        return {"count": 0, "min": 0, "mean": 0, "p50": 0, "p95": 0, "max": 0, "total": 0}
    total = sum(value * n for value, n in items)

    def pct(q: float) -> int:
        # nearest-rank percentile: a value that occurs in the data
        rank = max(0, math.ceil(q * count) - 1)
        seen = 0
        for value, n in items:
            seen += n
            if rank < seen:
                return value
        return items[-1][0]

    return {"count": count, "min": items[0][0], "mean": round(total / count, 1),
            "p50": pct(0.5), "p95": pct(0.95), "max": items[-1][0], "total": total}
