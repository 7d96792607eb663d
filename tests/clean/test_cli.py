"""`webtune clean` and `webtune clean --explain` through the CLI."""

from __future__ import annotations


from typer.testing import CliRunner

from tests.clean.helpers import doc, read, write_collect
from webtune.cli.main import app
from webtune.handoffs import Manifest

TEXT = "The bakery on the corner now sells rye bread every morning, and the queue starts before seven."


def test_clean_then_explain(tmp_path):
    docs = [doc(TEXT, line=1), doc(TEXT, line=2), doc("Hi.", line=3)]
    collect = write_collect(tmp_path, docs)
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(f"name: demo\nrun_dir: {tmp_path / 'run'}\nclean:\n  steps:\n"
                        "    - step: length\n      min_words: 3\n    - step: dedup\n")
    runner = CliRunner()
    result = runner.invoke(app, ["clean", "-p", str(pipeline), "-i", str(collect), "--workers", "1"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "run" / "clean"
    assert len(read(out / "documents.jsonl")) == 1 and len(read(out / "rejects.jsonl")) == 2
    manifest = Manifest.read(out)
    assert manifest.counts.to_json() == {"in": 3, "kept": 1, "rejected": 2} and manifest.stats["workers"] == 1

    short_id = docs[2].id
    result = runner.invoke(app, ["clean", "--explain", short_id[:8], "-p", str(pipeline)])
    assert result.exit_code == 0, result.output
    assert "dropped by step length" in result.output and "too_few_words" in result.output and "1" in result.output

    result = runner.invoke(app, ["clean", "--explain", docs[0].id, "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 0
    assert "kept" in result.output and f"{docs[1].id} (exact_duplicate" in result.output

    result = runner.invoke(app, ["clean", "--explain", "ffffffff", "--output", str(out)])
    assert result.exit_code == 1 and "no document with id 'ffffffff'" in " ".join(result.output.split())

    result = runner.invoke(app, ["clean", "--explain", " ", "--output", str(out)])
    assert result.exit_code == 2 and "--explain: give a document id" in result.output and "verdict" not in result.output


def test_bad_options_are_one_line_errors(tmp_path):
    collect = write_collect(tmp_path, [doc(TEXT)])
    runner = CliRunner()
    result = runner.invoke(app, ["clean", "-i", str(collect), "-o", str(tmp_path / "out"), "--executor", "spark"])
    assert result.exit_code == 2 and "--executor" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["clean", "--explain", "abc"])
    assert result.exit_code == 2 and "--explain" in result.output
    result = runner.invoke(app, ["clean", "-i", str(collect), "-o", str(tmp_path / "out"), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert read(tmp_path / "out" / "documents.jsonl")[0]["text"] == TEXT


def test_empty_input_and_nothing_kept_are_one_line_errors(tmp_path):
    """An empty collect store stops clean at once; a clean that keeps nothing exits 1 but keeps its rejects."""
    runner = CliRunner()
    empty = write_collect(tmp_path / "a", [])
    result = runner.invoke(app, ["clean", "-i", str(empty), "-o", str(tmp_path / "a" / "clean"), "--workers", "1"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{empty / 'documents.jsonl'} holds no documents: collect kept none" in " ".join(result.output.split())
    assert not (tmp_path / "a" / "clean").exists()

    collect = write_collect(tmp_path / "b", [doc("Hi.", line=1), doc("Hello there.", line=2)])
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(f"name: strict\nrun_dir: {tmp_path / 'b'}\nclean:\n  steps:\n"
                        "    - step: length\n      min_words: 3\n")
    result = runner.invoke(app, ["clean", "-p", str(pipeline), "-i", str(collect), "--workers", "1"])
    assert result.exit_code == 1, result.output
    assert "clean: kept none of 2 records; reasons: length/too_few_words (2)" in " ".join(result.output.split())
    assert len(read(tmp_path / "b" / "clean" / "rejects.jsonl")) == 2  # published: --explain still works
