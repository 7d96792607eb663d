"""JSONL stores and atomic file writes.

Every write goes to a temporary file in the same directory and is renamed into place
only when complete, so a killed process never leaves a half-written file behind that
a later run would trust.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

from webtune.errors import InputError


_UMASK = os.umask(0)
os.umask(_UMASK)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the usual permissions
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_write_json(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


def dumps_line(obj: Any, ensure_ascii: bool = False) -> str:
    """One JSONL line (without the newline) for a dict or a record with ``to_json``."""
    if hasattr(obj, "to_json"):
        obj = obj.to_json()
    return json.dumps(obj, ensure_ascii=ensure_ascii, default=str)


class JsonlWriter:
    """Append records to a JSONL file that appears at ``path`` only on a clean close."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.count = 0
        self._ctx = atomic_path(self.path)
        self._tmp = self._ctx.__enter__()
        self._fh = open(self._tmp, "w", encoding="utf-8")

    def write(self, obj: Any) -> None:
        """Append one record as a line."""
        try:
            self._fh.write(dumps_line(obj) + "\n")
        except UnicodeEncodeError:
            # A lone surrogate ("\ud800" from JSON) has no UTF-8 form: write it \u-escaped, as
            # JSON allows, instead of failing the stage (the encoder wrote nothing yet).
            self._fh.write(dumps_line(obj, ensure_ascii=True) + "\n")
        self.count += 1

    def write_many(self, objs: Iterable[Any]) -> None:
        for obj in objs:
            self.write(obj)

    def close(self, ok: bool = True) -> None:
        if self._fh.closed:
            return
        self._fh.close()
        if ok:
            self._ctx.__exit__(None, None, None)
        else:
            self._ctx.__exit__(RuntimeError, RuntimeError("aborted"), None)

    def __enter__(self) -> "JsonlWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(ok=exc_type is None)


def write_jsonl(path: str | Path, objs: Iterable[Any]) -> int:
    """Write all ``objs`` to ``path`` atomically; return how many were written."""
    with JsonlWriter(path) as writer:
        writer.write_many(objs)
        return writer.count


def json_error(exc: json.JSONDecodeError) -> str:
    """``invalid JSON: <what> at column N``; some of json's messages already end in "at"."""
    return f"invalid JSON: {exc.msg.removesuffix(' at')} at column {exc.colno}"


def parse_json_line(text: str | bytes) -> tuple[Any, str | None]:
    """``(object, None)`` for one JSON line, ``(None, "invalid JSON: ...")`` for a bad one.

    The one place a JSONL line is parsed: every reader (stores, collect's JSON Lines reader,
    the clean workers, crawl and metrics logs) shares its error text.
    """
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        return None, json_error(exc)
    except RecursionError:  # nested deeper than the parser can follow ([[[[...]]]] 100,000 deep)
        return None, "invalid JSON: nested too deep to read"
    except ValueError as exc:  # an integer over Python's 4,300-digit limit
        return None, f"invalid JSON: a number too long to read ({str(exc).split(';')[0]})"


def iter_jsonl_lines(path: str | Path) -> Iterator[tuple[int, Any | None, str | None]]:
    """Yield ``(line_number, object, error)`` for each non-blank line; never raises on bad JSON.

    Used where a bad line must become a reject instead of stopping the stage. Text that is
    not UTF-8 raises UnicodeDecodeError.
    """
    path = Path(path)
    with open(path, "r", encoding="utf-8", errors="strict") as fh:
        for line_no, line in enumerate(fh, start=1):
            if line.strip():
                obj, error = parse_json_line(line)
                yield line_no, obj, error


def read_jsonl(path: str | Path, *, skip_invalid: bool = False) -> Iterator[Any]:
    """Yield the objects of a JSONL file; a bad line is an InputError naming file and line.

    ``skip_invalid`` passes over bad lines instead: for logs whose last line a kill may cut off.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    try:
        for line_no, obj, error in iter_jsonl_lines(path):
            if error is None:
                yield obj
            elif not skip_invalid:
                raise InputError(f"{path}:{line_no}: {error}")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc


def count_lines(path: str | Path) -> int:
    """Number of non-blank lines in a text file (0 when it does not exist)."""
    path = Path(path)
    if not path.exists():
        return 0
    with open(path, "rb") as fh:
        return sum(1 for line in fh if line.strip())


def read_json_object(path: str | Path, missing_hint: str = "not found") -> dict[str, Any]:
    """A JSON object from ``path``; an InputError names the file when it is missing or malformed."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: {missing_hint}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise InputError(f"{path}: invalid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object")
    return data
