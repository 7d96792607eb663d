"""Format detection, transparent decompression, and the item type every reader yields.

Decompression is hand-written over `zlib` and `zstandard` decompression objects rather than
`gzip.GzipFile` / zstandard's stream reader for one reason: a file cut off mid-stream must be
*reported*, with how far it was read. GzipFile raises a bare EOFError (which click turns into
"Aborted."), and zstandard's reader ends silently at the cut, passing a truncated file as whole.
"""

from __future__ import annotations

import io
import os
import stat
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Iterator

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


class DamagedInput(InputError):
    """Compressed data that ends before its end marker, or is corrupt, at a known place.

    Raised while reading; `read_items` turns it into a ``truncated`` / ``corrupt`` reject
    after the items read before it, so those stay kept.
    """

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


# Damage met at what the reader took for the end of the data, not raised yet (by path).
_UNREPORTED: dict[Path, DamagedInput] = {}


class _Decompressing(io.RawIOBase):
    """The decompressed bytes of a gzip (possibly multi-member) or zstd (multi-frame) file.

    Knows how many compressed bytes it consumed, so a cut or corrupt stream is reported as
    ``cut off ...: read 1,234 of 1,234 bytes (56,789 bytes decompressed)``. Memory stays
    bounded even for a decompression bomb: zlib is asked for at most ``OUT`` bytes a call,
    and zstd (whose decompress object has no such limit) is fed ``ZSTD_FEED`` bytes a call,
    which zstd's maximal ratio (a 4-byte RLE block makes 128 KiB) expands to at most 32 MiB.
    """

    READ = 1 << 18
    OUT = 1 << 20
    ZSTD_FEED = 1 << 10

    def __init__(self, path: Path, compression: str):
        super().__init__()
        self.path, self.compression = path, compression
        self.raw = open(path, "rb")
        self.size = os.fstat(self.raw.fileno()).st_size
        self.input = b""        # compressed bytes read but not yet decompressed
        self.pending = b""      # decompressed bytes not returned yet, from ``pos``
        self.pos = 0
        self.produced = 0       # decompressed bytes returned
        self.frame = self._new_frame()
        self.frame_started = False  # the current gzip member / zstd frame has received input
        # Damage is raised on the read *after* the one that met it: the bytes before it reach
        # the reader first (BufferedReader.read drops what it gathered when readinto raises).
        self.damage: DamagedInput | None = None

    def _new_frame(self) -> Any:
        if self.compression == "gzip":
            return zlib.decompressobj(wbits=31)
        import zstandard

        return zstandard.ZstdDecompressor().decompressobj()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.damage is not None:
            _UNREPORTED.pop(self.path, None)
            raise self.damage
        while self.pos >= len(self.pending):
            try:
                if not self._fill():
                    return 0
            except DamagedInput as exc:
                # A reader that stops at this "end" never reads again: `read_items` reports it.
                self.damage = _UNREPORTED[self.path] = exc
                return 0
        n = min(len(buffer), len(self.pending) - self.pos)
        buffer[:n] = self.pending[self.pos:self.pos + n]
        self.pos += n
        self.produced += n
        return n

    def _fill(self) -> bool:
        """Decompress a little more into ``pending``; False at the clean end of the data."""
        if not self.input:
            self.input = self.raw.read(self.READ)
            if not self.input:
                if self.frame_started and not self.frame.eof:
                    raise self._damage("truncated", "cut off (the compressed data ends before its end marker)")
                return False
        if self.frame.eof:  # the next gzip member / zstd frame follows
            if self.compression == "gzip":
                self.input = self.input.lstrip(b"\x00")  # gzip files may be padded with zeros
                if not self.input:
                    return True
            self.frame, self.frame_started = self._new_frame(), False
        self.frame_started = True
        try:
            if self.compression == "gzip":
                out = self.frame.decompress(self.input, self.OUT)
                self.input = self.frame.unused_data if self.frame.eof else self.frame.unconsumed_tail
            else:
                feed, rest = self.input[: self.ZSTD_FEED], self.input[self.ZSTD_FEED:]
                out = self.frame.decompress(feed)
                self.input = (self.frame.unused_data if self.frame.eof else b"") + rest
        except Exception as exc:  # zlib.error / zstandard.ZstdError: the bytes are not valid
            raise self._damage("corrupt", f"corrupt ({exc})") from None
        self.pending, self.pos = out, 0
        return True

    def _damage(self, reason: str, what: str) -> DamagedInput:
        consumed = self.raw.tell() - len(self.input)
        return DamagedInput(f"{self.path}: {self.compression} data {what}: read {consumed:,} of {self.size:,} "
                            f"bytes ({self.produced + len(self.pending) - self.pos:,} bytes decompressed)", reason)

    def close(self) -> None:
        self.raw.close()
        super().close()


def check_regular_file(path: Path) -> None:
    """Refuse FIFOs, devices and sockets by name: opening one would block or read forever."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    if not stat.S_ISREG(mode):
        kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
                else "a socket" if stat.S_ISSOCK(mode) else "a directory" if stat.S_ISDIR(mode) else "a special file")
        raise InputError(f"{path}: is {kind}, not a regular file; only regular files are read")


def open_binary(path: Path, compression: str | None) -> BinaryIO:
    """Open a file for streaming reads, decompressing gzip or zstd on the fly.

    A cut or corrupt compressed file raises `DamagedInput` where the damage is met.
    """
    check_regular_file(path)
    check_magic(path, compression)
    if compression in ("gzip", "zstd"):
        return io.BufferedReader(_Decompressing(path, compression), buffer_size=1 << 20)  # type: ignore[return-value]
    return open(path, "rb")


def looks_binary(head: bytes) -> bool:
    """True when a text format's first bytes hold NULs (and no UTF-16/32 byte-order mark)."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf")):
        return False
    return b"\x00" in head


def guarded(path: Path, items: Iterator[Item]) -> Iterator[Item]:
    """The reader's items; damage met midway ends the file with one reject naming how far it got.

    The items before the damage were yielded and stay kept.
    """
    count = 0
    _UNREPORTED.pop(path, None)
    try:
        for item in items:
            count += 1
            yield item
        if (damage := _UNREPORTED.pop(path, None)) is not None:
            raise damage
    except DamagedInput as exc:
        what = str(exc).removeprefix(f"{path}: ")
        yield Item(problem=exc.reason, offset=count, detail=f"{what}; the {count} items before it were kept")
    except OSError as exc:  # an I/O error midway (a disk error, a file removed on a network share)
        raise InputError(f"{path}: read error after {count} items: {exc.strerror or exc}") from None
