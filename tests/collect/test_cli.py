"""`webtune collect files|brightdata|crawl` and `webtune collect -p pipeline.yaml`."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from webtune.cli.main import app
from webtune.handoffs import Manifest

from .conftest import read_lines

runner = CliRunner()


class Flat:
    """A CLI result whose output has rich's line wrapping undone (for matching messages)."""

    def __init__(self, result):
        self.exit_code = result.exit_code
        self.output = " ".join(result.output.split())


def invoke(*args: str) -> Flat:
    return Flat(runner.invoke(app, list(args), terminal_width=200))


def test_collect_files_with_a_field_mapping(tmp_path):
    (tmp_path / "a.jsonl").write_text(json.dumps({"body": "hello", "name": "A"}) + "\n{oops\n")
    out = tmp_path / "run" / "collect"
    result = invoke("collect", "files", str(tmp_path / "*.jsonl"), "-o", str(out), "--field", "text=body",
                    "--field", "title=name")
    assert result.exit_code == 0, result.output
    docs = read_lines(out / "documents.jsonl")
    assert docs[0]["text"] == "hello" and docs[0]["meta"] == {"title": "A"}
    manifest = Manifest.read(out)
    assert manifest.counts.to_json() == {"in": 2, "kept": 1, "rejected": 1} and manifest.status == "complete"
    assert read_lines(out / "rejects.jsonl")[0]["source"]["line"] == 2
    # Unchanged input and config: skipped.
    again = invoke("collect", "files", str(tmp_path / "*.jsonl"), "-o", str(out), "--field", "text=body",
                   "--field", "title=name")
    assert again.exit_code == 0 and "skipped" in again.output


def test_bad_options_and_bad_files_are_one_clear_line(tmp_path):
    result = invoke("collect", "files", "x.json", "-o", str(tmp_path / "c"), "--field", "body")
    assert result.exit_code == 2 and "expected ROLE=FIELD" in result.output
    (tmp_path / "fake.parquet").write_text("not parquet")
    result = invoke("collect", "files", str(tmp_path / "fake.parquet"), "-o", str(tmp_path / "c"))
    assert result.exit_code == 1 and "fake.parquet: not a Parquet file" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "c").exists()


def test_collect_with_the_pipeline_sources_and_with_an_override(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "snapshot.json").write_text(json.dumps([{"title": "T", "url": "u"}]))
    (tmp_path / "other.csv").write_text("title,url\nA,a\nB,b\n")
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text("name: demo\nsources:\n  - kind: files\n    paths: [data/snapshot.json]\n"
                        "    fields: {title: title, url: url}\n")
    run_dir = tmp_path / "runs"
    result = invoke("collect", "-p", str(pipeline), "--run-dir", str(run_dir))
    assert result.exit_code == 0, result.output
    assert read_lines(run_dir / "collect" / "documents.jsonl")[0]["meta"] == {"title": "T", "url": "u"}
    result = invoke("collect", "files", str(tmp_path / "other.csv"), "-p", str(pipeline), "--run-dir", str(run_dir))
    assert result.exit_code == 0, result.output
    assert len(read_lines(run_dir / "collect" / "documents.jsonl")) == 2


