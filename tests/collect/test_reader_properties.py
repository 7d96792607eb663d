"""Property-based tests of the JSON / JSONL readers: whatever the bytes, a reader yields records
or problems (or raises InputError naming the file), and well-formed files read back exactly."""

from __future__ import annotations

import gzip
import json
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webtune.collect.readers import json_reader, read_items
from webtune.errors import InputError

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# Text without lone surrogates (those are rejected on purpose, see test_malformed.py).
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
SCALARS = st.none() | st.booleans() | st.integers(-10**30, 10**30) | st.floats(allow_nan=False,
                                                                                allow_infinity=False) | TEXT
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
                      max_leaves=12)
RECORDS = st.lists(st.dictionaries(TEXT, VALUES, max_size=5), max_size=8)


@contextmanager
def chunk_size(size: int) -> Iterator[None]:
    """Read JSON in chunks of ``size`` characters, so values straddle every boundary."""
    saved = json_reader.CHUNK
    json_reader.CHUNK = size
    try:
        yield
    finally:
        json_reader.CHUNK = saved


def read(path: Path, fmt: str, compression: str | None = None) -> list:
    return list(read_items(path, fmt, compression, {}))


def records_of(items: list) -> list:
    assert all(i.problem is None for i in items), [(i.problem, i.detail) for i in items if i.problem]
    return [i.record for i in items]


@SETTINGS
@given(records=RECORDS, chunk=st.integers(1, 64), indent=st.sampled_from([None, 0, 2]))
def test_array_wrapped_object_and_lines_read_back_exactly(tmp_path, records, chunk, indent):
    array, wrapped, lines = tmp_path / "a.json", tmp_path / "w.json", tmp_path / "l.jsonl"
    array.write_text(json.dumps(records, indent=indent))
    wrapper = {"total": len(records), "note": {"x": [1, 2]}, "data": records, "after": [1]}
    wrapped.write_text(json.dumps(wrapper, indent=indent))
    lines.write_text("".join(json.dumps(r) + "\n" for r in records))
    with chunk_size(chunk):
        assert records_of(read(array, "json")) == records
        # An empty array holds no records: the object is then the one record.
        assert records_of(read(wrapped, "json")) == (records if records else [wrapper])
        assert records_of(read(lines, "jsonl")) == records


@SETTINGS
@given(data=st.binary(max_size=300), fmt=st.sampled_from(["json", "jsonl"]), chunk=st.integers(1, 32))
def test_any_bytes_give_items_or_a_named_error(tmp_path, data, fmt, chunk):
    path = tmp_path / f"x.{fmt}"
    path.write_bytes(data)
    try:
        with chunk_size(chunk):
            items = read(path, fmt)
    except InputError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc)
        return
    for item in items:
        assert (item.record is not None) != (item.problem is not None)
        if item.record is not None:
            json.dumps(item.record, ensure_ascii=False).encode("utf-8")  # writable as UTF-8 JSON


@SETTINGS
@given(records=RECORDS.filter(bool), cut=st.floats(0, 1), edit=st.text(max_size=3), chunk=st.integers(1, 64))
def test_damaged_json_keeps_a_prefix_and_says_so(tmp_path, records, cut, edit, chunk):
    """Text cut or overwritten anywhere: the records read are the ones before the damage."""
    text = json.dumps(records)
    at = int(len(text) * cut)
    path = tmp_path / "d.json"
    damaged = text[:at] + edit
    path.write_text(damaged, encoding="utf-8", errors="surrogatepass")
    try:
        with chunk_size(chunk):
            items = read(path, "json")
    except InputError:
        return
    kept = [i.record for i in items if i.record is not None]
    assert kept == records[: len(kept)] or len(kept) <= 1  # (a damaged array can read as one object)
    try:
        json.loads(damaged.encode("utf-8", errors="surrogatepass"))
    except ValueError:  # not JSON: never read as if it were whole (a blank file is the files source's error)
        assert any(i.problem for i in items) or not damaged.strip()


@SETTINGS
@given(records=RECORDS.filter(bool), cut=st.floats(0, 0.999))
def test_cut_gzip_keeps_a_prefix_and_reports_the_cut(tmp_path, records, cut):
    data = gzip.compress("".join(json.dumps(r) + "\n" for r in records).encode(), mtime=0)
    path = tmp_path / "c.jsonl.gz"
    path.write_bytes(data[: max(1, int(len(data) * cut))])
    try:
        items = read(path, "jsonl", "gzip")
    except InputError as exc:  # too short to be gzip at all
        assert "gzip" in str(exc)
        return
    kept = [i.record for i in items if i.record is not None]
    assert kept == records[: len(kept)]
    assert [i.problem for i in items if i.problem] == ["truncated"]
