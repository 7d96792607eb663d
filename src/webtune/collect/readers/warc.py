"""WARC files (plain, per-record gzip, or zstd-compressed as a whole) through warcio."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from webtune.collect.readers.base import Item, open_binary
from webtune.collect.readers.textual import decode_text
from webtune.errors import InputError

HTML_TYPES = ("text/html", "application/xhtml+xml")
TEXT_TYPES = ("text/plain", "text/markdown")


def read_warc(path: Path, compression: str | None, options: dict[str, Any]) -> Iterator[Item]:
    """One item per ``response`` (or ``resource``) record; other record types are not documents."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    max_bytes = options.get("max_bytes", 16 * 1024 * 1024)
    # warcio reads per-record gzip itself; only zstd needs unpacking here.
    stream = open_binary(path, "zstd") if compression == "zstd" else open(path, "rb")
    with stream:
        iterator = ArchiveIterator(stream)
        try:
            for record in iterator:
                _check_record(path, record, iterator)
                if record.rec_type not in ("response", "resource"):
                    continue
                # Read the payload before asking for the offset: warcio skips the body otherwise.
                payload = record.content_stream().read(max_bytes + 1)
                yield _record_item(record, payload, iterator.get_record_offset(), max_bytes)
        except ArchiveLoadFailed as exc:
            raise InputError(f"{path}: not a WARC file or a broken one: {str(exc).strip()}") from None


def _check_record(path: Path, record: Any, iterator: Any) -> None:
    """Refuse what warcio reads leniently: garbage taken for an ARC file, a record with no WARC-Type.

    Either would otherwise become a bogus document or vanish without a reject.
    """
    if record.format != "warc" or not record.rec_type:
        offset = iterator.get_record_offset()
        what = "no 'WARC/1.x' record header" if record.format != "warc" else "a record without WARC-Type"
        raise InputError(f"{path}: not a WARC file or a broken one: {what} at byte {offset}")


def _record_item(record: Any, payload: bytes, offset: int, max_bytes: int) -> Item:
    url = record.rec_headers.get_header("WARC-Target-URI") or ""
    date = record.rec_headers.get_header("WARC-Date")
    status = None
    if record.http_headers is not None and record.rec_type == "response":
        content_type = record.http_headers.get_header("Content-Type") or ""
        status = int(record.http_headers.get_statuscode() or 0)
    else:
        content_type = record.rec_headers.get_header("Content-Type") or ""
    mime = content_type.split(";")[0].strip().lower()
    fields = {"url": url, "status": status, "content_type": content_type, "fetched_at": date}
    meta = {"url": url}
    if len(payload) > max_bytes:
        return Item(offset=offset, problem="too_large", fields=fields, raw=url,
                    detail=f"{url}: body over {max_bytes} bytes")
    if mime not in HTML_TYPES + TEXT_TYPES:
        return Item(offset=offset, problem="not_html", raw=url,
                    detail=f"{url}: content type {mime or 'unknown'} is not HTML or text")
    text = decode_text(payload, "html" if mime in HTML_TYPES else "text")
    if text is None:
        return Item(offset=offset, problem="undecodable", raw=url, detail=f"{url}: text encoding not recognised")
    if mime in HTML_TYPES:
        return Item(offset=offset, html=text, fields=fields, meta=meta, content_type="text/html")
    return Item(offset=offset, text=text, fields=fields, meta=meta, content_type=mime)
