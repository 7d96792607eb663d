"""Reading the dataset stage's preference splits and tokenizing them for preference training.

The dataset stage writes `webtune.records.PreferenceExample` lines to
``preference_{train,validation,test}.jsonl``. Each answer is rendered after its prompt with the
chat template by `webtune.chat_format.encode_chat`, the same encoding as supervised training,
so the log-probability of an answer is the summed log-probability of its assistant tokens.

* DPO and ORPO take pairs (``chosen`` and ``rejected``); a record without both is rejected
  (``not_a_pair``), and so is a pair whose answers are the same (``same_answers``).
* KTO takes answers labelled ``desirable`` (``completion``); a pair gives one desirable and one
  undesirable answer. KTO's KL estimate needs each prompt with an answer to another prompt:
  answer i's partner is the answer of record i+1 (in file order, wrapping round), fixed here so
  that the reference's log-probabilities can be computed once before training.

Every record is kept or rejected with a reason (bad JSON, not a PreferenceExample, nothing of
an answer within ``max_seq_len``); answers cut at ``max_seq_len`` are kept (``truncated``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from webtune.chat_format import IGNORE_INDEX, encode_chat
from webtune.errors import InputError
from webtune.records import Message, PreferenceExample, Reject
from webtune.train.data import SplitCounts, split_reject, validated_lines
from webtune.train.packing import Encoded

SPLIT_FILES = {"train": "preference_train.jsonl", "validation": "preference_validation.jsonl",
               "test": "preference_test.jsonl"}
PAIRED = ("dpo", "orpo")
STEP = "tokenize_preference"  # the step that rejects of preference splits name


@dataclass(frozen=True)
class PrefItem:
    """One training item: a pair (``sequences`` = [chosen, rejected]) or one labelled answer
    (``sequences`` = [answer, its KL partner], ``desirable`` set) for KTO."""

    sequences: tuple[Encoded, ...]
    desirable: bool | None = None


@dataclass
class PrefSplit(SplitCounts):
    """The tokenized items of one split and what happened to the other records."""

    items: list[PrefItem] = field(default_factory=list)

    @property
    def tokens(self) -> int:
        return sum(len(s) for item in self.items for s in item.sequences)


def _reject(path: Path, line: int, reason: str, obj: Any, value: Any = None,
            threshold: Any = None) -> Reject:
    return split_reject(path, line, reason, obj, value, threshold, step=STEP)


def encode_answer(tokenizer: Any, prompt: list[Message], answer: str, max_len: int,
                  chat_template: str | None = None) -> tuple[Encoded | None, bool]:
    """The prompt and ``answer`` as training tokens (labels on the answer), cut to ``max_len``;
    None when nothing of the answer is left. The flag says whether it was cut."""
    messages = [*prompt, Message(role="assistant", content=answer)]
    enc = encode_chat(tokenizer, messages, chat_template=chat_template)
    ids, labels = enc["input_ids"], enc["labels"]
    if all(x == IGNORE_INDEX for x in labels[1:max_len]):
        return None, False
    return Encoded(ids[:max_len], labels[:max_len]), len(ids) > max_len


def _answers(example: PreferenceExample, objective: str) -> list[tuple[str, bool | None]] | str:
    """The (answer, desirable) pairs to encode for ``objective``, or a reject reason."""
    if objective in PAIRED:
        if not example.paired:
            return "not_a_pair"
        if example.chosen == example.rejected:
            return "same_answers"
        return [(example.chosen, None), (example.rejected, None)]  # type: ignore[list-item]
    if example.paired:
        return [(example.chosen, True), (example.rejected, False)]  # type: ignore[list-item]
    if example.completion is None or example.desirable is None:
        return "no_answer"
    return [(example.completion, example.desirable)]


def tokenize_preference_split(path: Path, tokenizer: Any, max_len: int, objective: str,
                              chat_template: str | None = None, required: bool = True) -> PrefSplit:
    """Tokenize a preference JSONL split for ``objective`` (dpo, orpo or kto); see the module doc."""
    path = Path(path)
    out = PrefSplit()
    if not path.exists():
        if required:
            raise InputError(f"{path}: file not found (the dataset stage writes it when it has a "
                             "preference generator; see docs/pipeline.md)")
        return out
    kto: list[tuple[list[Message], Encoded, bool, str]] = []
    for line_no, obj, example in validated_lines(path, PreferenceExample, "invalid_preference_example", out,
                                                 step=STEP):
        answers = _answers(example, objective)
        if isinstance(answers, str):
            out.rejects.append(_reject(path, line_no, answers, obj))
            continue
        encoded = [encode_answer(tokenizer, example.prompt, text, max_len, chat_template)
                   for text, _ in answers]
        if any(enc is None for enc, _ in encoded):
            out.rejects.append(_reject(path, line_no, "too_long", obj, threshold=max_len))
            continue
        out.truncated += sum(1 for _, cut in encoded if cut)
        if objective in PAIRED:
            out.items.append(PrefItem(tuple(enc for enc, _ in encoded)))  # type: ignore[misc]
        else:
            kto += [(example.prompt, enc, bool(desirable), text)  # type: ignore[misc]
                    for (enc, _), (text, desirable) in zip(encoded, answers)]
    if kto:
        out.items = _with_kl_partners(kto, tokenizer, max_len, chat_template)
    return out


def _with_kl_partners(answers: list[tuple[list[Message], Encoded, bool, str]], tokenizer: Any,
                      max_len: int, chat_template: str | None) -> list[PrefItem]:
    """KTO items: each answer with its prompt followed by the next answer's text (KL estimate)."""
    items = []
    for i, (prompt, enc, desirable, _) in enumerate(answers):
        partner_text = answers[(i + 1) % len(answers)][3]
        partner, _ = encode_answer(tokenizer, prompt, partner_text, max_len, chat_template)
        items.append(PrefItem((enc, partner or enc), desirable))
    return items


def save_preference(path: Path, objective: str, train: list[PrefItem], validation: list[PrefItem],
                    pad_id: int) -> None:
    """Write the tokenized preference splits for the training processes (one JSON file, atomically)."""
    from webtune.jsonl import atomic_write_text

    def rows(items: list[PrefItem]) -> list[dict[str, Any]]:
        return [{"seqs": [[s.input_ids, s.labels] for s in item.sequences], "desirable": item.desirable}
                for item in items]

    data = {"objective": objective, "pad_id": pad_id, "train": rows(train), "validation": rows(validation)}
    atomic_write_text(path, json.dumps(data, separators=(",", ":")))


def load_preference(path: Path) -> tuple[list[PrefItem], list[PrefItem], int]:
    """The splits written by `save_preference`: (train, validation, pad id)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))

    def items(rows: list[dict[str, Any]]) -> list[PrefItem]:
        return [PrefItem(tuple(Encoded(ids, labels) for ids, labels in row["seqs"]), row["desirable"])
                for row in rows]

    return items(data["train"]), items(data["validation"]), int(data["pad_id"])
