"""The files source: every format, compressed or not, broken records rejected with file and line."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pytest

from webtune.collect.readers import json_reader
from webtune.errors import InputError
from webtune.records import Document, content_id

PRODUCTS = [
    {"title": "Blue Binder, 2 Inch", "brand": "Campus Line", "description": "Holds 500 sheets.",
     "url": "https://www.amazon.com/dp/B01", "final_price": 19.49, "features": ["2-inch rings", "PVC-free"]},
    {"title": "Gel Pens, 12 Pack", "brand": "InkWell", "description": "Quick-drying gel ink.",
     "url": "https://www.amazon.com/dp/B02", "final_price": 9.99, "features": ["0.7mm"]},
    {"title": "Stapler", "brand": "Clampit", "description": None, "url": "https://www.amazon.com/dp/B03"},
]


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def test_json_array_of_products_like_the_demo(tmp_path, collect):
    write(tmp_path / "data" / "snapshot.json", json.dumps(PRODUCTS + [PRODUCTS[0]], indent=2))
    out = collect([{"kind": "files", "paths": ["data/snapshot.json"], "fields": {"title": "title", "url": "url"}}])
    assert out.manifest.counts.to_json() == {"in": 4, "kept": 4, "rejected": 0}
    docs = [Document.model_validate(d) for d in out.docs]
    assert [d.fields for d in docs] == PRODUCTS + [PRODUCTS[0]]
    assert [d.source.offset for d in docs] == [0, 1, 2, 3]
    assert {d.source.kind for d in docs} == {"files"} and docs[0].source.uri.endswith("snapshot.json")
    assert docs[0].source.line == 2  # the line where the element starts
    assert {d.content_type for d in docs} == {"application/json"}
    assert docs[0].meta == {"title": "Blue Binder, 2 Inch", "url": "https://www.amazon.com/dp/B01"}
    assert docs[0].id == content_id({"fields": PRODUCTS[0]}) == docs[3].id  # a content hash
    assert len({d.id for d in docs}) == 3
    assert out.manifest.stats["sources"][0]["formats"] == {"json": 1}


def test_json_array_streams_across_chunk_boundaries(tmp_path, collect, monkeypatch):
    monkeypatch.setattr(json_reader, "CHUNK", 7)  # elements and numbers split across many reads
    items = [{"n": i, "price": 1234567 + i, "text": "é" * (i % 5)} for i in range(40)] + [12345678]
    write(tmp_path / "a.json", json.dumps(items))
    out = collect([{"kind": "files", "paths": ["a.json"]}])
    assert [d["fields"] for d in out.docs] == items[:-1]
    assert out.rejects[0]["reason"] == "not_an_object" and out.rejects[0]["source"]["offset"] == 40


def test_broken_json_array_keeps_what_came_before(tmp_path, collect):
    write(tmp_path / "broken.json", '[\n {"a": 1},\n {"a": 2},\n {"a": 3 "b": 4},\n {"a": 5}\n]')
    write(tmp_path / "cut.json", '[{"a": 1}, {"a": 2}')
    out = collect([{"kind": "files", "paths": ["broken.json", "cut.json"]}])
    assert [d["fields"]["a"] for d in out.docs] == [1, 2, 1, 2]
    broken, cut = out.rejects
    assert broken["reason"] == "invalid_json" and broken["source"]["line"] == 4
    assert "broken.json:4" in broken["message"] and "Expecting ',' delimiter" in broken["message"]
    assert cut["reason"] == "truncated" and cut["source"]["uri"].endswith("cut.json")
    assert out.manifest.counts.to_json() == {"in": 6, "kept": 4, "rejected": 2}


def test_json_object_holding_an_array_or_one_record(tmp_path, collect):
    write(tmp_path / "wrapped.json", json.dumps({"total": 2, "data": PRODUCTS[:2]}))
    write(tmp_path / "one.json", json.dumps(PRODUCTS[0]))
    out = collect([{"kind": "files", "paths": ["wrapped.json", "one.json"]}])
    assert [d["fields"] for d in out.docs] == PRODUCTS[:2] + [PRODUCTS[0]]


def test_jsonl_bad_lines_are_rejected_and_the_rest_continues(tmp_path, collect):
    lines = [json.dumps(PRODUCTS[0]).encode(), b"{not json", b"", b"[1, 2]", b'{"title": "caf\xe9"}',
             json.dumps(PRODUCTS[1]).encode()]
    write(tmp_path / "items.ndjson", b"\n".join(lines) + b"\n")
    out = collect([{"kind": "files", "paths": ["items.ndjson"], "fields": {"text": "description"}}])
    assert [d["fields"] for d in out.docs] == PRODUCTS[:2]
    assert out.docs[0]["text"] == "Holds 500 sheets." and [d["source"]["line"] for d in out.docs] == [1, 6]
    assert [(r["reason"], r["source"]["line"]) for r in out.rejects] == [
        ("invalid_json", 2), ("not_an_object", 4), ("undecodable", 5)]
    assert all(r["stage"] == "collect" and r["step"] == "files" for r in out.rejects)
    assert out.rejects[0]["record"] == "{not json"
    assert out.manifest.counts.to_json() == {"in": 5, "kept": 2, "rejected": 3}


def test_gzip_and_zstd_compressed_files(tmp_path, collect):
    import zstandard

    text = "".join(json.dumps(p) + "\n" for p in PRODUCTS)
    write(tmp_path / "a.jsonl.gz", gzip.compress(text.encode()))
    write(tmp_path / "b.jsonl.zst", zstandard.ZstdCompressor().compress(text.encode()))
    write(tmp_path / "c.csv.gz", gzip.compress(b"title,body\nA,hello\n"))
    out = collect([{"kind": "files", "paths": ["a.jsonl.gz", "b.jsonl.zst", "c.csv.gz"]}])
    assert [d["fields"] for d in out.docs] == PRODUCTS + PRODUCTS + [{"title": "A", "body": "hello"}]


@pytest.mark.parametrize("name,data,message", [
    ("plain.jsonl.gz", b'{"a": 1}\n', "named as gzip-compressed but is not gzip data"),
    ("plain.json.zst", b'{"a": 1}', "not zstd data"),
    ("table.parquet", b"title,body\n", "not a Parquet file"),
    ("notes.json", b"title: hello\n", "not a JSON file"),
    ("clip.vtt", b"1\n00:00:01,000 --> 00:00:02,000\nhi\n", "must start with 'WEBVTT'"),
    ("image.csv", bytes(range(256)), "binary data"),
    ("odd.xyz", b"hello", "cannot tell the format"),
    # warcio reads garbage as an ARC file, and a bare "WARC/1.0" as a record of no type
    ("garbage.warc", b"garbage not warc at all\n", "not a WARC file or a broken one: no 'WARC/1.x'"),
    ("bare.warc", b"WARC/1.0 broken\n", "not a WARC file or a broken one: a record without WARC-Type"),
])
def test_a_file_that_is_not_what_its_name_says_is_a_clear_error(tmp_path, collect, name, data, message):
    write(tmp_path / name, data)
    with pytest.raises(InputError, match=message) as info:
        collect([{"kind": "files", "paths": [name]}])
    assert name in str(info.value)
    assert not (tmp_path / "run" / "collect").exists()  # nothing half-written was published


def test_csv_delimiter_encoding_and_bad_rows(tmp_path, collect):
    rows = "name;body;price\r\nCafé crème;Très bon café;3,50\r\nbroken;row\r\n\"Multi\";\"line\nbody\";1\r\n"
    write(tmp_path / "menu.csv", rows.encode("cp1252"))
    out = collect([{"kind": "files", "paths": ["menu.csv"], "fields": {"text": "body", "title": "name"}}])
    assert [d["fields"] for d in out.docs] == [
        {"name": "Café crème", "body": "Très bon café", "price": "3,50"},
        {"name": "Multi", "body": "line\nbody", "price": "1"}]
    assert out.docs[0]["text"] == "Très bon café" and out.docs[0]["meta"]["title"] == "Café crème"
    assert [d["source"]["line"] for d in out.docs] == [2, 4]
    assert [(r["reason"], r["source"]["line"]) for r in out.rejects] == [("wrong_column_count", 3)]


def test_tsv_and_an_undecodable_row(tmp_path, collect):
    write(tmp_path / "t.tsv", b"a\tb\n1\t\xe2\x82\xac\n2\t\xff\xfe ok\n3\tfine\n")
    out = collect([{"kind": "files", "paths": ["t.tsv"]}])
    assert [d["fields"] for d in out.docs] == [{"a": "1", "b": "€"}, {"a": "3", "b": "fine"}]
    assert [(r["reason"], r["source"]["line"]) for r in out.rejects] == [("undecodable", 3)]


@pytest.mark.parametrize("content,message", [("1,2,3\n4,5,6\n", "looks like data"),
                                              ("a,,c\n1,2,3\n", "empty column name"),
                                              ("a,b,a\n1,2,3\n", "duplicate column names: a")])
def test_csv_header_is_required(tmp_path, collect, content, message):
    write(tmp_path / "x.csv", content)
    with pytest.raises(InputError, match=message):
        collect([{"kind": "files", "paths": ["x.csv"]}])


def test_parquet_rows(tmp_path, collect):
    import datetime

    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"title": ["A", "B"], "price": [1.5, None],
                      "day": [datetime.date(2025, 1, 2), datetime.date(2025, 1, 3)], "tags": [["x"], []]})
    pq.write_table(table, tmp_path / "t.parquet")
    out = collect([{"kind": "files", "paths": ["t.parquet"]}])
    assert [d["fields"] for d in out.docs] == [
        {"title": "A", "price": 1.5, "day": "2025-01-02", "tags": ["x"]},
        {"title": "B", "price": None, "day": "2025-01-03", "tags": []}]
    assert [d["source"]["offset"] for d in out.docs] == [0, 1]


def test_html_markdown_and_text_files(tmp_path, collect):
    write(tmp_path / "docs" / "page.html",
          '<html><head><meta charset="iso-8859-1"><title>Caf\xe9 page</title></head><body>Hi</body></html>'
          .encode("latin-1"))
    write(tmp_path / "docs" / "guide.md", "# Guide\n\nUse the stapler.\n")
    write(tmp_path / "docs" / "note.txt", "plain words\n")
    write(tmp_path / "docs" / "empty.txt", "  \n")
    write(tmp_path / "docs" / ".hidden.txt", "never read")
    out = collect([{"kind": "files", "paths": ["docs"]}])
    by_type = {d["content_type"]: d for d in out.docs}
    html = by_type["text/html"]
    assert "Café page" in html["html"] and html["fields"]["title"] == "Café page" and "text" not in html
    assert by_type["text/markdown"]["text"].startswith("# Guide") and by_type["text/markdown"]["fields"]["title"] == "Guide"
    assert by_type["text/plain"]["text"] == "plain words\n"
    assert [(r["reason"], Path(r["source"]["uri"]).name) for r in out.rejects] == [("empty", "empty.txt")]
    assert out.manifest.counts.seen == 4


SRT = """1
00:00:01,000 --> 00:00:03,500
<i>Welcome back</i> to the show.

