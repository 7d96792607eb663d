"""JSON and JSON Lines readers that stream: memory stays flat whatever the file size.

A JSON array is read element by element with `json.JSONDecoder.raw_decode` over a
sliding text buffer, so a 1 GB Bright Data snapshot never sits in memory at once.
"""

from __future__ import annotations

import codecs
import json
import re
from pathlib import Path
from typing import Any, BinaryIO, Iterator

from webtune.collect.readers.base import Item, looks_binary, open_binary
from webtune.errors import InputError
from webtune.jsonl import json_error, parse_json_line

CHUNK = 1 << 20
# Keys that usually hold the records when a JSON file is an object wrapping an array.
WRAPPER_KEYS = ("data", "results", "items", "records", "products", "rows")
_WS = " \t\r\n"


def read_jsonl(path: Path, compression: str | None, options: dict[str, Any]) -> Iterator[Item]:
    """One item per non-blank line; a bad line becomes a problem item and reading goes on."""
    with open_binary(path, compression) as fh:
        head = fh.peek(4096)[:4096] if hasattr(fh, "peek") else b""
        if looks_binary(head):
            raise InputError(f"{path}: not a JSON Lines file (binary data)")
        yield from iter_jsonl(fh)


def iter_jsonl(fh: BinaryIO, first_line: int = 1) -> Iterator[Item]:
    """Items from a binary stream of JSON lines (shared with the Bright Data download)."""
    for line_no, raw in enumerate(fh, start=first_line):
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield Item(line=line_no, problem="undecodable", raw=raw,
                       detail=f"not UTF-8 ({exc.reason} at byte {exc.start})")
            continue
        if line_no == first_line:
            text = text.lstrip("\ufeff")
        obj, error = parse_json_line(text)
        if error is not None:
            yield Item(line=line_no, problem="invalid_json", raw=text.rstrip("\r\n"), detail=error)
            continue
        yield _record_item(obj, line=line_no, offset=None, raw=text.rstrip("\r\n"))


def _record_item(obj: Any, *, line: int | None, offset: int | None, raw: Any = None) -> Item:
    if not isinstance(obj, dict):
        return Item(line=line, offset=offset, problem="not_an_object", raw=raw if raw is not None else obj,
                    detail=f"expected a JSON object, got {type(obj).__name__}")
    return Item(line=line, offset=offset, record=obj)


def read_json(path: Path, compression: str | None, options: dict[str, Any]) -> Iterator[Item]:
    """A JSON array (streamed), an object holding one array, or a single object."""
    with open_binary(path, compression) as fh:
        yield from iter_json(fh, str(path))


def iter_json(fh: BinaryIO, name: str) -> Iterator[Item]:
    """Items of a JSON document from a binary stream (shared with the Bright Data download)."""
    text_stream = _TextChunks(fh)
    try:
        first = text_stream.first_char()
        if first is None:
            return
        if first == "[":
            yield from _stream_array(text_stream, name)
        elif first == "{":
            yield from _wrapped_array(text_stream.read_all(), name)
        else:
            raise InputError(f"{name}: not a JSON file (starts with {first!r}, expected '[' or '{{')")
    except _Undecodable as exc:
        line = 1 + text_stream.buf.count("\n")
        yield Item(line=line, problem="undecodable",
                   detail=f"not UTF-8 text ({exc}); the rest of the file cannot be read (items before it were kept)")


class _Undecodable(Exception):
    """The bytes of a JSON file stopped being UTF-8."""


_BAD_BYTE = re.compile("[\udc80-\udcff]")


class _TextChunks:
    """UTF-8 text from a binary stream, decoded chunk by chunk.

    Bytes that are not UTF-8 end the text just before them (so the items before are
    kept); the next read raises `_Undecodable`.
    """

    def __init__(self, fh: BinaryIO):
        self.fh = fh
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="surrogateescape")
        self.buf = ""
        self.eof = False
        self.bad_at: int | None = None

    def more(self) -> bool:
        """Append the next chunk to ``buf``; False at the end of the stream."""
        if self.bad_at is not None:
            raise _Undecodable(f"invalid UTF-8 byte at character {self.bad_at}")
        if self.eof:
            return False
        block = self.fh.read(CHUNK)
        text = self.decoder.decode(block, final=not block)
        if (bad := _BAD_BYTE.search(text)) is not None:
            text = text[: bad.start()]
            self.bad_at = len(self.buf) + bad.start()
        self.buf += text
        if not block:
            self.eof = True
        return True

    def first_char(self) -> str | None:
        while True:
            stripped = self.buf.lstrip(_WS)
            if stripped:
                return stripped[0]
            if not self.more():
                return None

    def read_all(self) -> str:
        while self.more():
            pass
        return self.buf


