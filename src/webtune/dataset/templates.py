"""Jinja templates over documents: the context, rendering, and rejects for missing fields.

The context of a document is its ``fields``, plus ``text``, ``id`` and ``meta`` (the document's
own values win when set, since clean normalises them) and ``doc`` (the whole Document), unless
the record has a field of that name: a scraped ``doc`` field is data the template may need, so it
wins, and the Document stays reachable as ``document``.
Keys whose value is None are left out, so ``{{ brand }}`` on a product without a brand is an
error (StrictUndefined) and becomes a ``missing_field`` reject instead of the text "None".
"""

from __future__ import annotations

import fnmatch
import re
from functools import lru_cache
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from webtune.records import Document, Message

_UNDEFINED_NAME = re.compile(r"'([^']+)' (?:is undefined|has no attribute '([^']+)')")


class RenderError(Exception):
    """A template could not render for one document: a reason code and the field at fault."""

    def __init__(self, reason: str, message: str, field: str | None = None):
        super().__init__(message)
        self.reason = reason
        self.field = field


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    """The shared Jinja environment: sandboxed (templates come from config) and strict."""
    return SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)


@lru_cache(maxsize=512)
def compile_template(source: str) -> jinja2.Template:
    """Compile a template once; a syntax error is a ValueError naming the line."""
    try:
        return environment().from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise ValueError(f"invalid Jinja template (line {exc.lineno}): {exc.message}") from None


@lru_cache(maxsize=128)
def compile_expression(source: str):
    """Compile a Jinja expression such as ``meta.lang == 'en'``."""
    try:
        return environment().compile_expression(source, undefined_to_none=False)
    except jinja2.TemplateSyntaxError as exc:
        raise ValueError(f"invalid Jinja expression: {exc.message}") from None


def document_context(doc: Document) -> dict[str, Any]:
    """The template context of ``doc`` (see the module docstring)."""
    context = {k: v for k, v in doc.fields.items() if v is not None}
    for key, value in (("text", doc.text), ("id", doc.id), ("meta", doc.meta)):
        if value is not None:
            context[key] = value
    context.setdefault("doc", doc)  # a scraped field named doc is not shadowed
    context["document"] = doc
    return context


def is_empty(value: Any) -> bool:
    """Whether a field value counts as missing for ``requires``: None, blank, or an empty list."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, tuple, dict, set)):
        return len(value) == 0
    return False


def missing_required(context: dict[str, Any], requires: list[str]) -> list[str]:
    """The required fields that are absent or empty in ``context``."""
    return [name for name in requires if is_empty(context.get(name))]


def render(source: str, context: dict[str, Any]) -> str:
    """Render one template; raise RenderError with reason ``missing_field`` or ``template_error``."""
    try:
        return compile_template(source).render(context).strip()
    except jinja2.UndefinedError as exc:
        match = _UNDEFINED_NAME.search(str(exc))
        field = (match.group(2) or match.group(1)) if match else None
        raise RenderError("missing_field", f"template uses a missing field: {exc}", field) from None
    except Exception as exc:  # noqa: BLE001 - any runtime error in user templates is a reject
        raise RenderError("template_error", f"template failed: {type(exc).__name__}: {exc}") from None


def render_messages(turns: list[tuple[str, str]], context: dict[str, Any]) -> list[Message]:
    """Render (role, template) turns into messages; an empty rendered turn is a RenderError."""
    messages = []
    for role, source in turns:
        content = render(source, context)
        if not content:
            reason = "empty_assistant" if role == "assistant" else "empty_message"
            raise RenderError(reason, f"the {role} message rendered empty", role)
        messages.append(Message(role=role, content=content))
    return messages


def selects(selector: Any, doc: Document, context: dict[str, Any]) -> bool:
    """Whether a generator with ``sources`` patterns and a ``when`` condition applies to ``doc``."""
    if selector.sources:
        candidates = [doc.source.kind, doc.source.uri]
        if not any(fnmatch.fnmatch(c, p) for p in selector.sources for c in candidates):
            return False
    if selector.when:
        try:
            return bool(compile_expression(selector.when)(**context))
        except jinja2.UndefinedError:
            return False  # a condition on a field the document lacks does not hold
    return True
