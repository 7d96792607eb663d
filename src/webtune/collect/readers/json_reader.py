"""JSON and JSON Lines readers that stream: memory stays flat whatever the file size.

A JSON array, or the array of records inside a wrapping object (``{"data": [...]}``), is
read element by element with `json.JSONDecoder.raw_decode` over a sliding text buffer, so
a 1 GB Bright Data snapshot never sits in memory at once.

Hostile input ends as a reject for that record, and reading goes on: nesting deeper than
`MAX_DEPTH` (``too_deep``; past Python's recursion limit the parser cannot even build it),
integers over Python's 4,300-digit conversion limit (``number_too_long``), strings holding
a lone UTF-16 surrogate such as ``"\\ud800"``, which no UTF-8 file can store
(``invalid_text``), and a line or element over ``max_document_bytes`` (``too_large``,
skipped without holding it). A bad element inside an array is stepped over by a small
bracket scanner (`_Parser.skip_value`) that never builds the value.
"""

from __future__ import annotations

import codecs
import json
import re
from pathlib import Path
from typing import Any, BinaryIO, Generator, Iterator

from webtune.collect.readers.base import Item, looks_binary, open_binary
from webtune.errors import InputError
from webtune.jsonl import json_error

CHUNK = 1 << 20
# Deeper records are rejected: later stages (and json.dumps) recurse through them.
MAX_DEPTH = 200
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
_WS = " \t\r\n"
_SURROGATE = re.compile("[\ud800-\udfff]")
_TOKEN = re.compile(r'["\[\]{}]')
_STRING_END = re.compile(r'["\\]')
_SCALAR_END = re.compile(r"[,\]}\s]")


# ------------------------------------------------------------------ JSON Lines


def read_jsonl(path: Path, compression: str | None, options: dict[str, Any]) -> Iterator[Item]:
    """One item per non-blank line; a bad line becomes a problem item and reading goes on."""
    with open_binary(path, compression) as fh:
        head = fh.peek(4096)[:4096] if hasattr(fh, "peek") else b""
        if looks_binary(head):
            raise InputError(f"{path}: not a JSON Lines file (binary data)")
        yield from iter_jsonl(fh, max_line_bytes=options.get("max_bytes") or DEFAULT_MAX_BYTES)


def iter_jsonl(fh: BinaryIO, first_line: int = 1, max_line_bytes: int = DEFAULT_MAX_BYTES) -> Iterator[Item]:
    """Items from a binary stream of JSON lines (shared with the Bright Data download).

    A line longer than ``max_line_bytes`` is rejected and skipped without being held whole.
    """
    line_no = first_line - 1
    while raw := fh.readline(max_line_bytes + 1):
        line_no += 1
        if len(raw) > max_line_bytes and not raw.endswith(b"\n"):
            size = len(raw) + _skip_line(fh, max_line_bytes)
            yield Item(line=line_no, problem="too_large", raw=raw[:200],
                       detail=f"a line of {size:,} bytes, over the {max_line_bytes:,}-byte limit (max_document_bytes)")
            continue
        if not raw.endswith(b"\n"):
            fh.peek(1)  # the last line: a cut compressed file raises here, before a partial line is parsed
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
        yield _parse_line(text, line_no)


def _skip_line(fh: BinaryIO, block: int) -> int:
    """Read past the rest of an over-long line; return how many bytes it had."""
    skipped = 0
    while part := fh.readline(block):
        skipped += len(part)
        if part.endswith(b"\n"):
            break
    return skipped


def _parse_line(text: str, line_no: int) -> Item:
    raw = text.rstrip("\r\n")
    try:
        obj = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        return Item(line=line_no, problem="invalid_json", raw=raw, detail=json_error(exc))
    except _NotJson as exc:
        return Item(line=line_no, problem="invalid_json", raw=raw, detail=str(exc))
    except RecursionError:
        return Item(line=line_no, problem="too_deep", raw=raw, detail=_too_deep_detail())
    except ValueError as exc:  # an integer over Python's digit limit
        return Item(line=line_no, problem="number_too_long", raw=raw, detail=_number_detail(exc))
    return checked_record(obj, text, line=line_no, offset=None, raw=raw)