def _stream_array(chunks: _TextChunks, name: str) -> Iterator[Item]:
    """Yield each element of a top-level JSON array without holding the whole array."""
    decoder = json.JSONDecoder()
    pos = chunks.buf.index("[") + 1
    line = 1 + chunks.buf.count("\n", 0, pos)
    index = 0
    expect_value = True  # after '[' or ','
    while True:
        pos, line = _skip_ws(chunks, pos, line)
        if pos >= len(chunks.buf):
            yield _truncated(name, line, index)
            return
        char = chunks.buf[pos]
        if char == "]" and (index == 0 or not expect_value):
            return
        if not expect_value:
            if char != ",":
                yield _broken(name, line, index, f"expected ',' or ']' but found {char!r}")
                return
            pos, expect_value = pos + 1, True
            continue
        try:
            obj, end = _decode_element(decoder, chunks, pos)
        except json.JSONDecodeError as exc:
            err_line = line + chunks.buf.count("\n", pos, exc.pos)
            yield _broken(name, err_line, index, f"invalid JSON: {exc.msg}")
            return
        yield _record_item(obj, line=line, offset=index)
        line += chunks.buf.count("\n", pos, end)
        pos, index, expect_value = end, index + 1, False
        if pos > CHUNK * 4:  # drop what was consumed, so the buffer stays small
            chunks.buf, pos = chunks.buf[pos:], 0


def _skip_ws(chunks: _TextChunks, pos: int, line: int) -> tuple[int, int]:
    while True:
        buf = chunks.buf
        while pos < len(buf) and buf[pos] in _WS:
            if buf[pos] == "\n":
                line += 1
            pos += 1
        if pos < len(buf) or not chunks.more():
            return pos, line


def _decode_element(decoder: json.JSONDecoder, chunks: _TextChunks, pos: int) -> tuple[Any, int]:
    """Decode the value at ``pos``, reading more text while it may be cut at the buffer's end."""
    while True:
        try:
            obj, end = decoder.raw_decode(chunks.buf, pos)
            if end < len(chunks.buf) or chunks.eof:
                return obj, end
            # A value that ends exactly at the buffer end may continue (a number cut in two).
        except json.JSONDecodeError as exc:
            # An error near the buffer's end (a cut \uXXXX escape, a missing ',') may just be
            # the chunk boundary: read more and try again. An earlier error is a real one.
            incomplete = exc.pos >= len(chunks.buf) - 16 or exc.msg.startswith("Unterminated string")
            if not incomplete or chunks.eof:
                raise
        if not chunks.more():
            obj, end = decoder.raw_decode(chunks.buf, pos)
            return obj, end


def _broken(name: str, line: int, index: int, detail: str) -> Item:
    return Item(line=line, offset=index, problem="invalid_json",
                detail=f"{detail}; the rest of the file cannot be read (items before it were kept)")


def _truncated(name: str, line: int, index: int) -> Item:
    return Item(line=line, offset=index, problem="truncated",
                detail="the JSON array ends without ']' (file cut off?); items before it were kept")


def _wrapped_array(text: str, name: str) -> Iterator[Item]:
    """An object holding the records in one array, or a single record."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        yield Item(line=exc.lineno, problem="invalid_json", detail=json_error(exc))
        return
    arrays = {k: v for k, v in obj.items() if isinstance(v, list) and v and all(isinstance(x, dict) for x in v)}
    if not arrays:
        yield Item(line=1, offset=0, record=obj)
        return
    if len(arrays) > 1:
        preferred = [k for k in WRAPPER_KEYS if k in arrays]
        if not preferred:
            raise InputError(f"{name}: the JSON object holds several arrays of records "
                             f"({', '.join(sorted(arrays))}); keep one per file")
        key = preferred[0]
    else:
        key = next(iter(arrays))
    for index, element in enumerate(arrays[key]):
        yield _record_item(element, line=None, offset=index)
