"""Format detection, transparent decompression, and the item type every reader yields."""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from webtune.errors import InputError

# suffix -> format name
SUFFIXES = {
    ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "tsv",
    ".tab": "tsv", ".parquet": "parquet", ".pq": "parquet", ".html": "html", ".htm": "html",
    ".xhtml": "html", ".md": "markdown", ".markdown": "markdown", ".txt": "text",
    ".text": "text", ".srt": "srt", ".vtt": "vtt", ".warc": "warc",
}
COMPRESSION = {".gz": "gzip", ".gzip": "gzip", ".zst": "zstd", ".zstd": "zstd"}
FORMATS = tuple(sorted(set(SUFFIXES.values())))
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


@dataclass
class Item:
    """One thing a reader found: a structured record, a text/HTML document, or a problem.

    ``problem`` is a reason code (``invalid_json``, ``undecodable``...) with ``detail``; the
    source turns it into a reject. ``line`` is 1-based; ``offset`` is the index of the item
    in its file (array index, row number, WARC record offset).
    """

    line: int | None = None
    offset: int | None = None
    record: dict[str, Any] | None = None
    text: str | None = None
    html: str | None = None
    content_type: str = "application/json"
    fields: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None
    detail: str = ""
    raw: Any = None


def detect_format(path: Path) -> tuple[str | None, str | None]:
    """``(format, compression)`` from the file name; format None when the suffix is unknown."""
    suffixes = [s.lower() for s in path.suffixes]
    compression = None
    if suffixes and suffixes[-1] in COMPRESSION:
        compression = COMPRESSION[suffixes.pop()]
    fmt = SUFFIXES.get(suffixes[-1]) if suffixes else None
    return fmt, compression


def check_magic(path: Path, compression: str | None) -> None:
    """Raise a clear InputError when a compressed file is not what its name says."""
    if compression is None:
        return
    with open(path, "rb") as fh:
        head = fh.read(4)
    expected = GZIP_MAGIC if compression == "gzip" else ZSTD_MAGIC
    if not head.startswith(expected):
        raise InputError(f"{path}: named as {compression}-compressed but is not {compression} data")


def open_binary(path: Path, compression: str | None) -> BinaryIO:
    """Open a file for streaming reads, decompressing gzip or zstd on the fly."""
    check_magic(path, compression)
    raw = open(path, "rb")
    if compression == "gzip":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if compression == "zstd":
        import zstandard

        reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True, closefd=True)
        return io.BufferedReader(reader, buffer_size=1 << 20)  # type: ignore[arg-type]
    return raw


def looks_binary(head: bytes) -> bool:
    """True when a text format's first bytes hold NULs (and no UTF-16/32 byte-order mark)."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf")):
        return False
    return b"\x00" in head