def checked_record(obj: Any, text: str | None, *, line: int | None, offset: int | None, raw: Any = None,
                   start: int = 0, end: int | None = None, escapes: bool = True) -> Item:
    """An item for a parsed value: a record, or a problem when it is no object, too deep or not text.

    ``text[start:end]`` is the JSON the value came from: cheap counts on it decide whether
    the (slower) walks over the value are needed at all (``text`` None: always walk).
    ``escapes`` False says the text holds no ``\\ud..`` escape, so no surrogate either.
    """
    if not isinstance(obj, dict):
        return Item(line=line, offset=offset, problem="not_an_object", raw=raw if raw is not None else obj,
                    detail=f"expected a JSON object, got {type(obj).__name__}")
    end = (len(text) if text is not None else 0) if end is None else end
    # Nesting N deep takes at least 2N characters and N opening brackets.
    may_nest = text is None or (end - start > 2 * MAX_DEPTH
                                and text.count("{", start, end) + text.count("[", start, end) > MAX_DEPTH)
    if may_nest and nesting_over(obj, MAX_DEPTH):
        return Item(line=line, offset=offset, problem="too_deep", raw=raw, detail=_too_deep_detail())
    may_escape = text is None or escapes and (text.find("\\ud", start, end) >= 0 or text.find("\\uD", start, end) >= 0)
    if may_escape and (bad := lone_surrogate(obj)) is not None:
        return Item(line=line, offset=offset, problem="invalid_text", raw=raw,
                    detail=f"a string holds a lone UTF-16 surrogate ({bad}), which is not text")
    return Item(line=line, offset=offset, record=obj)


