"""Preference records: reading them in every format webtune meets, checking them, exporting them.

A preference record (`webtune.records.PreferenceExample`) is a prompt with a chosen and a
rejected answer (DPO, ORPO) or with one answer labelled desirable or not (KTO). Three formats
are read (`read_record`):

* webtune's own (``prompt``, ``chosen``/``rejected`` or ``completion``/``desirable``, ``meta``),
  written by the dataset stage to ``preference_{train,validation,test}.jsonl``;
* OpenAI's preference fine-tuning format: ``input.messages``, ``preferred_output`` and
  ``non_preferred_output`` (each a list holding one assistant message);
* TRL's: ``prompt``/``chosen``/``rejected`` (or ``completion``/``label``) as strings or message
  lists; with an implicit prompt, ``chosen`` and ``rejected`` are whole conversations whose
  turns before the last must be the same ("same prompt in both").

Rules (`check_record`): the prompt is a valid conversation ending with a user message; every
answer is a non-empty string; chosen differs from rejected (after trimming); a KTO label is a
boolean. With a tokenizer, the prompt plus each answer must fit ``max_tokens``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from webtune.dataset.validate import MIN_EXAMPLES, ValidationIssue, ValidationReport, check_messages
from webtune.errors import InputError
from webtune.jsonl import iter_jsonl_lines
from webtune.records import Message, PreferenceExample

OPENAI_KEYS = {"input", "preferred_output", "non_preferred_output"}


class PreferenceFormatError(ValueError):
    """A row that is not a preference record in any known format: the field and what is wrong."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


# ---------------------------------------------------------------- reading


def read_record(obj: Any, openai_only: bool = False) -> PreferenceExample:
    """The preference record in ``obj`` (any format of the module docstring).

    ``openai_only``: accept only OpenAI's preference format, with no other keys, as its
    fine-tuning API does. Raises PreferenceFormatError naming the field at fault.
    """
    if not isinstance(obj, dict):
        raise PreferenceFormatError("(line)", f"must be a JSON object, got {type(obj).__name__}")
    if openai_only or "input" in obj or "preferred_output" in obj:
        return _from_openai(obj, strict=openai_only)
    if "prompt" not in obj:
        return _implicit_prompt(obj)
    prompt = _prompt_messages(obj["prompt"], "prompt")
    meta = obj.get("meta") if isinstance(obj.get("meta"), dict) else {}
    if "chosen" in obj or "rejected" in obj:
        return PreferenceExample(prompt=prompt, chosen=_answer(obj.get("chosen"), "chosen"),
                                 rejected=_answer(obj.get("rejected"), "rejected"), meta=meta)
    label = obj.get("desirable", obj.get("label"))
    if "completion" not in obj:
        raise PreferenceFormatError("chosen", "is missing (give chosen and rejected, or completion and label)")
    if not isinstance(label, bool):
        raise PreferenceFormatError("desirable" if "desirable" in obj else "label", "must be true or false")
    return PreferenceExample(prompt=prompt, completion=_answer(obj["completion"], "completion"), desirable=label,
                             meta=meta)


def _from_openai(obj: dict[str, Any], strict: bool) -> PreferenceExample:
    unknown = sorted(set(obj) - OPENAI_KEYS) if strict else []
    if unknown:
        raise PreferenceFormatError(unknown[0], "unknown key (the preference format takes input, preferred_output "
                                    "and non_preferred_output)")
    for key in sorted(OPENAI_KEYS):
        if key not in obj:
            raise PreferenceFormatError(key, "is missing")
    given = obj["input"]
    if not isinstance(given, dict) or "messages" not in given:
        raise PreferenceFormatError("input", "must be an object with messages")
    prompt = _prompt_messages(given["messages"], "input.messages")
    return PreferenceExample(prompt=prompt, chosen=_one_assistant(obj["preferred_output"], "preferred_output"),
                             rejected=_one_assistant(obj["non_preferred_output"], "non_preferred_output"),
                             meta=obj.get("meta") if isinstance(obj.get("meta"), dict) else {})