2
00:00:03,600 --> 00:00:05,000
Today: staplers.

3
00:00:09,000 --> 00:00:11,000
ANNA: Thanks for having me.

4
00:00:11,100 --> 00:00:12,000
It's great to be here.
"""

VTT = """WEBVTT
Kind: captions

NOTE this is a comment

intro
00:00.000 --> 00:02.000 align:start
<v Bob>Hello <c.yellow>everyone</c>.

00:02.100 --> 00:04.000
<v Bob>Let's talk about pens.

00:04.100 --> 00:06.000
<v Carol>I love gel pens.
"""


def test_srt_and_vtt_transcripts_become_paragraphs(tmp_path, collect):
    write(tmp_path / "show.srt", SRT)
    write(tmp_path / "talk.vtt.gz", gzip.compress(VTT.encode()))
    out = collect([{"kind": "files", "paths": ["show.srt", "talk.vtt.gz"]}])
    srt, vtt = out.docs
    assert srt["text"] == ("Welcome back to the show. Today: staplers.\n\n"
                           "ANNA: Thanks for having me. It's great to be here.")
    assert srt["content_type"] == "application/x-subrip" and srt["fields"]["cues"] == 4
    assert vtt["text"] == "Bob: Hello everyone. Let's talk about pens.\n\nCarol: I love gel pens."
    assert "-->" not in srt["text"] + vtt["text"] and "00:" not in srt["text"] + vtt["text"]


def test_warc_responses(tmp_path, collect):
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    path = tmp_path / "crawl.warc.gz"
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for url, ctype, body in [("https://shop.example/a", "text/html; charset=utf-8", b"<html><title>A</title></html>"),
                                 ("https://shop.example/logo.png", "image/png", b"\x89PNG....")]:
            headers = StatusAndHeaders("200 OK", [("Content-Type", ctype)], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body),
                                                          http_headers=headers))
        writer.write_record(writer.create_warc_record("https://shop.example/a", "request",
                                                      payload=io.BytesIO(b"GET /a HTTP/1.1\r\n\r\n")))
    out = collect([{"kind": "files", "paths": ["crawl.warc.gz"]}])
    assert len(out.docs) == 1
    doc = out.docs[0]
    assert doc["html"] == "<html><title>A</title></html>" and doc["content_type"] == "text/html"
    assert doc["fields"]["url"] == "https://shop.example/a" and doc["fields"]["status"] == 200
    assert isinstance(doc["source"]["offset"], int)
    assert [r["reason"] for r in out.rejects] == ["not_html"]


def test_globs_and_missing_paths(tmp_path, collect):
    for i in range(3):
        write(tmp_path / "parts" / f"p{i}.jsonl", json.dumps({"i": i}) + "\n")
    out = collect([{"kind": "files", "paths": ["parts/*.jsonl"]}])
    assert [d["fields"]["i"] for d in out.docs] == [0, 1, 2]
    with pytest.raises(InputError, match="no files match"):
        collect([{"kind": "files", "paths": ["parts/*.csv"]}])
    with pytest.raises(InputError, match="file not found"):
        collect([{"kind": "files", "paths": ["nope.json"]}])


def test_an_unreadable_file_in_a_directory_is_rejected_and_the_rest_read(tmp_path, collect):
    write(tmp_path / "dump" / "a.jsonl", json.dumps({"i": 1}) + "\n")
    write(tmp_path / "dump" / "broken.json", "this is not JSON")
    write(tmp_path / "dump" / "z.csv", "i\n2\n")
    for paths in (["dump"], ["dump/*"]):
        out = collect([{"kind": "files", "paths": paths}])
        assert sorted(str(d["fields"]["i"]) for d in out.docs) == ["1", "2"]
        assert [r["reason"] for r in out.rejects] == ["unreadable_file"]
        assert out.rejects[0]["message"].startswith(str(tmp_path / "dump" / "broken.json") + ": not a JSON file")
        assert out.manifest.counts.to_json() == {"in": 3, "kept": 2, "rejected": 1}
        assert out.manifest.stats["sources"][0]["unreadable_files"] == 1
    # Named on its own, the same file stops collect with the same clear message.
    with pytest.raises(InputError, match=r"broken.json: not a JSON file"):
        collect([{"kind": "files", "paths": ["dump/broken.json"]}])


def test_a_changed_file_reruns_collect_in_a_pipeline(tmp_path):
    from webtune.config import validate_pipeline
    from webtune.pipeline import run_one_stage, stage_spec

    data = write(tmp_path / "data" / "snapshot.json", json.dumps(PRODUCTS[:1]))
    pipeline = validate_pipeline({"name": "t", "sources": [{"kind": "files", "paths": ["data/*.json"]}]},
                                 base_dir=tmp_path)
    spec, run_dir = stage_spec("collect"), tmp_path / "runs"
    first = run_one_stage(spec, pipeline, run_dir)
    assert first.counts.kept == 1 and not first.skipped
    assert run_one_stage(spec, pipeline, run_dir).skipped
    data.write_text(json.dumps(PRODUCTS[:2]))
    again = run_one_stage(spec, pipeline, run_dir)
    assert not again.skipped and again.counts.kept == 2


def test_json_array_that_stops_being_utf8_keeps_what_came_before(tmp_path, collect):
    write(tmp_path / "latin.json", b'[{"a": 1},\n{"a": "caf\xe9"}]')
    out = collect([{"kind": "files", "paths": ["latin.json"]}])
    assert [d["fields"] for d in out.docs] == [{"a": 1}]
    assert [r["reason"] for r in out.rejects] == ["undecodable"] and "latin.json" in out.rejects[0]["message"]


def test_invalid_json_messages_read_cleanly(tmp_path, collect):
    write(tmp_path / "c.jsonl", b'{"a": 1}\n{"a": "tab\tinside"}\n{"a": "open')
    out = collect([{"kind": "files", "paths": ["c.jsonl"]}])
    details = [r["message"] for r in out.rejects]
    assert [r["source"]["line"] for r in out.rejects] == [2, 3]
    assert "invalid JSON: Invalid control character at column" in details[0]
    assert "invalid JSON: Unterminated string starting at column" in details[1]
    assert not any(" at at " in d for d in details)


def test_an_unknown_encoding_is_a_config_error_naming_the_key(tmp_path):
    from webtune.config import validate_pipeline
    from webtune.errors import ConfigError

    with pytest.raises(ConfigError, match=r"sources\.0\.encoding: .*unknown text encoding 'no-such-codec'"):
        validate_pipeline({"name": "x", "sources": [{"kind": "files", "paths": ["a.csv"], "encoding": "no-such-codec"}]},
                          base_dir=tmp_path)
