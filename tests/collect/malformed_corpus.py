"""The corpus of malformed input files and what `webtune collect files` must make of each.

Small cases are checked in under ``tests/collect/malformed/`` (with ``expected.json``);
regenerate them with ``python -m tests.collect.malformed_corpus``. Large ones (JSON nested
100,000 deep, a big cut zstd file) and a FIFO, which git cannot hold, are written into a
temporary directory at test time by `write_generated`.

An outcome is either ``{"kept": n, "rejects": {reason: count}}`` (``kept`` may be
``"some"`` where the exact number depends on where a compressor cut) or
``{"error": "text of the one-line error"}`` for a file of which nothing can be read.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).resolve().parent / "malformed"
DEEP = 100_000
GOOD = {"title": "Blue Binder", "text": "Holds 500 sheets of paper."}


def good_line(n: int) -> str:
    return json.dumps({**GOOD, "n": n})


def nested_record(depth: int) -> str:
    """A JSON object whose containers nest exactly ``depth`` levels (the object is level 1)."""
    return '{"a": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def zst(data: bytes) -> bytes:
    import zstandard

    return zstandard.ZstdCompressor().compress(data)


def warc(records: list[tuple[str | None, bytes]], gzip_records: bool = False) -> bytes:
    """A WARC of HTML response records; a None URL leaves out WARC-Target-URI."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    out = io.BytesIO()
    writer = WARCWriter(out, gzip=gzip_records)
    for url, body in records:
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
        record = writer.create_warc_record(url or "http://placeholder.test/", "response",
                                           payload=io.BytesIO(body), http_headers=http)
        if url is None:
            record.rec_headers.remove_header("WARC-Target-URI")
        writer.write_record(record)
    return out.getvalue()


def page(n: int) -> bytes:
    return f"<html><head><title>Page {n}</title></head><body><p>Words on page {n}.</p></body></html>".encode()


def small_cases() -> dict[str, tuple[bytes, dict[str, Any]]]:
    """``name -> (bytes, outcome)`` for the checked-in corpus."""
    lines = [good_line(i) for i in range(60)]
    array_head = ("[" + ",".join(lines) + ",").encode()
    array_tail = (",".join(good_line(i) for i in range(60, 100)) + "]").encode()
    jsonl_head = "".join(line + "\n" for line in lines).encode()
    jsonl_tail = "".join(good_line(i) + "\n" for i in range(60, 100)).encode()
    five_pages = [(f"http://shop.test/{n}", page(n)) for n in range(5)]
    plain_warc = warc(five_pages)
    gz_warc = warc(five_pages, gzip_records=True)
    last_plain = plain_warc.rindex(b"WARC/1.0\r\n")
    return {
        # nesting: exactly at the limit is kept, one level more is rejected
        "deep_limit.jsonl": ("\n".join([good_line(1), nested_record(201), nested_record(200)]).encode() + b"\n",
                             {"kept": 2, "rejects": {"too_deep": 1}}),
        "bigint.jsonl": (f'{good_line(1)}\n{{"n": {"9" * 5000}}}\n{good_line(2)}\n'.encode(),
                         {"kept": 2, "rejects": {"number_too_long": 1}}),
        "bigint.json": (f'[{good_line(1)}, {{"n": {"9" * 5000}}}, {good_line(2)}]'.encode(),
                        {"kept": 2, "rejects": {"number_too_long": 1}}),
        "surrogate.jsonl": (f'{good_line(1)}\n{{"t": "\\ud800"}}\n{{"t": "ok \\ud83d\\ude00"}}\n'.encode(),
                            {"kept": 2, "rejects": {"invalid_text": 1}}),
        "surrogate.json": (f'[{good_line(1)}, {{"t": "\\ud800"}}, {{"\\udc00": 1}}]'.encode(),
                           {"kept": 1, "rejects": {"invalid_text": 2}}),
        # Python's json reads these, but they are not JSON (and would be written out as bare NaN)
        "nan.jsonl": (f'{good_line(1)}\n{{"price": NaN}}\n{{"price": -Infinity}}\n{good_line(2)}\n'.encode(),
                      {"kept": 2, "rejects": {"invalid_json": 2}}),
        "nan.json": (f'[{good_line(1)}, {{"price": [1, Infinity]}}, {good_line(2)}]'.encode(),
                     {"kept": 2, "rejects": {"invalid_json": 1}}),
        "empty.json": (b"", {"error": "the file is empty (0 bytes)"}),
        "empty.jsonl": (b"", {"error": "the file is empty (0 bytes)"}),
        "empty.warc": (b"", {"error": "the file is empty (0 bytes)"}),
        "blank.jsonl": (b"\n  \n\n", {"error": "the file holds no records"}),
        "empty_array.json": (b"[ ]\n", {"error": "the file holds no records"}),
        "wrapped_two_arrays.json": (json.dumps({"total": 3, "data": [GOOD, GOOD, GOOD], "more": [GOOD]}).encode(),
                                    {"kept": 3, "rejects": {"extra_records": 1}}),
        "ndjson_named.json": (f"{good_line(1)}\n{good_line(2)}\n".encode(), {"kept": 0, "rejects": {"invalid_json": 1}}),
        "no_uri.warc": (warc([("http://shop.test/1", page(1)), (None, page(2))]),
                        {"kept": 1, "rejects": {"no_url": 1}}),
        "cut.warc": (plain_warc[: last_plain + 120], {"kept": 4, "rejects": {"truncated": 1}}),
        "cut.warc.gz": (gz_warc[: len(gz_warc) - 40], {"kept": 4, "rejects": {"truncated": 1}}),
        # a gzip member / zstd frame holding the first 60 records, then one cut after its header
        "cut.json.gz": (gz(array_head) + gz(array_tail)[:10], {"kept": 60, "rejects": {"truncated": 1}}),
        "cut.jsonl.gz": (gz(jsonl_head) + gz(jsonl_tail)[:10], {"kept": 60, "rejects": {"truncated": 1}}),
        "cut.jsonl.zst": (zst(jsonl_head) + zst(jsonl_tail)[:6], {"kept": 60, "rejects": {"truncated": 1}}),
        "cut_header.json.gz": (gz(array_head)[:10], {"kept": 0, "rejects": {"truncated": 1}}),
        # one document per file: half a page is not kept
        "cut.md.gz": (gz(b"# Notes\n\n" + b"Some words about binders. " * 40)[:-12],
                      {"kept": 0, "rejects": {"truncated": 1}}),
        "corrupt.jsonl.gz": (gz(jsonl_head) + b"\x1f\x8b\x08\x00" + b"\xff" * 64,
                             {"kept": 60, "rejects": {"corrupt": 1}}),
    }


