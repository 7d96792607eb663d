"""The Bright Data source against a local fake of the Web Scraper API v3."""

from __future__ import annotations

import json
import re

import pytest

from webtune.errors import ConfigError, StageError

from tests.fakes.brightdata import serve

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


# ------------------------------------------------------------------ discovery and request parameters


def test_discovery_with_limits_and_custom_output_fields(brightdata, collect):
    brightdata.records = PRODUCTS
    collect([source(brightdata, inputs=[{"keyword": "fountain pen"}, {"keyword": "ink"}], discover_by="keyword",
                    limit_per_input=10, limit_multiple_results=15, custom_output_fields=["url", "title", "about.price"])])
    trigger = next(r for r in brightdata.requests if r["path"].endswith("/trigger"))
    assert trigger["query"] == {"dataset_id": ["gd_test"], "include_errors": ["true"], "type": ["discover_new"],
                                "discover_by": ["keyword"], "limit_per_input": ["10"],
                                "limit_multiple_results": ["15"], "custom_output_fields": ["url|title|about.price"]}
    assert json.loads(trigger["body"]) == [{"keyword": "fountain pen"}, {"keyword": "ink"}]


@pytest.mark.parametrize("discover_by, inputs, needed", [
    ("keyword", [{"keyword": "pen"}, {"url": "https://a/1"}], "'keyword' field (got url)"),
    ("category_url", [{"category_url": "https://a/b"}], "'url' field (got category_url)"),
    ("best_sellers_url", [{"url": "https://a/b"}], "'category_url' field"),
])
def test_discovery_inputs_are_shaped_per_discover_by(brightdata, collect, discover_by, inputs, needed):
    with pytest.raises(Exception, match=rf"inputs\[\d\]: discover_by {discover_by} takes inputs with a {re.escape(needed)}"):
        collect([source(brightdata, inputs=inputs, discover_by=discover_by)])
    assert sum(brightdata.calls.values()) == 0


def test_a_discovery_inputs_file_is_checked_too(brightdata, collect, tmp_path):
    (tmp_path / "keywords.jsonl").write_text('{"keyword": "pen"}\n{"query": "ink"}\n')
    with pytest.raises(ConfigError, match=r"keywords.jsonl\[1\]: discover_by keyword takes inputs with a 'keyword'"):
        collect([{**source(brightdata, discover_by="keyword"), "inputs": None, "inputs_file": "keywords.jsonl"}])
    assert sum(brightdata.calls.values()) == 0


def test_custom_output_fields_must_be_names(brightdata, collect):
    with pytest.raises(Exception, match="custom_output_fields"):
        collect([source(brightdata, custom_output_fields=["url|title"])])


# ------------------------------------------------------------------ resume key, --force, --recollect


def test_the_resume_key_is_the_request_not_the_base_url(brightdata, collect):
    brightdata.progress = ["running"]  # never ready within the first run's wait
    with pytest.raises(StageError, match="run the same command again to resume"):
        collect([source(brightdata, max_wait_s=0.3)])
    assert brightdata.calls["trigger"] == 1
    proxy, proxy_url = serve(brightdata.handler())  # the same API through another address
    try:
        brightdata.progress, brightdata.records = ["ready"], PRODUCTS
        out = collect([source(brightdata, base_url=proxy_url + "/")])
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert len(out.docs) == 3 and brightdata.calls["trigger"] == 1
    assert out.manifest.stats["sources"][0]["triggered"] is False


def test_force_reuses_the_snapshot_and_recollect_pays_again_after_the_estimate(brightdata, collect, tmp_path, capsys):
    brightdata.records = PRODUCTS
    first = collect([source(brightdata, price_per_1k=2.0)])
    assert len(first.docs) == 3 and brightdata.calls["trigger"] == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "new collection of up to 2 records ≈ $0.00 (at $2 per 1000 records" in err
    # Published: of the work dir only the request's state is left.
    work = tmp_path / "run" / ".work" / "collect"
    assert [p.relative_to(work).as_posix() for p in work.rglob("*") if p.is_file()] == [
        "source-0-brightdata/brightdata.json"]

    again = collect([source(brightdata, price_per_1k=2.0)])  # --force: the stage reruns
    err = " ".join(capsys.readouterr().err.split())
    assert "reusing snapshot s_test123 collected" in err and "no new paid collection; --recollect starts one" in err
    assert brightdata.calls["trigger"] == 1 and [d["id"] for d in again.docs] == [d["id"] for d in first.docs]
    assert again.manifest.stats["sources"][0]["reused"] is True

    brightdata.snapshot_id = "s_fresh"
    fresh = collect([source(brightdata, price_per_1k=2.0, recollect=True)])
    err = " ".join(capsys.readouterr().err.split())
    assert "--recollect: replacing snapshot s_test123 by a new paid collection" in err
    assert "new collection of up to 2 records ≈ $0.00" in err
    assert brightdata.calls["trigger"] == 2 and fresh.manifest.stats["sources"][0]["snapshot_id"] == "s_fresh"


def test_the_estimate_of_a_discovery_collection(brightdata, collect, capsys):
    brightdata.records = PRODUCTS
    collect([source(brightdata, inputs=[{"keyword": "pen"}] * 4, discover_by="keyword", limit_per_input=250)])
    assert "new collection of up to 1000 records ≈ $1.50 (at $1.5 per 1000" in " ".join(capsys.readouterr().err.split())
    collect([source(brightdata, inputs=[{"keyword": "ink"}], discover_by="keyword")])
    assert "its cost cannot be estimated" in " ".join(capsys.readouterr().err.split())


