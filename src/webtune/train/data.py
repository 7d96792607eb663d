"""Reading the dataset stage's splits and tokenizing them for training.

Every training example is kept or rejected with a reason (bad JSON, not an Example, no
assistant reply, nothing of the reply left within ``max_seq_len``). Examples longer than
``max_seq_len`` whose reply starts inside the limit are cut to it and kept (counted as
``truncated``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, TypeVar

from pydantic import ValidationError

from webtune.chat_format import IGNORE_INDEX, encode_chat
from webtune.errors import InputError
from webtune.jsonl import iter_jsonl_lines
from webtune.records import Example, Reject, SourceRef, content_id
from webtune.train.packing import Encoded

T = TypeVar("T")


@dataclass
class SplitCounts:
    """What happened to a split's records: read, cut to length, rejected."""

    seen: int = 0
    truncated: int = 0
    rejects: list[Reject] = field(default_factory=list)


@dataclass
class SplitData(SplitCounts):
    """The tokenized examples of one split and what happened to the others."""

    examples: list[Encoded] = field(default_factory=list)

    @property
    def tokens(self) -> int:
        return sum(len(e) for e in self.examples)

    @property
    def label_tokens(self) -> int:
        return sum(sum(1 for x in e.labels[1:] if x != IGNORE_INDEX) for e in self.examples)


def split_reject(path: Path, line: int, reason: str, obj: Any, value: Any = None,
                 threshold: Any = None, step: str = "tokenize") -> Reject:
    """A training split's line dropped by ``step``, named by its source id (or content id) and line."""
    meta = obj.get("meta", {}) if isinstance(obj, dict) else {}
    ident = meta.get("source_id") if isinstance(meta, dict) else None
    return Reject(stage="train", step=step, reason=reason,
                  id=ident or (content_id(obj) if obj is not None else None), value=value,
                  threshold=threshold, source=SourceRef(kind="file", uri=str(path), line=line),
                  record=obj)


def tokenize_split(path: Path, tokenizer: Any, max_len: int, chat_template: str | None = None,
                   required: bool = True) -> SplitData:
    """Tokenize every example of a JSONL split with the chat template and assistant-only labels."""
    path = Path(path)
    out = SplitData()
    if not path.exists():
        if required:
            raise InputError(f"{path}: file not found (run `webtune dataset` first)")
        return out
    for line_no, obj, example in validated_lines(path, Example, "invalid_example", out):
        enc = encode_chat(tokenizer, example.messages, chat_template=chat_template)
        _keep_or_reject(out, enc, path, line_no, obj, max_len)
    return out


def validated_lines(path: Path, model: type[T], invalid_reason: str, out: SplitCounts,
                    step: str = "tokenize") -> Iterator[tuple[int, Any, T]]:
    """(line, raw object, record) for each line of a JSONL split that is valid ``model`` JSON.

    Every line counts in ``out.seen``; one that is not JSON, or not a valid ``model``, goes to
    ``out.rejects`` (``invalid_json`` / ``invalid_reason``, naming the field). A file that is not
    UTF-8 is an InputError naming it.
    """
    try:
        for line_no, obj, error in iter_jsonl_lines(path):
            out.seen += 1
            if error:
                out.rejects.append(split_reject(path, line_no, "invalid_json", None, value=error, step=step))
                continue
            try:
                record = model.model_validate(obj)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                out.rejects.append(split_reject(path, line_no, invalid_reason, obj,
                                                value=f"{where}: {first['msg']}", step=step))
                continue
            yield line_no, obj, record
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _keep_or_reject(out: SplitData, enc: dict[str, list[int]], path: Path, line_no: int,
                    obj: Any, max_len: int) -> None:
    """Keep the encoded example (cut to ``max_len``) or record why not."""
    labels = enc["labels"]
    if all(x == IGNORE_INDEX for x in labels[1:]):
        out.rejects.append(split_reject(path, line_no, "no_assistant_tokens", obj, value=0))
        return
    n = len(enc["input_ids"])
    if n > max_len:
        if all(x == IGNORE_INDEX for x in labels[1:max_len]):
            out.rejects.append(split_reject(path, line_no, "too_long", obj, value=n, threshold=max_len))
            return
        out.truncated += 1
    out.examples.append(Encoded(enc["input_ids"][:max_len], labels[:max_len]))


def save_tokenized(path: Path, train: list[Encoded], validation: list[Encoded], pad_id: int) -> None:
    """Write the tokenized splits for the training processes (one JSON file, atomically)."""
    from webtune.jsonl import atomic_write_text
    import json

    data = {"pad_id": pad_id,
            "train": [[e.input_ids, e.labels] for e in train],
            "validation": [[e.input_ids, e.labels] for e in validation]}
    atomic_write_text(path, json.dumps(data, separators=(",", ":")))


def load_tokenized(path: Path) -> tuple[list[Encoded], list[Encoded], int]:
    """The splits written by `save_tokenized`: (train, validation, pad id)."""
    import json

    data = json.loads(Path(path).read_text(encoding="utf-8"))
    train = [Encoded(ids, labels) for ids, labels in data["train"]]
    validation = [Encoded(ids, labels) for ids, labels in data["validation"]]
    return train, validation, int(data["pad_id"])
