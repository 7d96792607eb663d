"""Marketplace dataset snapshots by filter: the estimate first, bought only with yes, never twice."""

from __future__ import annotations

import json

import pytest

from webtune.errors import ConfigError, StageError

from .test_brightdata import FAST, PRODUCTS

FILTER = {"operator": "and", "filters": [{"name": "rating", "operator": ">=", "value": 4.5},
                                         {"name": "brand", "operator": "=", "value": "Acme"}]}


def market(fake, **extra):
    return {"kind": "brightdata-marketplace", "dataset_id": "gd_market", "filter": FILTER, "base_url": fake.base_url,
            "fields": {"title": "title"}, **FAST, **extra}


def test_without_yes_only_the_estimate_is_shown_and_nothing_is_bought(brightdata, collect):
    brightdata.total_hits = 52_000
    with pytest.raises(StageError) as info:
        collect([market(brightdata, records_limit=4000)])
    message = str(info.value)
    assert "\n" not in message
    assert message == ("Marketplace snapshot of gd_market: about 4000 records (52000 matches counted by the search "
                       "endpoint, capped by records_limit) ≈ $10.00 at $2.5 per 1000 records; nothing bought: run "
                       "again with --yes (yes: true) to buy it")
    search = next(r for r in brightdata.requests if r["path"] == "/datasets/search/gd_market")
    assert json.loads(search["body"]) == {"filter": FILTER, "size": 0}
    assert brightdata.calls["filter"] == 0 and set(brightdata.calls) == {"search"}


def test_with_yes_the_filter_buys_a_snapshot_that_is_collected(brightdata, collect, capsys):
    brightdata.records, brightdata.total_hits = PRODUCTS, 3
    out = collect([market(brightdata, yes=True, price_per_1k=3.0)])
    assert [d["fields"] for d in out.docs] == PRODUCTS
    assert {d["source"]["kind"] for d in out.docs} == {"brightdata-marketplace"}
    assert out.docs[0]["source"]["uri"] == f"{brightdata.base_url}/datasets/snapshots/snap_test1/download"
    bought = next(r for r in brightdata.requests if r["path"] == "/datasets/filter")
    assert json.loads(bought["body"]) == {"dataset_id": "gd_market", "filter": FILTER}
    assert brightdata.calls["snapshots"] == 3 and brightdata.calls["download"] == 2  # 202, then the data
    assert "buying Marketplace snapshot of gd_market: about 3 records" in " ".join(capsys.readouterr().err.split())
    # A forced rerun reuses the snapshot: nothing bought twice.
    again = collect([market(brightdata, yes=True, price_per_1k=3.0)])
    assert [d["id"] for d in again.docs] == [d["id"] for d in out.docs] and brightdata.calls["filter"] == 1


def test_an_interrupted_purchase_resumes_its_snapshot(brightdata, collect):
    brightdata.market_progress = ["building"]
    with pytest.raises(StageError, match="snap_test1"):
        collect([market(brightdata, yes=True, records_limit=10, max_wait_s=0.3)])
    brightdata.market_progress, brightdata.records = ["ready"], PRODUCTS
    out = collect([market(brightdata, yes=False, records_limit=10, base_url=brightdata.base_url + "/")])
    assert len(out.docs) == 3 and brightdata.calls["filter"] == 1  # resumed: no yes needed, nothing bought


def test_a_dataset_search_cannot_count_uses_records_limit(brightdata, collect):
    brightdata.total_hits = None  # 404 from the search endpoint
    with pytest.raises(StageError, match=r"about 500 records \(records_limit\) ≈ \$1.25"):
        collect([market(brightdata, records_limit=500)])
    with pytest.raises(ConfigError, match="cannot count the filter's matches; set records_limit"):
        collect([market(brightdata)])
    assert brightdata.calls["filter"] == 0


def test_a_failed_marketplace_snapshot_stops(brightdata, collect):
    brightdata.market_progress = ["building", "failed"]
    with pytest.raises(StageError, match="snap_test1 failed"):
        collect([market(brightdata, yes=True, records_limit=10)])


def test_filter_or_snapshot_id(brightdata, collect):
    with pytest.raises(Exception, match="give exactly one of filter"):
        collect([market(brightdata, snapshot_id="snap_x")])
    brightdata.records, brightdata.market_progress = PRODUCTS, ["ready"]
    out = collect([market(brightdata, filter=None, snapshot_id="snap_old")])
    assert len(out.docs) == 3 and brightdata.calls["filter"] == 0 and brightdata.calls["search"] == 0


def test_yes_true_in_a_pipeline_file_means_yes(tmp_path):
    from webtune.config import load_pipeline

    path = tmp_path / "pipeline.yaml"
    path.write_text("name: demo\nsources:\n  - kind: brightdata-marketplace\n    dataset_id: gd_market\n"
                    "    filter: {name: brand, operator: '=', value: Acme}\n    yes: true\n")
    assert load_pipeline(path).sources[0].yes is True  # PyYAML reads the bare key `yes` as True
