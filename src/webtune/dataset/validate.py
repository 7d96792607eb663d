"""Validate chat training files as strictly as hosted fine-tuning APIs do, and estimate their cost.

    from webtune.dataset.validate import validate_file, estimate_cost
    report = validate_file("train.jsonl", tokenizer=tok, max_tokens=4096)
    if not report.ok:
        for issue in report.errors: print(issue.line, issue.field, issue.message)
    estimate_cost(report.stats["tokens"]["total"], epochs=3, model="gpt-4.1-mini-2025-04-14")

Rules (errors): every line is a JSON object with a non-empty ``messages`` list; each message is
an object with a ``role`` of system/user/assistant and a non-empty string ``content`` and no
other keys than role, content, name (a string) and weight (0 or 1, on assistant messages); a system message may only come first; the
first other message is from the user; no two consecutive messages share a role; at least one
assistant message; at least ``min_examples`` (10) examples; with ``max_tokens``, no example is
longer. Warnings: fewer than ``warn_examples`` (50), a conversation that does not end with the
assistant, exact duplicate examples, keys other than messages and meta.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from webtune.dataset.tokens import TokenCounter, approx_tokens, distribution
from webtune.errors import InputError
from webtune.jsonl import iter_jsonl_lines
from webtune.records import canonical_json

ROLES = ("system", "user", "assistant")
MESSAGE_KEYS = {"role", "content", "name", "weight"}
EXAMPLE_KEYS = {"messages", "meta"}
MIN_EXAMPLES = 10
WARN_EXAMPLES = 50

# USD per 1M training tokens: list prices at the time of writing; check them against the
# provider's current price page before relying on an estimate.
DEFAULT_PRICES: dict[str, float] = {
    "gpt-4o-mini-2024-07-18": 3.00,
    "gpt-4o-2024-08-06": 25.00,
    "gpt-4.1-nano-2025-04-14": 1.50,
    "gpt-4.1-mini-2025-04-14": 5.00,
    "gpt-4.1-2025-04-14": 25.00,
    "gpt-3.5-turbo-0125": 8.00,
}


@dataclass
class ValidationIssue:
    """One problem: the 1-based line in the file (0: the file as a whole), the field and what is wrong."""

    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "file"
        return f"{where}: {self.field}: {self.message}"


@dataclass
class ValidationReport:
    """The outcome of validating a set of examples."""

    path: str | None = None
    n_examples: int = 0
    errors: list[ValidationIssue] = field(default_factory=list)
    warnings: list[ValidationIssue] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    token_counts: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when there are no errors (warnings allowed)."""
        return not self.errors

    def to_json(self) -> dict[str, Any]:
        """A JSON-able summary."""
        return {"path": self.path, "ok": self.ok, "n_examples": self.n_examples,
                "errors": [vars(e) for e in self.errors], "warnings": [vars(w) for w in self.warnings],
                "stats": self.stats}


def check_messages(messages: Any) -> list[tuple[str, str]]:
    """The (field, message) errors of one example's ``messages`` value."""
    if not isinstance(messages, list):
        return [("messages", f"must be a list, got {type(messages).__name__}")]
    if not messages:
        return [("messages", "is empty")]
    errors: list[tuple[str, str]] = []
    roles: list[str | None] = []
    for i, msg in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(msg, dict):
            errors.append((where, f"must be an object, got {type(msg).__name__}"))
            roles.append(None)
            continue
        role, content = msg.get("role"), msg.get("content")
        roles.append(role if role in ROLES else None)
        if role not in ROLES:
            errors.append((f"{where}.role", f"must be one of {', '.join(ROLES)}, got {role!r}"))
        if "content" not in msg:
            errors.append((f"{where}.content", "is missing"))
        elif not isinstance(content, str):
            errors.append((f"{where}.content", f"must be a string, got {type(content).__name__}"))
        elif not content.strip():
            errors.append((f"{where}.content", "is empty"))
        for key in sorted(set(msg) - MESSAGE_KEYS):
            errors.append((f"{where}.{key}", "unknown key"))
        if "weight" in msg and (role != "assistant" or msg["weight"] not in (0, 1) or isinstance(msg["weight"], bool)):
            errors.append((f"{where}.weight", "is only allowed on assistant messages, as 0 or 1"))
        if "name" in msg and not isinstance(msg["name"], str):
            errors.append((f"{where}.name", "must be a string"))
    errors.extend(role_order_errors(roles))
    return errors


def role_order_errors(roles: list[str | None]) -> list[tuple[str, str]]:
    """(field, message) errors in the order of roles (unknown roles, given as None, are skipped)."""
    errors = []
    for i, role in enumerate(roles):
        if role == "system" and i > 0:
            errors.append((f"messages[{i}].role", "a system message may only come first"))
        if i > 0 and role is not None and role == roles[i - 1] and role != "system":
            errors.append((f"messages[{i}].role", f"two {role} messages in a row"))
    rest = [(i, r) for i, r in enumerate(roles) if r != "system"]
    if rest and rest[0][1] == "assistant":
        errors.append((f"messages[{rest[0][0]}].role", "the conversation must start with a user message"))
    if "assistant" not in roles:
        errors.append(("messages", "has no assistant message"))
    return errors


