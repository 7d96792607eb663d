"""Incremental collection: files by content hash, records by content id and key, crawls by ETag /
Last-Modified (304 keeps the page as unchanged), Bright Data by new inputs only."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from tests.fakes.conditional_site import ConditionalSite, page_html, start

PRODUCTS = [{"url": f"https://shop.example/p/{i}", "title": f"Product {i}", "price": i} for i in range(6)]


def write(path, records):
    path.write_text(json.dumps(records))
    return path


def test_unchanged_files_are_not_read_and_records_are_new_changed_or_unchanged(tmp_path, collect_version):
    write(tmp_path / "a.json", PRODUCTS[:4])
    write(tmp_path / "b.json", PRODUCTS[4:])
    source = {"kind": "files", "paths": [str(tmp_path / "a.json"), str(tmp_path / "b.json")],
              "fields": {"url": "url", "title": "title"}}
    first = collect_version([source], 1)
    assert first.manifest.stats["refresh"] == {"version": 1, "new": 6, "read_files": 2}
    assert {d["meta"]["refresh"] for d in first.docs} == {"new"}

    # b.json is the same file again; a.json has one product unchanged, two changed, one gone, one new
    changed = [PRODUCTS[0], {**PRODUCTS[1], "price": 99}, {**PRODUCTS[2], "title": "Product 2 (2026)"},
               {"url": "https://shop.example/p/9", "title": "Product 9", "price": 9}]
    write(tmp_path / "a.json", changed)
    second = collect_version([source], 2)
    stats = second.manifest.stats["refresh"]
    assert stats == {"version": 2, "new": 1, "changed": 2, "unchanged": 1, "read_files": 1, "unchanged_files": 1}
    assert {d["meta"]["url"]: d["meta"]["refresh"] for d in second.docs} == {
        "https://shop.example/p/1": "changed", "https://shop.example/p/2": "changed",
        "https://shop.example/p/9": "new"}
    reasons = sorted(r["reason"] for r in second.rejects)
    assert reasons == ["unchanged", "unchanged_file"]
    assert "read by v1" in next(r for r in second.rejects if r["reason"] == "unchanged_file")["message"]
    counts = second.manifest.counts
    assert (counts.seen, counts.kept, counts.rejected) == (5, 3, 2)


def test_a_refresh_key_names_records_by_a_field(tmp_path, history, collect_version):
    from webtune.refresh.tracker import RefreshTracker

    tracker = RefreshTracker(history, 1, "sku", tmp_path)
    doc = {"id": "x", "fields": {"sku": "A-1", "url": "u"}, "meta": {}, "source": {"uri": "f", "line": 3}}
    assert tracker.record_key(doc) == "sku:A-1"
    assert tracker.record_key({**doc, "fields": {}}) == "f#3"
    tracker.close(ok=False)


@pytest.fixture
def conditional_site():
    site = ConditionalSite()
    server = start(site)
    yield site
    server.shutdown()
    server.server_close()


def crawl(site, **extra):
    return {"kind": "crawl", "urls": [site.base_url + "/"], "delay_s": 0.0, "timeout_s": 2.0, "retries": 0,
            "allow_private": True, **extra}


@pytest.mark.parametrize("etags", [True, False], ids=["etag", "last-modified"])
def test_a_recrawl_asks_with_validators_and_a_304_keeps_the_page_as_unchanged(conditional_site, collect_version,
                                                                              etags):
    site = conditional_site
    site.etags = etags
    site.set_page("/", page_html("Home", "/a", "/b"))
    site.set_page("/a", page_html("A", body="first text of a"))
    site.set_page("/b", page_html("B", "/c", body="first text of b"))
    site.set_page("/c", page_html("C", body="reached through b"))
    first = collect_version([crawl(site)], 1)
    assert len(first.docs) == 4 and not first.rejects
    assert all(r["if_none_match"] is None and r["if_modified_since"] is None for r in site.requests)

    site.requests.clear()
    later = datetime(2026, 2, 1, tzinfo=timezone.utc)
    site.set_page("/a", page_html("A", body="second text of a"), later)
    second = collect_version([crawl(site)], 2)
    sent = {r["path"]: r for r in site.requests}
    header = "if_none_match" if etags else "if_modified_since"
    assert all(sent[p][header] for p in ("/", "/a", "/b", "/c"))  # every page asked conditionally
    assert {p: r["status"] for p, r in sent.items()} == {"/": 304, "/a": 200, "/b": 304, "/c": 304}
    # /c is reached through /b's links kept in history, although /b was not downloaded again
    assert [d["meta"]["url"] for d in second.docs] == [site.base_url + "/a"]
    assert second.docs[0]["meta"]["refresh"] == "changed"
    unchanged = sorted(r["source"]["uri"].replace(site.base_url, "") for r in second.rejects)
    assert unchanged == ["/", "/b", "/c"] and {r["reason"] for r in second.rejects} == {"unchanged"}
    assert all("304 Not Modified" in r["message"] for r in second.rejects)
    assert second.manifest.stats["refresh"]["changed"] == 1


def test_bright_data_is_triggered_for_new_inputs_only(tmp_path, history, monkeypatch):
    from webtune.collect.base import SourceRun
    from webtune.collect.sources.brightdata import BrightDataSource, BrightDataSourceConfig
    from webtune.refresh.tracker import RefreshTracker

    monkeypatch.setenv("BRIGHTDATA_API_TOKEN", "t")
    history.commit(1, {}, {}, {})
    (history.version_dir(1) / "collect.json").write_text(json.dumps(
        {"brightdata_inputs": {json.dumps({"url": "https://a"}, separators=(",", ":")): {"status": "new"}}}))
    tracker = RefreshTracker(history, 2, None, tmp_path)
    config = BrightDataSourceConfig(dataset_id="gd_x", inputs=[{"url": "https://a"}])
    stats = BrightDataSource(config).collect(SourceRun(sink=None, work_dir=tmp_path, console=None, refresh=tracker))
    assert stats["triggered"] is False and stats["skipped"] == "no new inputs since the last version"
    assert tracker.new_inputs([{"url": "https://a"}, {"url": "https://b"}]) == [{"url": "https://b"}]
    tracker.close(ok=False)