def write_generated(directory: Path) -> dict[str, dict[str, Any]]:
    """Write the large cases (and a FIFO) into ``directory``; return ``name -> outcome``."""
    directory.mkdir(parents=True, exist_ok=True)
    deep_array = "[" * DEEP + "]" * DEEP
    deep_object = '{"a":' * DEEP + "1" + "}" * DEEP
    cases = {
        "deep_array.json": (deep_array, {"kept": 0, "rejects": {"too_deep": 1}}),
        "deep_object.json": (deep_object, {"kept": 0, "rejects": {"too_deep": 1}}),
        "deep_lines.jsonl": ("\n".join([good_line(1), deep_array, deep_object, good_line(2)]) + "\n",
                             {"kept": 2, "rejects": {"too_deep": 2}}),
        "deep_in_array.json": (f"[{good_line(1)}, {deep_object}, {deep_array}, {good_line(2)}]",
                               {"kept": 2, "rejects": {"too_deep": 2}}),
        "deep_in_wrapper.json": (f'{{"data": [{good_line(1)}, {deep_object}, {good_line(2)}]}}',
                                 {"kept": 2, "rejects": {"too_deep": 1}}),
    }
    outcomes = {}
    for name, (text, outcome) in cases.items():
        (directory / name).write_text(text)
        outcomes[name] = outcome
    # A larger zstd file cut in half: it used to pass as whole. Random text keeps it incompressible.
    lines = "".join(json.dumps({**GOOD, "n": i, "noise": os.urandom(24).hex()}) + "\n" for i in range(4000))
    data = zst(lines.encode())
    (directory / "big_cut.jsonl.zst").write_bytes(data[: len(data) // 2])
    outcomes["big_cut.jsonl.zst"] = {"kept": "some", "rejects": {"truncated": 1}}
    if hasattr(os, "mkfifo"):
        os.mkfifo(directory / "pipe.jsonl")
        outcomes["pipe.jsonl"] = {"error": "is a named pipe (FIFO), not a regular file"}
    return outcomes


def expected() -> dict[str, dict[str, Any]]:
    """The checked-in ``expected.json``: name -> outcome."""
    return json.loads((CORPUS / "expected.json").read_text())


def write_corpus(directory: Path = CORPUS) -> None:
    """(Re)write the checked-in small corpus and its ``expected.json``."""
    directory.mkdir(parents=True, exist_ok=True)
    outcomes = {}
    for name, (data, outcome) in small_cases().items():
        (directory / name).write_bytes(data)
        outcomes[name] = outcome
    (directory / "expected.json").write_text(json.dumps(outcomes, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    write_corpus(Path(sys.argv[1]) if len(sys.argv) > 1 else CORPUS)