def _parse_lines(path: Path, report: ValidationReport) -> list[tuple[int, Any]]:
    """(line, object) for each non-blank line; bad JSON and non-objects become errors."""
    rows = []
    try:
        for line_no, obj, error in iter_jsonl_lines(path):
            if error is not None:
                report.errors.append(ValidationIssue(line_no, "(line)", error))
                continue
            rows.append((line_no, obj))
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    return rows


def validate_rows(
    rows: Iterable[tuple[int, Any]],
    *,
    tokenizer: Any = None,
    max_tokens: int | None = None,
    min_examples: int = MIN_EXAMPLES,
    warn_examples: int = WARN_EXAMPLES,
    report: ValidationReport | None = None,
) -> ValidationReport:
    """Validate (line, example object) pairs; see the module docstring for the rules."""
    report = report or ValidationReport()
    valid: list[tuple[int, list[dict[str, Any]]]] = []
    seen: dict[str, int] = {}
    for line_no, obj in rows:
        report.n_examples += 1
        if not isinstance(obj, dict):
            report.errors.append(ValidationIssue(line_no, "(line)", f"must be a JSON object, got {type(obj).__name__}"))
            continue
        if "messages" not in obj:
            report.errors.append(ValidationIssue(line_no, "messages", "is missing"))
            continue
        problems = check_messages(obj["messages"])
        report.errors.extend(ValidationIssue(line_no, f, m) for f, m in problems)
        for key in sorted(set(obj) - EXAMPLE_KEYS):
            report.warnings.append(ValidationIssue(line_no, key, "unknown key (hosted APIs may refuse it)"))
        if problems:
            continue
        messages = obj["messages"]
        if messages[-1]["role"] != "assistant":
            report.warnings.append(ValidationIssue(line_no, "messages", "does not end with an assistant message"))
        key = canonical_json(messages)
        if key in seen:
            report.warnings.append(ValidationIssue(line_no, "messages", f"duplicate of line {seen[key]}"))
        else:
            seen[key] = line_no
        valid.append((line_no, messages))
    _count_tokens(report, valid, tokenizer, max_tokens)
    n = report.n_examples
    if n < min_examples:
        report.errors.append(ValidationIssue(0, "(file)", f"has {n} examples; at least {min_examples} are needed"))
    elif n < warn_examples:
        report.warnings.append(
            ValidationIssue(0, "(file)", f"has only {n} examples; {warn_examples} or more are recommended"))
    return report


def _count_tokens(report: ValidationReport, valid: list[tuple[int, list[dict[str, Any]]]],
                  tokenizer: Any, max_tokens: int | None) -> None:
    """Token counts of valid examples, over-length errors, and the stats summary."""
    if tokenizer is not None:
        counter = tokenizer if isinstance(tokenizer, TokenCounter) else TokenCounter(tokenizer)
        counts = counter.count_chats([m for _, m in valid])
    else:
        counts = [approx_tokens(m) for _, m in valid]
    report.token_counts = counts
    if max_tokens is not None:
        for (line_no, _), n in zip(valid, counts):
            if n > max_tokens:
                report.errors.append(ValidationIssue(line_no, "messages", f"{n} tokens, over the limit of {max_tokens}"))
    roles: dict[str, int] = {}
    for _, messages in valid:
        for m in messages:
            roles[m["role"]] = roles.get(m["role"], 0) + 1
    report.stats = {
        "n_examples": report.n_examples,
        "n_valid": len(valid),
        "tokens": distribution(counts),
        "tokens_estimated": tokenizer is None,
        "messages_by_role": roles,
    }
    report.errors.sort(key=lambda e: e.line)


def validate_file(path: str | Path, tokenizer: Any = None, max_tokens: int | None = None, *,
                  min_examples: int = MIN_EXAMPLES, warn_examples: int = WARN_EXAMPLES) -> ValidationReport:
    """Validate a chat JSONL file; every error carries its 1-based line and field.

    ``tokenizer`` (a transformers tokenizer or TokenCounter) counts tokens with its chat
    template; without one, tokens are estimated from characters (``stats["tokens_estimated"]``).
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a directory; give one chat JSONL file")
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    report = ValidationReport(path=str(path))
    rows = _parse_lines(path, report)
    report.n_examples = len(report.errors)  # lines that are not JSON are (broken) examples too
    return validate_rows(rows, tokenizer=tokenizer, max_tokens=max_tokens, min_examples=min_examples,
                         warn_examples=warn_examples, report=report)


def estimate_cost(total_tokens: int, epochs: float, model: str, prices: dict[str, float] | None = None) -> dict[str, Any]:
    """Estimated hosted training cost: tokens × epochs × USD per 1M training tokens.

    ``prices`` (model -> USD per 1M) override DEFAULT_PRICES; an unknown model gives
    ``usd: None``. The prices are list prices to be checked against the provider's page.
    """
    from webtune.hosted.sunset import shutdown_note

    table = {**DEFAULT_PRICES, **(prices or {})}
    price = table.get(model)
    billed = int(round(total_tokens * epochs))
    note = ("list prices, check the provider's current pricing" if price is not None
            else f"no price known for {model}; set dataset.hosted.prices")
    if shutdown_note(model):
        note += f"; {shutdown_note(model)}"
    return {
        "model": model,
        "epochs": epochs,
        "tokens": int(total_tokens),
        "billed_tokens": billed,
        "usd_per_1m_tokens": price,
        "usd": None if price is None else round(billed / 1_000_000 * price, 4),
        "note": note,
    }
