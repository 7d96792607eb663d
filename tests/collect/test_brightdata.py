"""The Bright Data source against a local fake of the Web Scraper API v3."""

from __future__ import annotations

import json

import pytest

from webtune.errors import ConfigError, StageError

PRODUCTS = [{"title": f"Pen {i}", "url": f"https://www.amazon.com/dp/B0{i}", "description": f"Pen number {i}."}
            for i in range(3)]
ERROR_RECORD = {"input": {"url": "https://www.amazon.com/dp/BAD"}, "error": "Page not found",
                "error_code": "dead_page", "timestamp": "2025-01-16T11:41:35Z"}
FAST = {"poll_interval_s": 0.01, "retry_base_s": 0.01, "retry_max_s": 0.05, "request_timeout_s": 5}


def source(fake, **extra):
    return {"kind": "brightdata", "dataset_id": "gd_test", "base_url": fake.base_url,
            "inputs": [{"url": "https://www.amazon.com/dp/B00"}, {"url": "https://www.amazon.com/dp/BAD"}],
            "fields": {"title": "title", "url": "url"}, **FAST, **extra}


def test_trigger_poll_download_and_error_records(brightdata, collect):
    brightdata.records = PRODUCTS + [ERROR_RECORD]
    brightdata.body = brightdata.snapshot_body() + b"{this line is broken\n"
    brightdata.progress = ["starting", "running", "ready"]
    out = collect([source(brightdata)])

    assert [d["fields"] for d in out.docs] == PRODUCTS
    assert {d["source"]["kind"] for d in out.docs} == {"brightdata"}
    assert out.docs[0]["source"]["uri"] == f"{brightdata.base_url}/datasets/v3/snapshot/s_test123"
    assert [d["source"]["line"] for d in out.docs] == [1, 2, 3]
    assert out.docs[1]["meta"] == {"title": "Pen 1", "url": "https://www.amazon.com/dp/B01"}
    api_error, broken = out.rejects
    assert api_error["reason"] == "brightdata_error" and "Page not found" in api_error["message"]
    assert api_error["value"] == "dead_page" and api_error["record"]["input"]["url"].endswith("BAD")
    assert broken["reason"] == "invalid_json" and broken["source"]["line"] == 5
    assert out.manifest.counts.to_json() == {"in": 5, "kept": 3, "rejected": 2}

    trigger = next(r for r in brightdata.requests if r["path"] == "/datasets/v3/trigger")
    assert trigger["method"] == "POST" and json.loads(trigger["body"]) == source(brightdata)["inputs"]
    assert trigger["query"] == {"dataset_id": ["gd_test"], "include_errors": ["true"]}
    download = [r for r in brightdata.requests if r["path"] == "/datasets/v3/snapshot/s_test123"]
    assert len(download) == 2 and download[-1]["query"] == {"format": ["ndjson"]}  # 202, then 200
    assert brightdata.calls["progress"] == 3 and brightdata.calls["trigger"] == 1
    stats = out.manifest.stats["sources"][0]
    assert stats["snapshot_id"] == "s_test123" and stats["triggered"] is True and stats["api_errors"] == 1
    # The token never lands in what the stage writes.
    written = "".join(p.read_text() for p in (out.run_dir / "collect").iterdir())
    assert "test-token" not in written


def test_discovery_parameters(brightdata, collect):
    brightdata.records = PRODUCTS
    collect([source(brightdata, inputs=[{"category_url": "https://www.amazon.com/b?node=1"}],
                    discover_by="best_sellers_url", limit_per_input=5, include_errors=False)])
    trigger = next(r for r in brightdata.requests if r["path"].endswith("/trigger"))
    assert trigger["query"] == {"dataset_id": ["gd_test"], "include_errors": ["false"], "type": ["discover_new"],
                                "discover_by": ["best_sellers_url"], "limit_per_input": ["5"]}


def test_429_with_retry_after_and_5xx_are_retried(brightdata, collect):
    brightdata.records = PRODUCTS
    brightdata.fail = {"trigger": [429], "progress": [500, 503], "snapshot": [502]}
    brightdata.retry_after = "0"
    out = collect([source(brightdata)])
    assert len(out.docs) == 3
    assert brightdata.calls["trigger"] == 2  # one 429, then the snapshot id
    assert brightdata.calls["progress"] >= 4


def test_retry_after_is_honoured(brightdata, collect, monkeypatch):
    sleeps = []
    monkeypatch.setattr("webtune.retry.sleep", sleeps.append)
    brightdata.records = PRODUCTS
    brightdata.fail = {"trigger": [429]}
    brightdata.retry_after = "7"
    collect([source(brightdata)])
    assert sleeps[0] == 7.0


def test_the_202_hint_sets_the_wait_before_downloading_again(brightdata, collect, monkeypatch):
    sleeps = []
    monkeypatch.setattr("webtune.retry.sleep", sleeps.append)
    brightdata.records = PRODUCTS
    brightdata.progress = ["ready"]
    brightdata.snapshot_202, brightdata.try_again_in = 2, "10s"  # "Snapshot is building, try again in 10s"
    out = collect([source(brightdata)])  # poll_interval_s is 0.01: the server's 10 s win
    assert len(out.docs) == 3 and sleeps == [10.0, 10.0] and brightdata.calls["snapshot"] == 3


def test_a_202_hint_past_max_wait_stops_at_once_with_a_resume_hint(brightdata, collect, monkeypatch):
    sleeps = []
    monkeypatch.setattr("webtune.retry.sleep", sleeps.append)
    brightdata.progress = ["ready"]
    brightdata.try_again_in = "10 minutes"
    with pytest.raises(StageError) as info:
        collect([source(brightdata, max_wait_s=60)])
    message = str(info.value)
    assert "still being built (Snapshot is building, try again in 10 minutes)" in message
    assert "max_wait_s" in message and "run the same command again to resume" in message
    assert sleeps == [] and brightdata.calls["snapshot"] == 1


