"""WARC files (plain, per-record gzip, or zstd-compressed as a whole) through warcio."""

from __future__ import annotations

import os
import zlib
from pathlib import Path
from typing import Any, Iterator

from webtune.collect.readers.base import Item, open_binary
from webtune.collect.readers.textual import decode_text
from webtune.errors import InputError

HTML_TYPES = ("text/html", "application/xhtml+xml")
TEXT_TYPES = ("text/plain", "text/markdown")


def read_warc(path: Path, compression: str | None, options: dict[str, Any]) -> Iterator[Item]:
    """One item per ``response`` (or ``resource``) record; other record types are not documents.

    A cut-off file ends with a ``truncated`` reject. In a .warc.gz the last record is held
    back until its gzip member is known to be whole: a member cut inside the WARC headers
    decompresses to a plausible but wrong record.
    """
    max_bytes = options.get("max_bytes", 16 * 1024 * 1024)
    # warcio reads per-record gzip itself; only zstd needs unpacking here.
    stream = open_binary(path, "zstd") if compression == "zstd" else open(path, "rb")
    with stream:
        held: Item | None = None
        for item in _records(path, stream, compression, max_bytes):
            if held is not None:
                yield held
            held = item
        if held is not None and held.offset is not None and compression == "gzip" and held.problem != "truncated":
            if not _whole_gzip_member(stream, held.offset):
                held = Item(offset=held.offset, problem="truncated",
                            detail=f"the file ends inside the gzip member of the WARC record at byte "
                                   f"{held.offset:,} (cut off?); the records before it were kept")
        if held is not None:
            yield held


def _records(path: Path, stream: Any, compression: str | None, max_bytes: int) -> Iterator[Item]:
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    iterator = ArchiveIterator(stream)
    _tolerate_missing_uri(iterator)
    try:
        for record in iterator:
            _check_record(path, record, iterator)
            if record.rec_type not in ("response", "resource"):
                continue
            # Read the payload before asking for the offset: warcio skips the body otherwise.
            payload = record.content_stream().read(max_bytes + 1)
            offset = iterator.get_record_offset()
            if len(payload) <= max_bytes and _remaining(record) > 0:
                yield Item(offset=offset, problem="truncated",
                           detail=f"the WARC record at byte {offset:,} is cut off (the file ends inside it); "
                                  "the records before it were kept")
                return
            yield _record_item(record, payload, offset, max_bytes)
        if compression != "zstd" and (cut := _cut_at_end(stream, iterator)) is not None:
            yield Item(offset=cut, problem="truncated",
                       detail=f"the file ends inside a WARC record at byte {cut:,} (cut off?); "
                              "the records before it were kept")
    except ArchiveLoadFailed as exc:
        raise InputError(f"{path}: not a WARC file or a broken one: {str(exc).strip()}") from None
    except (ValueError, EOFError, OSError, AttributeError) as exc:  # warcio on a mangled record
        offset = _safe_offset(iterator)
        yield Item(offset=offset, problem="broken_record",
                   detail=f"a broken WARC record near byte {offset:,} ({type(exc).__name__}: {exc}); "
                          "the rest of the file cannot be read, the records before it were kept")


def _whole_gzip_member(stream: Any, offset: int) -> bool:
    """True when the gzip member starting at ``offset`` ends with its end marker (bounded memory)."""
    try:
        stream.seek(offset)
        member = zlib.decompressobj(wbits=31)
        while not member.eof and (data := stream.read(1 << 16)):
            while data and not member.eof:
                member.decompress(data, 1 << 20)
                data = member.unconsumed_tail
        return member.eof
    except (OSError, zlib.error):
        return False


def _tolerate_missing_uri(iterator: Any) -> None:
    """Let warcio read a response record that has no WARC-Target-URI.

    warcio calls ``uri.startswith`` on it and dies with an AttributeError, ending the file
    there; with this (on this one iterator's loader, nothing global) the record is read
    and `_record_item` rejects it with a reason.
    """
    loader = iterator.loader
    original = loader.load_http_headers

    def load_http_headers(rec_type: str, uri: str | None, stream: Any, length: Any) -> Any:
        return original(rec_type, uri or "", stream, length)

    loader.load_http_headers = load_http_headers


def _cut_at_end(stream: Any, iterator: Any) -> int | None:
    """Where a partial record starts when bytes follow the last whole record, else None.

    warcio ends quietly when the file stops inside a record's headers. Offsets are in
    the file's own (for .warc.gz, compressed) bytes, so the file size tells.
    """
    try:
        end = int(iterator.get_record_offset() or 0) + int(iterator.get_record_length() or 0)
        size = os.fstat(stream.fileno()).st_size
        stream.seek(end)
        rest = stream.read(4096)
    except (OSError, TypeError, ValueError):
        return None
    return end if size > end and rest.strip(b"\r\n\x00") else None


def _remaining(record: Any) -> int:
    """Bytes of the record's declared Content-Length that the file did not hold."""
    stream = record.raw_stream
    while hasattr(stream, "stream") and not hasattr(stream, "limit"):
        stream = stream.stream
    return int(getattr(stream, "limit", 0) or 0)


def _safe_offset(iterator: Any) -> int:
    try:
        return int(iterator.get_record_offset() or 0)
    except Exception:  # the iterator is broken already; the offset is only for the message
        return 0


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
    if not url and record.rec_type == "response":
        return Item(offset=offset, problem="no_url",
                    detail=f"the response record at byte {offset:,} has no WARC-Target-URI: whose page is it?")
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
