"""The clean stage end to end: counts on messy input, rejects, report, stats, executors."""

from __future__ import annotations

import json

import pytest

from tests.clean.helpers import doc, read, run, write_collect
from webtune.clean.config import CleanConfig
from webtune.clean.synthetic import html_pages
from webtune.config import validate_pipeline
from webtune.errors import ConfigError, InputError
from webtune.stage import run_stage
from webtune.clean.stage import run_clean

GOOD = ("The library will open a new reading room next month, with long tables, good light and quiet "
        "corners for students. Staff said the room will stay open late during exams.")
STEPS = [
    {"step": "html_to_text"},
    {"step": "normalize"},
    {"step": "length", "min_words": 8},
    {"step": "pii"},
    {"step": "dedup"},
]


def messy_docs():
    page = ("<html><body><article><h1>News</h1><p>The museum shows old maps of the harbour this summer, "
            "and guided tours start every Sunday at noon.</p><p>Write to news@example.org.</p></article></body></html>")
    return [
        doc(GOOD, line=1),
        doc(html=page, line=2),
        doc("Too short.", line=3),
        doc(GOOD + " ", line=4),  # an exact duplicate after normalisation
        doc(html="<html><body><script>x()</script></body></html>", line=5),
        doc("Caf\u00c3\u00a9 owners met the mayor; call +1 212 555 0188 for the full notes of the meeting.", line=6),
        doc(fields={"title": "A product"}, line=7),  # no text at all
    ]


def test_counts_add_up_on_messy_input(tmp_path):
    extra = ["{not json", json.dumps({"source": {"kind": "x", "uri": "y"}}), "", "[1, 2]"]
    manifest, kept, rejects = run(tmp_path, messy_docs(), STEPS, extra_lines=extra, workers=1)
    counts = manifest.counts
    assert counts.to_json() == {"in": 10, "kept": len(kept), "rejected": len(rejects)} and counts.kept + counts.rejected == 10
    by_line = {(r["step"], r["reason"]): r for r in rejects}
    assert set(by_line) == {("read", "invalid_json"), ("read", "invalid_record"), ("length", "too_few_words"),
                            ("dedup", "exact_duplicate"), ("html_to_text", "no_text")}
    assert sum(1 for r in rejects if r["step"] == "read") == 3
    bad = [r for r in rejects if r["reason"] == "invalid_json"][0]
    assert bad["source"]["line"] == 8 and bad["stage"] == "clean" and "column" in bad["value"]
    # "Too short." has 2 words; the product without text has none
    assert sorted((r["value"], r["threshold"]) for r in rejects if r["step"] == "length") == [(0, 8), (2, 8)]
    texts = [k.get("text") for k in kept]
    assert "Café owners met the mayor; call <PHONE> for the full notes of the meeting." in texts
    page = next(k for k in kept if k["source"]["line"] == 2)
    assert "<EMAIL>" in page["text"] and "html" not in page
    stats = manifest.stats
    assert stats["pii"] == {"email": 1, "phone": 1}
    assert stats["steps"]["length"]["rejected"] == 2 and stats["steps"]["read"]["rejected"] == 3
    assert all(k["meta"]["cluster_id"] for k in kept)
    report = (tmp_path / "clean" / "report.md").read_text()
    assert "| length | 2 |" in report and "PII redacted: email 1, phone 1" in report