def test_401_fails_at_once_without_retries(brightdata, collect, monkeypatch):
    monkeypatch.setenv("BRIGHTDATA_API_TOKEN", "wrong-token")
    with pytest.raises(ConfigError, match=r"refused the token \(HTTP 401\).*BRIGHTDATA_API_TOKEN"):
        collect([source(brightdata)])
    assert brightdata.calls["trigger"] == 1 and sum(brightdata.calls.values()) == 1


def test_missing_token_is_a_clear_error(brightdata, collect, monkeypatch):
    monkeypatch.delenv("BRIGHTDATA_API_TOKEN")
    with pytest.raises(ConfigError, match="set BRIGHTDATA_API_TOKEN"):
        collect([source(brightdata)])
    assert sum(brightdata.calls.values()) == 0


def test_failed_snapshot_stops_with_the_api_message(brightdata, collect, tmp_path):
    brightdata.progress = ["running", "failed"]
    with pytest.raises(StageError, match="s_test123 failed: collection failed: too many inputs"):
        collect([source(brightdata)])
    assert not (tmp_path / "run" / "collect").exists()
    # A failed snapshot holds no data: the next run triggers a new collection.
    brightdata.progress = ["ready"]
    brightdata.records = PRODUCTS
    assert len(collect([source(brightdata)]).docs) == 3
    assert brightdata.calls["trigger"] == 2


def test_a_download_cut_mid_stream_is_downloaded_again(brightdata, collect):
    brightdata.records = PRODUCTS * 50
    brightdata.cut_downloads = 1
    out = collect([source(brightdata)])
    assert len(out.docs) == 150 and not out.rejects
    assert brightdata.calls["snapshot"] == 3  # 202, cut, complete


def test_a_rerun_resumes_the_snapshot_and_never_triggers_again(brightdata, collect, tmp_path):
    brightdata.progress = ["running"]  # never ready within the first run's wait
    with pytest.raises(StageError, match="run the same command again to resume") as info:
        collect([source(brightdata, max_wait_s=0.3)])
    assert "s_test123" in str(info.value)
    state = json.loads((tmp_path / "run" / ".work" / "collect" / "source-0-brightdata" / "brightdata.json").read_text())
    assert state["snapshot_id"] == "s_test123" and brightdata.calls["trigger"] == 1

    brightdata.progress = ["ready"]
    brightdata.records = PRODUCTS
    out = collect([source(brightdata)])  # same request, different wait settings
    assert len(out.docs) == 3
    assert brightdata.calls["trigger"] == 1
    assert out.manifest.stats["sources"][0]["triggered"] is False


def test_existing_snapshot_by_id_is_collected_without_a_trigger(brightdata, collect):
    brightdata.records = PRODUCTS
    brightdata.progress = ["ready"]
    out = collect([{"kind": "brightdata", "dataset_id": "gd_test", "snapshot_id": "s_old", "base_url": brightdata.base_url,
                    **FAST}])
    assert len(out.docs) == 3 and brightdata.calls["trigger"] == 0
    assert brightdata.requests[-1]["path"] == "/datasets/v3/snapshot/s_old"


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_json_and_csv_snapshot_formats(brightdata, collect, fmt):
    if fmt == "json":
        brightdata.body = json.dumps(PRODUCTS + [ERROR_RECORD]).encode()
    else:
        brightdata.body = (b"title,url,description,error,error_code\n"
                           b"Pen 0,https://a/0,Pen number 0.,,\n,https://a/bad,,Page not found,dead_page\n")
    out = collect([source(brightdata, format=fmt)])
    assert len(out.docs) == 1 if fmt == "csv" else len(out.docs) == 3
    assert [r["reason"] for r in out.rejects] == ["brightdata_error"]
    assert brightdata.requests[-1]["query"] == {"format": [fmt]}


def test_inputs_file_and_config_errors(brightdata, collect, tmp_path):
    (tmp_path / "inputs.csv").write_text("url\nhttps://www.amazon.com/dp/B01\nhttps://www.amazon.com/dp/B02\n")
    brightdata.records = PRODUCTS
    collect([{**source(brightdata), "inputs": None, "inputs_file": "inputs.csv"}])
    trigger = next(r for r in brightdata.requests if r["path"].endswith("/trigger"))
    assert json.loads(trigger["body"]) == [{"url": "https://www.amazon.com/dp/B01"}, {"url": "https://www.amazon.com/dp/B02"}]
    with pytest.raises(Exception, match="give exactly one of inputs, inputs_file"):
        collect([{**source(brightdata), "snapshot_id": "s_x"}])


def test_403_is_not_retried(brightdata, collect):
    brightdata.fail = {"trigger": [403, 403]}
    with pytest.raises(ConfigError, match=r"HTTP 403"):
        collect([source(brightdata)])
    assert brightdata.calls["trigger"] == 1


def test_persistent_server_errors_stop_at_the_wait_bound_with_a_resume_hint(brightdata, collect):
    brightdata.fail = {"progress": [503] * 1000}
    with pytest.raises(StageError) as info:
        collect([source(brightdata, max_wait_s=0.5, max_attempts=1000, retry_base_s=0.05)])
    message = str(info.value)
    assert "HTTP 503" in message and "max_wait_s" in message
    assert "s_test123" in message and "run the same command again to resume" in message
    assert brightdata.calls["trigger"] == 1 and 2 <= brightdata.calls["progress"] < 1000
