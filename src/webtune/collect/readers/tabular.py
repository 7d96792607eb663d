"""CSV/TSV (delimiter and encoding detected, header required) and Parquet readers, streaming."""

from __future__ import annotations

import csv
import io
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator

from webtune.collect.readers.base import Item, looks_binary, open_binary
from webtune.errors import InputError

SNIFF_BYTES = 64 * 1024
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def detect_encoding(sample: bytes) -> str:
    """The text encoding of ``sample``.

    UTF-8 when its non-ASCII lines mostly decode as UTF-8 (then the few that do not are
    broken lines, rejected one by one); otherwise charset-normalizer's guess, preferring
    Windows-1252 among the single-byte Latin encodings it cannot tell apart.
    """
    if sample.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    good = bad = 0
    for line in sample.split(b"\n")[:-1] or [sample]:
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            good += 1
        except UnicodeDecodeError:
            bad += 1
    if good >= bad:
        return "utf-8"
    from charset_normalizer import from_bytes

    results = from_bytes(sample)
    best = results.best()
    if best is None:
        return "utf-8"
    latin = next((r for r in results if r.encoding == "cp1252"), None)
    if latin is not None and best.encoding.startswith(("cp125", "iso8859", "latin")) and latin.chaos <= best.chaos + 0.1:
        return "cp1252"
    return best.encoding


def sniff_delimiter(text: str, fmt: str) -> str:
    """Tab for TSV; otherwise the delimiter `csv.Sniffer` finds among , ; | and tab."""
    if fmt == "tsv":
        return "\t"
    try:
        return csv.Sniffer().sniff(text[:SNIFF_BYTES], delimiters=",;|\t").delimiter
    except csv.Error:
        return ","


def read_csv(path: Path, compression: str | None, options: dict[str, Any]) -> Iterator[Item]:
    """One item per row, as a dict keyed by the header; bad rows become problem items."""
    with open_binary(path, compression) as fh:
        buffered = fh if hasattr(fh, "peek") else io.BufferedReader(fh)  # type: ignore[arg-type]
        sample = buffered.peek(SNIFF_BYTES)[:SNIFF_BYTES]
        if looks_binary(sample):
            raise InputError(f"{path}: not a CSV/TSV file (binary data)")
        encoding = options.get("encoding") or detect_encoding(sample)
        bad_lines: set[int] = set()
        if encoding.replace("_", "-").lower().startswith(("utf-16", "utf-32")):
            # Multi-byte encodings cannot be split at b"\n": decode the stream as a whole.
            lines: Any = io.TextIOWrapper(buffered, encoding=encoding, newline="")
        else:
            lines = _decoded_lines(buffered, encoding, bad_lines)
        delimiter = options.get("delimiter") or sniff_delimiter(
            sample.decode(encoding, errors="replace"), options["format"])
        reader = csv.reader(lines, delimiter=delimiter)
        header = _header(reader, path)
        yield from _rows(reader, header, bad_lines, encoding)


def _decoded_lines(fh: Any, encoding: str, bad_lines: set[int]) -> Iterator[str]:
    """Decode line by line so one undecodable line is rejected instead of the whole file."""
    for line_no, raw in enumerate(fh, start=1):
        try:
            yield raw.decode(encoding)
        except UnicodeDecodeError:
            bad_lines.add(line_no)
            yield raw.decode(encoding, errors="replace")


def _header(reader: Any, path: Path) -> list[str]:
    try:
        header = next(reader)
    except StopIteration:
        raise InputError(f"{path}: empty CSV file (a header row is required)") from None
    names = [h.strip() for h in header]
    if not any(names):
        raise InputError(f"{path}:1: the header row is empty")
    if any(not n for n in names):
        raise InputError(f"{path}:1: header has an empty column name (a header row is required)")
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise InputError(f"{path}:1: header has duplicate column names: {', '.join(dupes)}")
    if all(_is_number(n) for n in names):
        raise InputError(f"{path}:1: the first row looks like data, not a header (a header row is required)")
    return names


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _rows(reader: Any, header: list[str], bad_lines: set[int], encoding: str) -> Iterator[Item]:
    start = reader.line_num + 1
    index = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield Item(line=start, offset=index, problem="invalid_csv", detail=f"invalid CSV: {exc}")
            start, index = reader.line_num + 1, index + 1
            continue
        end = reader.line_num
        if not any(cell.strip() for cell in row):
            start = end + 1
            continue
        if any(n in bad_lines for n in range(start, end + 1)):
            yield Item(line=start, offset=index, problem="undecodable", raw=row,
                       detail=f"not valid {encoding} text")
        elif len(row) != len(header):
            yield Item(line=start, offset=index, problem="wrong_column_count", raw=row,
                       detail=f"{len(row)} columns where the header has {len(header)}")
        else:
            yield Item(line=start, offset=index, record=dict(zip(header, row)))
        start, index = end + 1, index + 1


def read_parquet(path: Path, compression: str | None, options: dict[str, Any]) -> Iterator[Item]:
    """One item per row, read in record batches; a compressed file is unpacked to a temp file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    with tempfile.TemporaryDirectory(prefix="webtune-parquet-") as tmp:
        local = path
        if compression:
            local = Path(tmp) / "data.parquet"
            with open_binary(path, compression) as src, open(local, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        with open(local, "rb") as fh:
            if fh.read(4) != b"PAR1":
                raise InputError(f"{path}: not a Parquet file (no PAR1 header)")
        try:
            parquet = pq.ParquetFile(local)
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(f"{path}: unreadable Parquet file: {exc}") from None
        index = 0
        for batch in parquet.iter_batches(batch_size=1024):
            for row in batch.to_pylist():
                yield Item(offset=index, record=_jsonable(row))
                index += 1


def _jsonable(value: Any) -> Any:
    """Parquet values (dates, decimals, bytes) as JSON values."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
