"""Text helpers shared by the clean steps: targets, words, HTML fragments, normalisation."""

from __future__ import annotations

import html as htmllib
import re
from typing import Any, Callable

from webtune import text_units
from webtune.records import Document

_HTML_HINT = re.compile(r"<\s*/?\s*[a-zA-Z][a-zA-Z0-9]*(\s[^<>]*)?/?\s*>|&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);")
_WORD = re.compile(r"\w+(?:['’\-]\w+)*")
_SPACES = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n{3,}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Zero-width and byte-order marks: invisible, but they split words and break hashing.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_BLOCK_TAGS = {
    "p", "div", "section", "article", "header", "footer", "blockquote", "pre", "table", "tr",
    "ul", "ol", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6", "li", "hr", "figure",
}


def words(text: str) -> list[str]:
    """Words of a spaced-script ``text`` (letters and digits, with inner apostrophes and hyphens).

    Steps count in the document's language with `webtune.text_units.words` instead."""
    return _WORD.findall(text)


def tokens(text: str) -> tuple[str, ...]:
    """Words and runs of punctuation of a spaced-script text (see `webtune.text_units.tokens`)."""
    return text_units.tokens(text, None)


def looks_like_html(value: str) -> bool:
    """Whether a string carries HTML tags or entities."""
    return bool(_HTML_HINT.search(value))


def value_text(value: Any) -> str:
    """A field value as text: strings as is, lists one item a line, numbers as written."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return "\n".join(value_text(v) for v in value if value_text(v))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return ""


def doc_text(doc: Document) -> str:
    """The document's text; plain text from its HTML when it has no text yet."""
    if doc.text is not None:
        return doc.text
    if doc.html:
        return html_fragment_to_text(doc.html)
    return ""


def target_text(doc: Document, names: list[str] | None) -> str:
    """The text a step measures: the named fields joined by blank lines, or the document text."""
    if names is None:
        return doc_text(doc)
    parts = [value_text(doc.fields.get(name)) for name in names]
    return "\n\n".join(p for p in parts if p.strip())


def transform_targets(doc: Document, names: list[str] | None, fn: Callable[[str], str]) -> None:
    """Apply ``fn`` to each target string in place (each string item of a list field too)."""
    if names is None:
        if doc.text is not None:
            doc.text = fn(doc.text)
        return
    for name in names:
        value = doc.fields.get(name)
        if isinstance(value, str):
            doc.fields[name] = fn(value)
        elif isinstance(value, list):
            doc.fields[name] = [fn(v) if isinstance(v, str) else v for v in value]


def html_fragment_to_text(value: str) -> str:
    """Clean text of an HTML fragment (a product description): blocks become lines, lists '- '."""
    if not looks_like_html(value):
        return value
    if not re.search(r"<\s*/?\s*[a-zA-Z]", value):
        return htmllib.unescape(value)  # entities only
    import lxml.html

    try:
        root = lxml.html.fragment_fromstring(value, create_parent="div")
    except Exception:  # noqa: BLE001 - unparsable markup: fall back to stripping tags
        return htmllib.unescape(re.sub(r"<[^>]+>", " ", value))
    parts: list[str] = []
    _walk(root, parts)
    return tidy_whitespace("".join(parts))


def _walk(el, parts: list[str]) -> None:
    tag = el.tag.lower() if isinstance(el.tag, str) else ""
    if tag in ("script", "style", "noscript", "template"):
        return
    block = tag in _BLOCK_TAGS
    if block:
        parts.append("\n\n" if tag in ("p", "h1", "h2", "h3", "h4", "h5", "h6", "table") else "\n")
    if tag == "li":
        parts.append("- ")
    if tag == "br":
        parts.append("\n")
    if tag in ("td", "th"):
        parts.append(" ")
    if el.text:
        parts.append(el.text)
    for child in el:
        _walk(child, parts)
        if child.tail:
            parts.append(child.tail)
    if block and tag != "li":  # list items: one per line, no blank line between them
        parts.append("\n")


def tidy_whitespace(text: str) -> str:
    """Unicode spaces to ' ', no invisible characters, trimmed lines, at most one blank line."""
    text = text.translate(_INVISIBLE)
    text = _SPACES.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = "\n".join(line.strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


def strip_control(text: str) -> str:
    """Remove control characters except newline and tab."""
    return _CONTROL.sub("", text)