def test_collect_brightdata_command(brightdata, tmp_path):
    brightdata.records = [{"title": "Pen", "url": "https://a/1"}]
    out = tmp_path / "run" / "collect"
    result = invoke("collect", "brightdata", "--dataset-id", "gd_test", "--input-json", '[{"url": "https://a/1"}]',
                    "--base-url", brightdata.base_url, "--poll-interval", "0.01", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert len(read_lines(out / "documents.jsonl")) == 1 and brightdata.calls["trigger"] == 1
    assert "test-token" not in result.output and "test-token" not in (out / "manifest.json").read_text()
    brightdata.records.append({"title": "Ink", "url": "https://a/2"})
    brightdata.body = brightdata.snapshot_body("ndjson")
    result = invoke("collect", "brightdata", "--dataset-id", "gd_test", "--snapshot-id", "s_9", "--format", "json",
                    "--base-url", brightdata.base_url, "--poll-interval", "0.01", "-o", str(out))
    # The fake answers NDJSON where JSON was asked for: recorded as a reject, not lost; and since
    # nothing was kept, the command says so in one line and exits non-zero.
    assert result.exit_code == 1 and brightdata.calls["trigger"] == 1
    assert "collect: kept none of 1 records; reasons: invalid_json (1)" in " ".join(result.output.split())
    assert [r["reason"] for r in read_lines(out / "rejects.jsonl")] == ["invalid_json"]
    result = invoke("collect", "brightdata", "--dataset-id", "gd_test", "-o", str(out))
    assert result.exit_code == 2 and "give exactly one of inputs" in result.output


def test_collect_crawl_command(site, tmp_path):
    out = tmp_path / "run" / "collect"
    result = invoke("collect", "crawl", site.base_url + "/", "--max-pages", "3", "--max-depth", "1", "--delay", "0",
                    "--allow-private", "--deny", "slow", "-o", str(out))
    assert result.exit_code == 0, result.output
    docs = read_lines(out / "documents.jsonl")
    assert docs and all(d["source"]["kind"] == "crawl" for d in docs)
    result = invoke("collect", "crawl", "ftp://example.com/", "-o", str(out))
    assert result.exit_code == 2 and "not http(s) URLs" in result.output


def test_collect_that_keeps_nothing_says_why_in_one_line(site, tmp_path):
    """A crawl of a loopback address without --allow-private keeps nothing: exit 1, the reason and its hint."""
    out = tmp_path / "run" / "collect"
    result = invoke("collect", "crawl", site.base_url + "/", "--delay", "0", "-o", str(out))
    text = " ".join(result.output.split())
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "collect: kept none of 1 records; reasons: private_address (1)" in text
    assert "set allow_private" in text
    assert [r["reason"] for r in read_lines(out / "rejects.jsonl")] == ["private_address"]


def test_force_reuses_the_snapshot_and_recollect_shows_the_cost_first(brightdata, tmp_path):
    brightdata.records = [{"title": "Pen", "url": "https://a/1"}]
    out = tmp_path / "run" / "collect"
    args = ["collect", "brightdata", "--dataset-id", "gd_test", "--input-json", '[{"url": "https://a/1"}]',
            "--base-url", brightdata.base_url, "--poll-interval", "0.01", "-o", str(out)]
    assert invoke(*args).exit_code == 0 and brightdata.calls["trigger"] == 1
    forced = invoke(*args, "--force")
    assert forced.exit_code == 0, forced.output
    assert "reusing snapshot s_test123 collected" in forced.output and brightdata.calls["trigger"] == 1
    brightdata.snapshot_id = "s_new"
    fresh = invoke(*args, "--recollect")
    assert fresh.exit_code == 0, fresh.output
    assert "new collection of up to 1 records ≈ $0.00" in fresh.output and brightdata.calls["trigger"] == 2
    assert fresh.output.index("new collection of up to") < fresh.output.index("triggered snapshot s_new")


def test_collect_brightdata_marketplace_needs_yes(brightdata, tmp_path):
    brightdata.records, brightdata.total_hits = [{"title": "Pen", "url": "https://a/1"}], 1
    out = tmp_path / "run" / "collect"
    args = ["collect", "brightdata-marketplace", "--dataset-id", "gd_market", "--filter",
            '{"name": "brand", "operator": "=", "value": "Acme"}', "--base-url", brightdata.base_url,
            "--poll-interval", "0.01", "-o", str(out)]
    refused = invoke(*args)
    assert refused.exit_code == 1
    assert ("error: Marketplace snapshot of gd_market: about 1 records (matches counted by the search endpoint) ≈ "
            "$0.00 at $2.5 per 1000 records; nothing bought: run again with --yes") in refused.output
    assert brightdata.calls["filter"] == 0
    bought = invoke(*args, "--yes")
    assert bought.exit_code == 0, bought.output
    assert len(read_lines(out / "documents.jsonl")) == 1 and brightdata.calls["filter"] == 1


def test_yes_on_a_pipeline_applies_to_its_marketplace_source(brightdata, tmp_path):
    brightdata.records, brightdata.total_hits = [{"title": "Pen", "url": "https://a/1"}], 1
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text("name: demo\nsources:\n  - kind: brightdata-marketplace\n    dataset_id: gd_market\n"
                        "    filter: {name: brand, operator: '=', value: Acme}\n"
                        f"    base_url: {brightdata.base_url}\n    poll_interval_s: 0.01\n")
    run_dir = tmp_path / "runs"
    assert invoke("collect", "-p", str(pipeline), "--run-dir", str(run_dir)).exit_code == 1
    result = invoke("collect", "-p", str(pipeline), "--run-dir", str(run_dir), "--yes")
    assert result.exit_code == 0, result.output
    assert brightdata.calls["filter"] == 1 and len(read_lines(run_dir / "collect" / "documents.jsonl")) == 1