def test_process_pool_output_identical_to_one_process(tmp_path):
    pages = html_pages(160, seed=5)
    docs = [doc(html=p, uri=f"https://site{i % 7}.example/{i}", line=i + 1) for i, p in enumerate(pages)]
    steps = [{"step": "html_to_text"}, {"step": "normalize"}, {"step": "gopher_repetition"}, {"step": "c4"},
             {"step": "fineweb"}, {"step": "pii"}, {"step": "dedup"}]
    one, kept1, rej1 = run(tmp_path, docs, steps, workers=1, batch_size=10, out="one")
    many, kept2, rej2 = run(tmp_path, docs, steps, workers=2, batch_size=10, out="many")
    assert many.stats["workers"] == 2 and one.stats["workers"] == 1
    assert (tmp_path / "one" / "documents.jsonl").read_bytes() == (tmp_path / "many" / "documents.jsonl").read_bytes()
    assert (tmp_path / "one" / "rejects.jsonl").read_bytes() == (tmp_path / "many" / "rejects.jsonl").read_bytes()
    assert one.stats["steps"] == many.stats["steps"]
    assert 0 < len(kept1) < len(docs) and {r["step"] for r in rej1} >= {"c4", "dedup"}
    # batches of 64 shrink to 20 here (four per worker): the same output
    run(tmp_path, docs, steps, workers=2, batch_size=64, out="balanced")
    assert (tmp_path / "one" / "documents.jsonl").read_bytes() == (tmp_path / "balanced" / "documents.jsonl").read_bytes()
    # The same fingerprint: how many workers ran it changes nothing, so it is not a reason to rerun.
    assert one.fingerprint == many.fingerprint
    again = run_stage("clean", run_clean, run_dir=tmp_path, inputs={"collect": tmp_path / "collect"},
                      config=CleanConfig.model_validate({"steps": steps, "workers": 3, "batch_size": 10}),
                      output_dir=tmp_path / "many")
    assert again.skipped


def test_batches_shrink_so_every_worker_gets_four():
    from webtune.clean.stage import batch_size_for

    assert batch_size_for(64, 2, 200) == 25  # was 64, 64, 64, 8: one worker did 128 documents, the other 72
    assert batch_size_for(64, 2, 10_000) == 64
    assert batch_size_for(64, 1, 200) == 64  # one process: batches only bound memory
    assert batch_size_for(64, 8, 5) == 1


def test_missing_input_and_bad_encoding(tmp_path):
    collect = tmp_path / "collect"
    collect.mkdir()
    with pytest.raises(InputError, match="documents.jsonl: not found"):
        run_stage("clean", run_clean, run_dir=tmp_path, config=CleanConfig(), inputs={"collect": collect})
    (collect / "documents.jsonl").write_bytes(b'{"id": "\xff"}\n')
    with pytest.raises(InputError, match="not UTF-8"):
        run_stage("clean", run_clean, run_dir=tmp_path, config=CleanConfig(), inputs={"collect": collect})


def test_config_errors_name_the_step_and_key():
    with pytest.raises(ConfigError, match=r"clean\.steps\.0: .*'lenght'.*'length'"):
        validate_pipeline({"name": "x", "clean": {"steps": [{"step": "lenght"}]}})
    with pytest.raises(ConfigError, match=r"clean\.steps\.1\.min_words: unknown key"):
        validate_pipeline({"name": "x", "clean": {"steps": [{"step": "normalize"}, {"step": "dedup", "min_words": 3}]}})
    with pytest.raises(ConfigError, match="either 'field' or 'fields'"):
        validate_pipeline({"name": "x", "clean": {"steps": [{"step": "length", "field": "a", "fields": ["b"]}]}})
    with pytest.raises(ConfigError, match="min_words"):
        validate_pipeline({"name": "x", "clean": {"steps": [{"step": "length", "min_words": 9, "max_words": 3}]}})


def test_default_config_runs_on_pages_and_products(tmp_path):
    docs = [doc(html=f"<html><body><article><p>{GOOD}</p></article></body></html>", line=1),
            doc(fields={"title": "Pens"}, line=2)]
    collect = write_collect(tmp_path, docs)
    manifest = run_stage("clean", run_clean, run_dir=tmp_path, config=CleanConfig(), inputs={"collect": collect})
    assert manifest.counts.to_json() == {"in": 2, "kept": 2, "rejected": 0}
    kept = read(tmp_path / "clean" / "documents.jsonl")
    assert kept[0]["text"] == GOOD and kept[1]["fields"] == {"title": "Pens"}


def test_pool_workers_leave_ctrl_c_to_the_parent():
    """Ctrl-C reaches the whole process group: workers ignore it (no tracebacks), the parent stops the pool."""
    import signal

    from webtune.clean.executors import PoolExecutor

    pool = PoolExecutor(json.dumps([{"step": "normalize"}]), workers=1)
    try:
        handler = pool.pool.apply(signal.getsignal, (signal.SIGINT,))
    finally:
        pool.close(ok=True)
    assert handler == signal.SIG_IGN
    assert signal.getsignal(signal.SIGINT) != signal.SIG_IGN  # the parent still handles it