# ------------------------------------------------------------------ CSV typed like NDJSON

TYPED = [{"title": "Pen 0", "asin": "0123", "price": 12.5, "reviews_count": 1043, "is_available": True,
          "features": ["refillable", "steel nib"], "buybox": {"seller": "Acme", "price": 12.5},
          "discount": None, "url": "https://www.amazon.com/dp/B00"},
         {"title": "Pen 1", "asin": "B001", "price": 3, "reviews_count": 0, "is_available": False,
          "features": [], "buybox": {"seller": "Other"}, "discount": -0.25, "url": "https://www.amazon.com/dp/B01"}]


def test_csv_and_ndjson_snapshots_give_the_same_documents(brightdata, collect, tmp_path):
    brightdata.records = TYPED + [ERROR_RECORD]
    as_ndjson = collect([source(brightdata)], run_dir=tmp_path / "ndjson")
    as_csv = collect([source(brightdata, format="csv")], run_dir=tmp_path / "csv")
    assert brightdata.requests[-1]["query"] == {"format": ["csv"]}
    # Null fields are left out in every format (a CSV cell cannot tell null from absent).
    assert [d["fields"] for d in as_ndjson.docs] == [{k: v for k, v in r.items() if v is not None} for r in TYPED]
    assert [(d["id"], d["fields"]) for d in as_csv.docs] == [(d["id"], d["fields"]) for d in as_ndjson.docs]
    assert all("error" not in d["fields"] and "error_code" not in d["fields"] for d in as_csv.docs)
    assert [r["reason"] for r in as_csv.rejects] == ["brightdata_error"]


# ------------------------------------------------------------------ the synchronous /scrape


def test_scrape_answers_small_url_lists_at_once(brightdata, collect):
    brightdata.records = PRODUCTS
    out = collect([source(brightdata, scrape=True, custom_output_fields=["title", "url"])])
    assert [d["fields"] for d in out.docs] == PRODUCTS
    scrape = next(r for r in brightdata.requests if r["path"] == "/datasets/v3/scrape")
    assert json.loads(scrape["body"]) == {"input": source(brightdata)["inputs"]}
    assert scrape["query"] == {"dataset_id": ["gd_test"], "include_errors": ["true"], "format": ["ndjson"],
                               "custom_output_fields": ["title|url"]}
    assert dict(brightdata.calls) == {"scrape": 1}
    assert out.docs[0]["source"]["uri"] == f"{brightdata.base_url}/datasets/v3/scrape?dataset_id=gd_test"
    again = collect([source(brightdata, scrape=True, custom_output_fields=["title", "url"])])
    assert [d["id"] for d in again.docs] == [d["id"] for d in out.docs] and dict(brightdata.calls) == {"scrape": 1}


def test_scrape_still_running_is_collected_from_its_snapshot(brightdata, collect):
    brightdata.records, brightdata.scrape_202 = PRODUCTS, 1
    out = collect([source(brightdata, scrape=True)])
    assert len(out.docs) == 3
    assert brightdata.calls["scrape"] == 1 and brightdata.calls["trigger"] == 0
    assert brightdata.calls["progress"] == 2 and brightdata.calls["snapshot"] == 2


def test_more_than_20_inputs_are_triggered_not_scraped(brightdata, collect, capsys):
    brightdata.records = PRODUCTS
    inputs = [{"url": f"https://www.amazon.com/dp/B{i:03}"} for i in range(21)]
    collect([source(brightdata, scrape=True, inputs=inputs)])
    assert brightdata.calls["scrape"] == 0 and brightdata.calls["trigger"] == 1
    assert "21 inputs is more than the 20 /scrape takes; triggering instead" in " ".join(capsys.readouterr().err.split())


def test_a_reused_snapshot_that_expired_points_to_recollect(brightdata, collect):
    brightdata.records = PRODUCTS
    collect([source(brightdata)])
    brightdata.fail = {"snapshot": [404]}
    with pytest.raises(StageError, match=r"HTTP 404.*may have expired.*--recollect"):
        collect([source(brightdata)])
    assert brightdata.calls["trigger"] == 1


def test_a_run_that_fails_after_scraping_reads_the_saved_answer_again(brightdata, collect, monkeypatch):
    from webtune.collect.brightdata_api import BrightDataJob

    brightdata.records = PRODUCTS
    real_read = BrightDataJob.read_into
    calls = []

    def fail_once(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise StageError("disk full")
        return real_read(self, *args, **kwargs)

    monkeypatch.setattr(BrightDataJob, "read_into", fail_once)
    with pytest.raises(StageError, match="disk full"):
        collect([source(brightdata, scrape=True)])
    out = collect([source(brightdata, scrape=True)])
    assert len(out.docs) == 3 and dict(brightdata.calls) == {"scrape": 1}


@pytest.mark.parametrize("cell, value", [
    ("12", 12), ("-3", -3), ("12.50", 12.5), ("1e3", 1000.0), ("0", 0), ("0123", "0123"), ("1.", "1."),
    ("true", True), ("false", False), ("True", "True"), ("", None), ("[1, 2]", [1, 2]), ('{"a": null}', {"a": None}),
    ("[not json", "[not json"), ("Pen 0", "Pen 0"),
])
def test_csv_cells_are_typed_as_json_would_hold_them(cell, value):
    from webtune.collect.brightdata_api import csv_value

    assert csv_value(cell) == value and type(csv_value(cell)) is type(value)