def nesting_over(obj: Any, limit: int) -> bool:
    """True when ``obj`` has containers nested more than ``limit`` levels (without recursion)."""
    stack = [(obj, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False


def lone_surrogate(obj: Any) -> str | None:
    """The escape of the first lone surrogate in any key or string of ``obj``, else None."""
    stack = [obj]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            if (found := _SURROGATE.search(node)) is not None:
                return f"\\u{ord(found.group()):04x}"
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return None


class _NotJson(ValueError):
    """NaN, Infinity or -Infinity: Python's json reads them, but they are not JSON.

    Kept, they would be written to documents.jsonl as bare ``NaN``, which other tools refuse.
    """


def _refuse_constant(name: str) -> Any:
    raise _NotJson(f"invalid JSON: {name} is not a JSON value")


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def _too_deep_detail() -> str:
    return f"nested more than {MAX_DEPTH} levels deep"


def _number_detail(exc: ValueError) -> str:
    return f"a number too long to read ({str(exc).split(';')[0]})"


# ------------------------------------------------------------------ JSON documents


def read_json(path: Path, compression: str | None, options: dict[str, Any]) -> Iterator[Item]:
    """A JSON array (streamed), an object holding an array of records (streamed), or a single object."""
    with open_binary(path, compression) as fh:
        yield from iter_json(fh, str(path), max_bytes=options.get("max_bytes") or DEFAULT_MAX_BYTES)


def iter_json(fh: BinaryIO, name: str, max_bytes: int = DEFAULT_MAX_BYTES) -> Iterator[Item]:
    """Items of a JSON document from a binary stream (shared with the Bright Data download)."""
    parser = _Parser(_TextChunks(fh), max_bytes)
    try:
        first = parser.peek()
        if first is None:
            return
        if first == "[":
            parser.pos += 1
            if (yield from parser.array_elements()) and (extra := parser.trailing_data()):
                yield extra
        elif first == "{":
            yield from parser.wrapped_records()
        else:
            raise InputError(f"{name}: not a JSON file (starts with {first!r}, expected '[' or '{{')")
    except _Undecodable as exc:
        yield Item(line=parser.line, problem="undecodable",
                   detail=f"not UTF-8 text ({exc}); the rest of the file cannot be read (items before it were kept)")


class _Undecodable(Exception):
    """The bytes of a JSON file stopped being UTF-8."""


class _BadValue(Exception):
    """A value that parses no further than a reason: too deep, a too long number, too large."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


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
        self.escapes = False  # a "\\ud.." escape (maybe a lone surrogate) was seen: check elements

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
        if not self.escapes:
            joined = self.buf[-8:] + text  # an escape may straddle two chunks
            self.escapes = "\\ud" in joined or "\\uD" in joined
        self.buf += text
        if not block:
            self.eof = True
        return True


class _Parser:
    """A cursor (``pos``, 1-based ``line``) over `_TextChunks`, reading one JSON value at a time."""

    def __init__(self, chunks: _TextChunks, max_bytes: int):
        self.chunks = chunks
        self.max_bytes = max_bytes
        self.decoder = _DECODER
        self.pos = 0
        self.line = 1

    # ---------------------------------------------------------- cursor

    def peek(self) -> str | None:
        """The next non-blank character (the cursor moves onto it), or None at the end."""
        buf, pos = self.chunks.buf, self.pos
        if pos < len(buf) and buf[pos] not in _WS:  # the common case: no blank to skip
            return buf[pos]
        while True:
            buf = self.chunks.buf
            pos = self.pos
            while pos < len(buf) and buf[pos] in _WS:
                pos += 1
            self.line += buf.count("\n", self.pos, pos)
            self.pos = pos
            if pos < len(buf):
                return buf[pos]
            if not self.chunks.more():
                return None

    def compact(self) -> None:
        """Drop what was consumed, so the buffer stays small."""
        if self.pos > CHUNK * 4:
            self.chunks.buf, self.pos = self.chunks.buf[self.pos:], 0

    # ---------------------------------------------------------- values

    def decode(self) -> tuple[Any, int, int]:
        """Decode the value at the cursor and move past it; ``(value, start, end)`` in the buffer.

        Raises `json.JSONDecodeError` for broken JSON, `_BadValue` for a value to reject.
        """
        start = self.pos
        while True:
            buf = self.chunks.buf
            try:
                obj, end = self.decoder.raw_decode(buf, start)
                # A value that ends exactly at the buffer end may continue (a number cut in two).
                if end < len(buf) or self.chunks.eof:
                    break
            except json.JSONDecodeError as exc:
                # An error near the buffer's end (a cut \uXXXX escape, a missing ',') may just be
                # the chunk boundary: read more and try again. An earlier error is a real one.
                incomplete = exc.pos >= len(buf) - 16 or exc.msg.startswith("Unterminated string")
                if not incomplete or self.chunks.eof:
                    raise
            except RecursionError:
                raise _BadValue("too_deep", _too_deep_detail()) from None
            except _NotJson as exc:
                raise _BadValue("invalid_json", str(exc)) from None
            except ValueError as exc:
                raise _BadValue("number_too_long", _number_detail(exc)) from None
            if len(buf) - start > self.max_bytes:
                raise _BadValue("too_large", f"a value over the {self.max_bytes:,}-byte limit (max_document_bytes)")
            if not self.chunks.more():
                obj, end = self.decoder.raw_decode(self.chunks.buf, start)
                break
        self.line += self.chunks.buf.count("\n", start, end)
        self.pos = end
        return obj, start, end

    def skip_value(self) -> bool:
        """Move past the value at the cursor without building it; False if the file ends first.

        Brackets are matched (not checked for kind) and strings stepped over, reading and
        dropping text as it goes, so a value of any depth or size costs no memory.
        """
        scalar = self.chunks.buf[self.pos] not in '[{"'
        depth, in_string, i = 0, False, self.pos
        while True:
            buf = self.chunks.buf
            pattern = _SCALAR_END if scalar else _STRING_END if in_string else _TOKEN
            found = pattern.search(buf, i)
            if found is None:
                cut = min(i, len(buf))
                self._move_to(cut)
                self.chunks.buf, self.pos, i = buf[cut:], 0, i - cut
                if not self.chunks.more():
                    return scalar  # a scalar may end with the file; anything else is cut off
                continue
            char, i = found.group(), found.end()
            if scalar:
                return self._move_to(found.start())
            if in_string:
                if char == "\\":
                    i += 1  # the escaped character, whatever it is
                    continue
                in_string = False
            elif char == '"':
                in_string = True
                continue
            elif char in "[{":
                depth += 1
                continue
            else:
                depth -= 1
            if depth == 0:
                return self._move_to(i)

    def _move_to(self, end: int) -> bool:
        """Move the cursor to ``end``, counting the lines passed; True."""
        self.line += self.chunks.buf.count("\n", self.pos, end)
        self.pos = end
        return True

    # ---------------------------------------------------------- structures

    def array_elements(self) -> Generator[Item, None, bool]:
        """Items for the elements of the array whose '[' was just passed; True when its ']' is read.

        A broken or cut array yields one last problem item and returns False.
        """
        index, expect_value = 0, True  # after '[' or ','
        while True:
            char = self.peek()
            if char is None:
                yield _truncated(self.line, index, "array", "]")
                return False
            if char == "]" and (index == 0 or not expect_value):
                self.pos += 1
                return True
            if not expect_value:
                if char != ",":
                    yield _broken(self.line, index, f"expected ',' or ']' but found {char!r}")
                    return False
                self.pos, expect_value = self.pos + 1, True
                continue
            item = yield from self._element(index)
            if item is None:
                return False
            yield item
            index, expect_value = index + 1, False
            self.compact()

    def _element(self, index: int) -> Generator[Item, None, Item | None]:
        """The item for the array element at the cursor, or None when the array cannot go on."""
        line = self.line
        try:
            obj, start, end = self.decode()
        except json.JSONDecodeError as exc:
            err_line = line + self.chunks.buf.count("\n", self.pos, exc.pos)
            yield _broken(err_line, index, f"invalid JSON: {exc.msg}")
            return None
        except _BadValue as bad:
            if not self.skip_value():
                yield Item(line=line, offset=index, problem=bad.reason, detail=bad.detail)
                yield _truncated(self.line, index + 1, "array", "]")
                return None
            return Item(line=line, offset=index, problem=bad.reason, detail=bad.detail)
        return checked_record(obj, self.chunks.buf, line=line, offset=index, start=start, end=end,
                              escapes=self.chunks.escapes)

    def wrapped_records(self) -> Iterator[Item]:
        """The records of an object: its first array of objects, streamed; else the object itself.

        Members before that array are held (they are small); those after it are skipped
        unread, and a second array of objects is reported as one reject.
        """
        self.pos += 1  # past '{'
        envelope: dict[str, Any] = {}
        envelope_problem: Item | None = None
        records_key: str | None = None
        expect_member, members = True, 0
        while True:
            char = self.peek()
            if char is None:
                yield _truncated(self.line, None, "object", "}")
                return
            if char == "}" and (members == 0 or not expect_member):
                break
            if not expect_member:
                if char != ",":
                    yield _broken(self.line, None, f"expected ',' or '}}' but found {char!r}")
                    return
                self.pos, expect_member = self.pos + 1, True
                continue
            key = self._key()
            if key is None:
                yield _broken(self.line, None, "expected a \"key\": value")
                return
            if self.peek() is None:
                yield _truncated(self.line, None, "object", "}")
                return
            line, value_pos = self.line, self.pos
            if self._array_of_objects_ahead():
                if records_key is None:
                    records_key = key
                    if not (yield from self.array_elements()):
                        return
                else:
                    yield Item(line=line, problem="extra_records",
                               detail=f"a second array of records, {key!r}, was not read: only the first, "
                                      f"{records_key!r}, is (keep one array of records per file)")
                    self.pos, self.line = value_pos, line  # back on its '['
                    if not self.skip_value():
                        yield _truncated(self.line, None, "object", "}")
                        return
            elif records_key is not None:
                if not self.skip_value():  # envelope after the records: not needed
                    yield _truncated(self.line, None, "object", "}")
                    return
            else:
                try:
                    envelope[key] = self.decode()[0]
                except json.JSONDecodeError as exc:
                    yield _broken(line + self.chunks.buf.count("\n", self.pos, exc.pos), None,
                                  f"invalid JSON: {exc.msg}")
                    return
                except _BadValue as bad:
                    envelope_problem = Item(line=line, offset=0, problem=bad.reason, detail=f"{key!r}: {bad.detail}")
                    if not self.skip_value():
                        yield _truncated(self.line, None, "object", "}")
                        return
            members, expect_member = members + 1, False
        self.pos += 1  # past '}'
        if extra := self.trailing_data():
            yield extra  # (NDJSON named .json, say): the object alone is no record
        elif records_key is None:
            yield envelope_problem or checked_record(envelope, None, line=1, offset=0)

    def trailing_data(self) -> Item | None:
        """A problem item when text follows the document's one top-level value."""
        if self.peek() is None:
            return None
        return _broken(self.line, None, "extra data after the top-level JSON value (JSON Lines? name the file "
                                        "*.jsonl)")

    def _key(self) -> str | None:
        """The member name at the cursor, past its ':'; None when there is none."""
        if self.peek() != '"':
            return None
        try:
            key = self.decode()[0]
        except (json.JSONDecodeError, _BadValue):
            return None
        if self.peek() != ":":
            return None
        self.pos += 1
        return key

    def _array_of_objects_ahead(self) -> bool:
        """True when the value at the cursor is an array whose first element is an object.

        Leaves the cursor inside the array (past '[') when True, unmoved otherwise.
        """
        if self.chunks.buf[self.pos] != "[":
            return False
        pos, line = self.pos, self.line
        self.pos += 1
        if self.peek() == "{":
            return True
        self.pos, self.line = pos, line
        return False


def _broken(line: int, index: int | None, detail: str) -> Item:
    return Item(line=line, offset=index, problem="invalid_json",
                detail=f"{detail}; the rest of the file cannot be read (items before it were kept)")


def _truncated(line: int, index: int | None, what: str, closer: str) -> Item:
    return Item(line=line, offset=index, problem="truncated",
                detail=f"the JSON {what} ends without '{closer}' (file cut off?); items before it were kept")
