"""What collect learns in a refresh run: which records are new, changed or unchanged since history.

A record's *content id* (`webtune.collect.documents.make_document`'s hash of what was
collected) says whether exactly this record was collected before; its *key* (the ``refresh.key``
field, else its URL, else its file and line) says whether the same item was collected before
with other content. So every record collected is one of:

* ``unchanged``: its content id is in history; rejected by collect with reason ``unchanged``
  (counted, never trained on twice);
* ``changed``: its key is in history with another content id; kept, ``meta.refresh = "changed"``;
* ``new``: neither; kept, ``meta.refresh = "new"``.

Files whose content hash is in history are not read at all (one reject ``unchanged_file``);
crawled pages are revisited with their ETag / Last-Modified, and a 304 answer is ``unchanged``;
Bright Data collections are triggered for the inputs not collected before only.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from webtune.collect.documents import lookup
from webtune.jsonl import JsonlWriter, atomic_write_json
from webtune.records import canonical_json
from webtune.refresh.history import COLLECTED, RECORDS, History


class RefreshTracker:
    """Classifies collected records against history and keeps what the next run compares against."""

    def __init__(self, history: History, version: int, key_field: str | None, output_dir: Path):
        self.version = version
        self.key_field = key_field
        self.ids, self.keys = history.known_records()
        prior = history.collected()
        self.prior_files: dict[str, Any] = prior["files"]
        self.prior_pages: dict[str, Any] = prior["crawl"]
        self.prior_inputs: dict[str, Any] = prior["brightdata_inputs"]
        self.files: dict[str, Any] = {}
        self.pages: dict[str, Any] = {}
        self.inputs: dict[str, Any] = {}
        self.counts: Counter[str] = Counter()
        self.output_dir = output_dir
        self._records = JsonlWriter(output_dir / RECORDS)

    # ------------------------------------------------------------------ records
    def record_key(self, doc: dict[str, Any]) -> str:
        """The key naming ``doc`` across versions (see the module docstring)."""
        fields, meta, source = doc.get("fields") or {}, doc.get("meta") or {}, doc.get("source") or {}
        if self.key_field:
            value = lookup(fields, self.key_field)
            if value not in (None, ""):
                return f"{self.key_field}:{value}"
        url = meta.get("url") or fields.get("url")
        if url:
            return f"url:{url}"
        where = source.get("line", source.get("offset"))
        return f"{source.get('uri')}#{where}"

    def classify(self, doc: dict[str, Any]) -> str:
        """``new``, ``changed`` or ``unchanged``; notes the record for the next version."""
        key = self.record_key(doc)
        if doc["id"] in self.ids:
            status = "unchanged"
        elif key in self.keys:
            status = "changed"
        else:
            status = "new"
        self.counts[status] += 1
        self._records.write({"key": key, "id": doc["id"], "status": status, "uri": doc["source"]["uri"]})
        if status != "unchanged":
            doc["meta"]["record_key"] = key
            doc["meta"]["refresh"] = status
        return status

    def first_seen(self, doc_id: str) -> int | None:
        """The version a content id was first collected in."""
        return self.ids.get(doc_id)

    # ------------------------------------------------------------------ files
    def file_version(self, sha256: str) -> int | None:
        """The version that read a file with this content hash, if any."""
        entry = self.prior_files.get(sha256)
        return entry["version"] if entry else None

    def note_file(self, path: Path, sha256: str, status: str) -> None:
        self.files[sha256] = {"path": str(path), "status": status}
        self.counts[f"{status}_files"] += 1

    # ------------------------------------------------------------------ crawl
    def conditional_headers(self, url: str) -> dict[str, str]:
        """If-None-Match / If-Modified-Since for a page crawled before (empty when it was not)."""
        page = self.prior_pages.get(url) or {}
        headers = {}
        if page.get("etag"):
            headers["If-None-Match"] = page["etag"]
        if page.get("last_modified"):
            headers["If-Modified-Since"] = page["last_modified"]
        return headers

    def previous_page(self, url: str) -> dict[str, Any] | None:
        return self.prior_pages.get(url)

    def note_page(self, url: str, page: dict[str, Any]) -> None:
        """Remember a page's validators, content id and links (for the next revisit)."""
        self.pages[url] = {k: page.get(k) for k in ("etag", "last_modified", "id", "links")}

    # ------------------------------------------------------------------ Bright Data
    def new_inputs(self, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The Bright Data inputs no earlier version collected; all of them are noted."""
        fresh = []
        for item in inputs:
            key = canonical_json(item)
            if key not in self.prior_inputs:
                fresh.append(item)
            self.inputs[key] = {"status": "new" if key not in self.prior_inputs else "unchanged"}
        self.counts["brightdata_inputs_new"] += len(fresh)
        self.counts["brightdata_inputs_skipped"] += len(inputs) - len(fresh)
        return fresh

    # ------------------------------------------------------------------ output
    def close(self, ok: bool) -> dict[str, Any]:
        """Write ``records.jsonl`` and ``collect.json`` into collect's output; return the counts."""
        self._records.close(ok=ok)
        if ok:
            atomic_write_json(self.output_dir / COLLECTED, {
                "version": self.version, "files": self.files, "crawl": self.pages,
                "brightdata_inputs": self.inputs})
        return {"version": self.version, **dict(sorted(self.counts.items()))}


def counts_line(counts: dict[str, Any]) -> str:
    """``new N · changed N · unchanged N`` (and the unchanged files, when there were any)."""
    line = f"new {counts.get('new', 0)} · changed {counts.get('changed', 0)} · unchanged {counts.get('unchanged', 0)}"
    return line + (f" · unchanged files {counts['unchanged_files']}" if counts.get("unchanged_files") else "")