def _one_assistant(value: Any, field: str) -> str:
    """The content of a list holding exactly one assistant message."""
    if not isinstance(value, list) or len(value) != 1:
        raise PreferenceFormatError(field, "must be a list of exactly one assistant message")
    message = value[0]
    if not isinstance(message, dict) or message.get("role") != "assistant":
        raise PreferenceFormatError(f"{field}[0].role", "must be assistant")
    return _answer(message.get("content"), f"{field}[0].content")


def _implicit_prompt(obj: dict[str, Any]) -> PreferenceExample:
    """TRL's implicit prompt: chosen and rejected are whole conversations sharing their prompt."""
    chosen, rejected = obj.get("chosen"), obj.get("rejected")
    if not isinstance(chosen, list) or not isinstance(rejected, list):
        raise PreferenceFormatError("prompt", "is missing (and chosen/rejected are not whole conversations)")
    for field, conversation in (("chosen", chosen), ("rejected", rejected)):
        if not conversation or not isinstance(conversation[-1], dict) or conversation[-1].get("role") != "assistant":
            raise PreferenceFormatError(field, "must end with an assistant message")
    if chosen[:-1] != rejected[:-1]:
        raise PreferenceFormatError("rejected", "has another prompt than chosen (the turns before the answers "
                                    "must be the same)")
    return PreferenceExample(prompt=_prompt_messages(chosen[:-1], "chosen"),
                             chosen=_answer(chosen[-1].get("content"), "chosen[-1].content"),
                             rejected=_answer(rejected[-1].get("content"), "rejected[-1].content"))


def _prompt_messages(value: Any, field: str) -> list[Message]:
    """A prompt as messages: a list of chat messages, or a string (one user message)."""
    if isinstance(value, str):
        value = [{"role": "user", "content": value}]
    if not isinstance(value, list) or not value:
        raise PreferenceFormatError(field, "must be a non-empty list of messages")
    last = value[-1]
    if isinstance(last, dict) and last.get("role") in ("system", "assistant"):
        raise PreferenceFormatError(f"{field}[{len(value) - 1}].role", "the prompt must end with a user message")
    # the rules of a chat example, on the prompt followed by an answer
    problems = [(f, m) for f, m in check_messages(value + [{"role": "assistant", "content": "x"}])
                if f != "messages"]
    if problems:
        where, message = problems[0]
        raise PreferenceFormatError(f"{field}{where.removeprefix('messages')}", message)
    return [Message(role=m["role"], content=m["content"]) for m in value]


def _answer(value: Any, field: str) -> str:
    """An answer: a string, or a list of one assistant message (TRL's conversational form)."""
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
        if value[0].get("role") != "assistant":
            raise PreferenceFormatError(f"{field}[0].role", "must be assistant")
        value = value[0].get("content")
    if value is None:
        raise PreferenceFormatError(field, "is missing")
    if not isinstance(value, str):
        raise PreferenceFormatError(field, f"must be a string, got {type(value).__name__}")
    if not value.strip():
        raise PreferenceFormatError(field, "is empty")
    return value


# ---------------------------------------------------------------- checking


def check_record(record: PreferenceExample) -> tuple[str, str] | None:
    """The (reason, detail) for which a well-formed record is still unusable, or None."""
    if record.paired and record.chosen.strip() == record.rejected.strip():
        return "chosen_equals_rejected", "chosen and rejected are the same answer"
    return None


def conversations(record: PreferenceExample) -> list[list[dict[str, str]]]:
    """The whole conversations a record trains on: prompt + chosen and prompt + rejected (or + completion)."""
    prompt = [m.model_dump() for m in record.prompt]
    answers = [record.chosen, record.rejected] if record.paired else [record.completion]
    return [prompt + [{"role": "assistant", "content": a}] for a in answers if a is not None]


def record_tokens(counter: Any, records: list[PreferenceExample]) -> list[int]:
    """Per record, the tokens of its longest conversation (chat template included)."""
    flat, owners = [], []
    for n, record in enumerate(records):
        for conversation in conversations(record):
            flat.append(conversation)
            owners.append(n)
    counts = counter.count_chats(flat) if flat else []
    out = [0] * len(records)
    for owner, count in zip(owners, counts):
        out[owner] = max(out[owner], count)
    return out


