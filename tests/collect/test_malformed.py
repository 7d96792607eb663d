"""Malformed input files: each ends as rejects with reasons or one line naming the file, never a
traceback, a hang or memory that grows with the file (the corpus is in malformed_corpus.py)."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import tracemalloc
from collections import Counter
from pathlib import Path

import pytest

from webtune.collect.readers import json_reader, read_items
from webtune.errors import InputError
from webtune.jsonl import JsonlWriter

from .malformed_corpus import CORPUS, GOOD, expected, small_cases, write_generated
from .test_cli import invoke

pytestmark = pytest.mark.timeout(60)  # a hang (a FIFO opened for reading) fails instead of blocking


def check_outcome(collect, path: Path, outcome: dict) -> None:
    """Collect ``path`` alone and compare with its expected outcome."""
    source = {"kind": "files", "paths": [str(path)]}
    if "error" in outcome:
        with pytest.raises(InputError) as info:
            collect([source])
        message = str(info.value)
        assert outcome["error"] in message and str(path) in message and "\n" not in message
        return
    out = collect([source])
    reasons = dict(Counter(r["reason"] for r in out.rejects))
    assert reasons == outcome["rejects"], [r["message"] for r in out.rejects]
    if outcome["kept"] == "some":
        assert len(out.docs) > 0
    else:
        assert len(out.docs) == outcome["kept"]
    counts = out.manifest.counts
    assert (counts.seen, counts.kept, counts.rejected) == (len(out.docs) + len(out.rejects), len(out.docs),
                                                           len(out.rejects))
    for reject in out.rejects:
        assert reject["source"]["uri"] == str(path) and str(path) in reject["message"]
    for doc in out.docs:  # what was kept is readable JSON text, every string valid UTF-8
        json.dumps(doc, ensure_ascii=False).encode("utf-8")


@pytest.mark.parametrize("name", sorted(expected()))
def test_checked_in_malformed_file(name, collect):
    check_outcome(collect, CORPUS / name, expected()[name])


def test_checked_in_corpus_matches_its_generator():
    assert {name: outcome for name, (_, outcome) in small_cases().items()} == expected()
    assert sorted(p.name for p in CORPUS.iterdir() if p.name != "expected.json") == sorted(expected())


def test_generated_malformed_files(tmp_path, collect):
    """JSON nested 100,000 deep (array, object, line, inside an array and a wrapper), a big cut zstd, a FIFO."""
    outcomes = write_generated(tmp_path / "gen")
    assert len(outcomes) >= 6
    for name, outcome in outcomes.items():
        check_outcome(collect, tmp_path / "gen" / name, outcome)


def test_truncation_says_how_far_it_read(tmp_path, collect):
    data = gzip.compress("".join(json.dumps({**GOOD, "n": i}) + "\n" for i in range(3000)).encode(), mtime=0)
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    out = collect([{"kind": "files", "paths": ["cut.jsonl.gz"]}])
    (reject,) = out.rejects
    assert reject["reason"] == "truncated" and 0 < len(out.docs) < 3000
    half = len(data) // 2
    assert f"read {half:,} of {half:,} bytes" in reject["message"]
    assert f"the {len(out.docs)} items before it were kept" in reject["message"]


def test_fifo_in_a_directory_is_refused_by_name_and_the_rest_is_read(tmp_path, collect):
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "a.jsonl").write_text(json.dumps(GOOD) + "\n")
    os.mkfifo(tmp_path / "dir" / "pipe.jsonl")
    out = collect([{"kind": "files", "paths": ["dir"]}])
    assert len(out.docs) == 1
    (reject,) = out.rejects
    assert reject["reason"] == "unreadable_file" and reject["source"]["uri"].endswith("pipe.jsonl")
    assert "named pipe (FIFO)" in reject["message"]


def test_over_long_jsonl_line_is_skipped_without_holding_it(tmp_path, collect):
    lines = [json.dumps(GOOD), json.dumps({"text": "x" * 5000}), json.dumps(GOOD)]
    (tmp_path / "long.jsonl").write_text("\n".join(lines) + "\n")
    out = collect([{"kind": "files", "paths": ["long.jsonl"], "max_document_bytes": 1000}])
    assert len(out.docs) == 2 and [r["reason"] for r in out.rejects] == ["too_large"]
    assert out.rejects[0]["source"]["line"] == 2 and "5,013 bytes" in out.rejects[0]["message"]


def test_over_large_array_element_is_skipped(tmp_path, collect, monkeypatch):
    monkeypatch.setattr(json_reader, "CHUNK", 256)
    items = [GOOD, {"text": "y" * 5000, "more": [1, {"a": "]"}]}, GOOD]
    (tmp_path / "a.json").write_text(json.dumps(items))
    out = collect([{"kind": "files", "paths": ["a.json"], "max_document_bytes": 1000}])
    assert [d["fields"] for d in out.docs] == [GOOD, GOOD]
    assert [(r["reason"], r["source"]["offset"]) for r in out.rejects] == [("too_large", 1)]


def _wrapped_file(path: Path, records: int) -> None:
    with open(path, "w") as fh:
        fh.write('{"total": %d, "data": [' % records)
        fh.write(",".join(json.dumps({**GOOD, "n": i, "pad": "z" * 200}) for i in range(records)))
        fh.write('], "next": null}')


def _peak_reading(path: Path) -> tuple[int, int]:
    """(records read, peak traced bytes) reading ``path`` as JSON, keeping nothing."""
    tracemalloc.start()
    try:
        count = sum(1 for item in read_items(path, "json", None, {}) if item.record is not None)
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_records_inside_a_wrapping_object_stream(tmp_path, monkeypatch):
    """Memory does not grow with the file: a file 4x larger peaks at about the same memory."""
    monkeypatch.setattr(json_reader, "CHUNK", 1 << 14)
    small, large = tmp_path / "small.json", tmp_path / "large.json"
    _wrapped_file(small, 2000)
    _wrapped_file(large, 8000)
    assert large.stat().st_size > 2_000_000
    n_small, peak_small = _peak_reading(small)
    n_large, peak_large = _peak_reading(large)
    assert (n_small, n_large) == (2000, 8000)
    assert peak_large < large.stat().st_size / 10  # the whole file would be read at once otherwise
    assert peak_large < 2 * peak_small + 200_000


def test_wrapped_object_keeps_the_first_array_and_reads_a_lone_record_whole(tmp_path, collect, monkeypatch):
    monkeypatch.setattr(json_reader, "CHUNK", 5)  # every member split across reads
    (tmp_path / "w.json").write_text(json.dumps({"meta": {"x": [1, 2]}, "items": [{"a": 1}, 7, {"a": 2}],
                                                 "tail": "t"}))
    (tmp_path / "one.json").write_text(json.dumps({"a": [1, 2], "b": {"c": []}, "d": [{"e": 1}, 2][1:]}))
    out = collect([{"kind": "files", "paths": ["w.json", "one.json"]}])
    assert [d["fields"] for d in out.docs] == [{"a": 1}, {"a": 2}, {"a": [1, 2], "b": {"c": []}, "d": [2]}]
    assert [r["reason"] for r in out.rejects] == ["not_an_object"]


def test_lone_surrogate_is_written_escaped_not_crashing(tmp_path):
    path = tmp_path / "out.jsonl"
    with JsonlWriter(path) as writer:
        writer.write({"t": "a\ud800b"})
        writer.write({"t": "é"})
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines == ['{"t": "a\\ud800b"}', '{"t": "é"}']
    assert json.loads(lines[0]) == {"t": "a\ud800b"}


def test_directory_of_good_records_and_every_malformed_file_through_the_cli(tmp_path):
    """Exit 0, every good record kept, every bad file rejected or named, and the counts add up."""
    data = tmp_path / "data"
    data.mkdir()
    with open(data / "good.jsonl", "w") as fh:
        for i in range(2000):
            fh.write(json.dumps({**GOOD, "n": i}) + "\n")
    outcomes = dict(expected())
    for name in outcomes:
        shutil.copy(CORPUS / name, data / name)
    outcomes.update(write_generated(data))
    out = tmp_path / "run" / "collect"
    result = invoke("collect", "files", str(data), "-o", str(out))
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    docs = [json.loads(line) for line in (out / "documents.jsonl").read_text().splitlines()]
    rejects = [json.loads(line) for line in (out / "rejects.jsonl").read_text().splitlines()]
    counts = manifest["counts"]
    assert counts == {"in": len(docs) + len(rejects), "kept": len(docs), "rejected": len(rejects)}
    by_file = Counter(Path(d["source"]["uri"]).name for d in docs)
    assert by_file["good.jsonl"] == 2000
    rejected_files = Counter(Path(r["source"]["uri"]).name for r in rejects)
    for name, outcome in outcomes.items():
        if "error" in outcome:  # unreadable as a whole: one reject naming it
            assert rejected_files[name] == 1 and by_file[name] == 0, name
        else:
            assert rejected_files[name] == sum(outcome["rejects"].values()), name
            if outcome["kept"] != "some":
                assert by_file[name] == outcome["kept"], name
    assert set(rejected_files) == {n for n, o in outcomes.items() if "error" in o or o["rejects"]}


@pytest.mark.parametrize("name,says", [
    ("empty.jsonl", "empty.jsonl: the file is empty (0 bytes)"),
    ("pipe.jsonl", "pipe.jsonl: is a named pipe (FIFO), not a regular file"),
    ("cut_header.json.gz", "cut_header.json.gz (item 0): gzip data cut off"),
    ("deep_object.json", "deep_object.json:1: 'a': nested more than 200 levels deep"),
])
def test_a_named_file_with_nothing_readable_is_one_line_naming_it(tmp_path, name, says):
    write_generated(tmp_path)
    for corpus_name in ("empty.jsonl", "cut_header.json.gz"):
        shutil.copy(CORPUS / corpus_name, tmp_path / corpus_name)
    result = invoke("collect", "files", str(tmp_path / name), "-o", str(tmp_path / "out"))
    assert result.exit_code != 0
    assert says in result.output and "Traceback" not in result.output
