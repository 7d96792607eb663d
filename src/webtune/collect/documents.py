"""Turning collected items into Document records, and the sink every source writes to.

Sources never open files themselves: they hand documents and rejects to a `SourceSink`,
which writes them to the stage's ``documents.jsonl`` / ``rejects.jsonl`` and counts them,
so ``in == kept + rejected`` holds for every source and for the stage.

Documents are written as plain dicts in the exact shape of `webtune.records.Document`
(a test checks this): building a pydantic model per record would dominate the time of
a 1 GB ingest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from webtune.jsonl import JsonlWriter
from webtune.records import Reject, SourceRef, content_id, utc_now

# Roles a field mapping may name: which field of a record holds the text, HTML, title or URL.
FieldRole = Literal["text", "html", "title", "url"]
MAX_REJECT_RECORD_CHARS = 2000


def lookup(record: dict[str, Any], name: str) -> Any:
    """``record[name]``, where ``name`` may be a dotted path into nested objects (``about.title``)."""
    if name in record:
        return record[name]
    node: Any = record
    for part in name.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def as_text(value: Any) -> str | None:
    """A field value as text: strings as they are, lists joined by lines, None and '' as None."""
    if value is None:
        return None
    if isinstance(value, list):
        value = "\n".join(str(v) for v in value if v is not None)
    elif not isinstance(value, str):
        value = str(value)
    return value if value.strip() else None


def make_document(
    *,
    kind: str,
    uri: str,
    line: int | None = None,
    offset: int | None = None,
    content_type: str = "application/json",
    fields: dict[str, Any] | None = None,
    text: str | None = None,
    html: str | None = None,
    meta: dict[str, Any] | None = None,
    mapping: dict[str, str] | None = None,
    collected_at: str | None = None,
) -> dict[str, Any]:
    """A Document as a JSON-ready dict; ``mapping`` (role -> field name) fills text/html/meta.

    The id is a content hash of what was collected (fields, text and HTML), so the same
    item collected twice gets the same id, wherever it came from.
    """
    fields = fields or {}
    meta = dict(meta or {})
    for role, name in (mapping or {}).items():
        value = lookup(fields, name)
        if role == "text" and text is None:
            text = as_text(value)
        elif role == "html" and html is None:
            html = as_text(value)
        elif role in ("title", "url") and value is not None:
            meta.setdefault(role, value)
    payload = {k: v for k, v in (("fields", fields), ("text", text), ("html", html)) if v}
    source: dict[str, Any] = {"kind": kind, "uri": uri}
    if line is not None:
        source["line"] = line
    if offset is not None:
        source["offset"] = offset
    doc: dict[str, Any] = {
        "id": content_id(payload),
        "source": source,
        "collected_at": collected_at or utc_now(),
        "content_type": content_type,
        "fields": fields,
    }
    if text is not None:
        doc["text"] = text
    if html is not None:
        doc["html"] = html
    doc["meta"] = meta
    return doc


def clip(value: Any, limit: int = MAX_REJECT_RECORD_CHARS) -> Any:
    """A rejected record small enough for rejects.jsonl: long text is cut, with a marker."""
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value[:limit]).decode("utf-8", errors="replace")
    if isinstance(value, str):
        return value if len(value) <= limit else value[:limit] + "…[cut]"
    text = json.dumps(value, ensure_ascii=False, default=str)
    return value if len(text) <= limit else text[:limit] + "…[cut]"


@dataclass
class SourceSink:
    """Where one source's documents and rejects go; counts what it kept and rejected."""

    kind: str
    index: int
    documents: JsonlWriter
    rejects: JsonlWriter
    kept: int = 0
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    # In a refresh run, the `RefreshTracker`: a record collected before is rejected as ``unchanged``.
    tracker: Any = None

    @property
    def seen(self) -> int:
        return self.kept + self.rejected

    def keep(self, document: dict[str, Any]) -> None:
        """Write one document (a dict from `make_document`); in a refresh run, one collected by an
        earlier version is rejected as ``unchanged`` instead (it was trained on already)."""
        if self.tracker is not None and self.tracker.classify(document) == "unchanged":
            self.reject("unchanged", f"collected before (v{self.tracker.first_seen(document['id'])}), "
                        "unchanged since", uri=document["source"]["uri"], line=document["source"].get("line"),
                        offset=document["source"].get("offset"), value=document["id"])
            return
        self.documents.write(document)
        self.kept += 1

    def reject(self, reason: str, message: str, *, uri: str, line: int | None = None,
               offset: int | None = None, record: Any = None, value: Any = None) -> None:
        """Write one reject: a reason code, a sentence naming file/URL and line, the raw record."""
        where = uri + (f":{line}" if line is not None else "") + (
            f" (item {offset})" if offset is not None and line is None else "")
        self.rejects.write(Reject(
            stage="collect", step=self.kind, reason=reason, value=value,
            source=SourceRef(kind=self.kind, uri=uri, line=line, offset=offset),
            record=clip(record) if record is not None else None,
            message=f"{where}: {message}",
        ))
        self.rejected += 1
        self.reasons[reason] = self.reasons.get(reason, 0) + 1

    def stats(self) -> dict[str, Any]:
        return {"index": self.index, "kind": self.kind, "in": self.seen, "kept": self.kept,
                "rejected": self.rejected, "reject_reasons": dict(sorted(self.reasons.items()))}