def validate_preference_rows(rows: Iterable[tuple[int, Any]], *, tokenizer: Any = None, max_tokens: int | None = None,
                             min_examples: int = MIN_EXAMPLES, openai_only: bool = False,
                             report: ValidationReport | None = None) -> ValidationReport:
    """Validate (line, object) rows of preference records; every error names its line and field."""
    from webtune.dataset.tokens import TokenCounter, approx_tokens, distribution

    report = report or ValidationReport()
    valid: list[tuple[int, PreferenceExample]] = []
    for line_no, obj in rows:
        report.n_examples += 1
        try:
            record = read_record(obj, openai_only=openai_only)
        except PreferenceFormatError as exc:
            report.errors.append(ValidationIssue(line_no, exc.field, exc.message))
            continue
        problem = check_record(record)
        if problem is not None:
            report.errors.append(ValidationIssue(line_no, "non_preferred_output" if openai_only else "rejected",
                                                 problem[1]))
            continue
        valid.append((line_no, record))
    if tokenizer is not None:
        counter = tokenizer if isinstance(tokenizer, TokenCounter) else TokenCounter(tokenizer)
        counts = record_tokens(counter, [r for _, r in valid])
    else:
        counts = [max(approx_tokens(c) for c in conversations(r)) for _, r in valid]
    if max_tokens is not None:
        for (line_no, _), n in zip(valid, counts):
            if n > max_tokens:
                report.errors.append(ValidationIssue(line_no, "(record)", f"{n} tokens, over the limit of {max_tokens}"))
    if report.n_examples < min_examples:
        report.errors.append(ValidationIssue(0, "(file)", f"has {report.n_examples} examples; at least "
                                             f"{min_examples} are needed"))
    report.token_counts = counts
    report.stats = {"n_examples": report.n_examples, "n_valid": len(valid), "tokens": distribution(counts),
                    "tokens_estimated": tokenizer is None,
                    "paired": sum(1 for _, r in valid if r.paired)}
    report.errors.sort(key=lambda e: e.line)
    return report


def validate_preference_file(path: str | Path, tokenizer: Any = None, max_tokens: int | None = None, *,
                             min_examples: int = MIN_EXAMPLES, openai_only: bool = False) -> ValidationReport:
    """Validate a preference JSONL file (`validate_preference_rows`); unreadable lines are errors too."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    report = ValidationReport(path=str(path))
    rows = []
    try:
        for line_no, obj, error in iter_jsonl_lines(path):
            if error is not None:
                report.errors.append(ValidationIssue(line_no, "(line)", error))
                report.n_examples += 1
                continue
            rows.append((line_no, obj))
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    return validate_preference_rows(rows, tokenizer=tokenizer, max_tokens=max_tokens, min_examples=min_examples,
                                    openai_only=openai_only, report=report)


def is_preference_file(path: str | Path) -> bool:
    """Whether a JSONL file holds preference records: its first JSON object has no ``messages`` but
    preference keys (``input``/``preferred_output``, or ``prompt``/``chosen``/``completion``)."""
    for _, obj, error in iter_jsonl_lines(Path(path)):
        if error is None and isinstance(obj, dict):
            return "messages" not in obj and bool({"input", "preferred_output", "prompt", "chosen", "completion"}
                                                  & set(obj))
    return False


# ---------------------------------------------------------------- export


def to_openai_preference(row: dict[str, Any]) -> dict[str, Any] | None:
    """A stored record in OpenAI's preference format; None for a KTO record (OpenAI has no KTO)."""
    record = PreferenceExample.model_validate(row)
    return record.to_openai() if record.paired else None


def to_trl(row: dict[str, Any]) -> dict[str, Any]:
    """A stored record as TRL reads it, conversational: prompt/chosen/rejected, or prompt/completion/label."""
    record = PreferenceExample.model_validate(row)
    prompt = [m.model_dump() for m in record.prompt]
    if record.paired:
        return {"prompt": prompt, "chosen": [{"role": "assistant", "content": record.chosen}],
                "rejected": [{"role": "assistant", "content": record.rejected}]}
    return {"prompt": prompt, "completion": [{"role": "assistant", "content": record.completion}],
            "label": bool(record.desirable)}
