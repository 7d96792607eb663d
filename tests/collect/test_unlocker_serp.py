"""Bright Data Web Unlocker (a crawl fetcher) and SERP API (a source), against a local stand-in
that speaks their documented request and response shapes (tests/fakes/brightdata_request.py)."""

from __future__ import annotations

import pytest

from tests.fakes.brightdata_request import FakeBrightDataRequest, start
from webtune.errors import ConfigError

HTML = {"Content-Type": "text/html; charset=utf-8"}


def page(title: str, *links: str) -> str:
    return f"<html><head><title>{title}</title></head><body><h1>{title}</h1>" + "".join(
        f'<a href="{link}">{link}</a>' for link in links) + "</body></html>"


@pytest.fixture
def bright(monkeypatch):
    fake = FakeBrightDataRequest()
    server = start(fake)
    monkeypatch.setenv("BRIGHTDATA_API_TOKEN", fake.token)
    monkeypatch.setenv("BRIGHTDATA_UNLOCKER_ZONE", fake.unlocker_zone)
    monkeypatch.setenv("BRIGHTDATA_SERP_ZONE", fake.serp_zone)
    fake.pages = {
        "https://shop.example/": (200, {**HTML, "ETag": '"e1"'}, page("Shop", "/p/1", "/p/2")),
        "https://shop.example/p/1": (200, HTML, page("Stapler")),
        "https://shop.example/robots.txt": (404, HTML, ""),
    }
    yield fake
    server.shutdown()
    server.server_close()


def unlocked_crawl(fake, **unlocker):
    return {"kind": "crawl", "urls": ["https://shop.example/"], "delay_s": 0, "retries": 0, "timeout_s": 5,
            "fetcher": "unlocker", "unlocker": {"base_url": fake.base_url, **unlocker}}


def no_secret_in(out, token: str) -> None:
    for path in out.run_dir.rglob("*"):
        if path.is_file():
            assert token not in path.read_text(errors="replace"), path


def test_the_crawler_fetches_through_the_web_unlocker(bright, collect):
    out = collect([unlocked_crawl(bright)])
    assert sorted(d["meta"]["url"] for d in out.docs) == ["https://shop.example/", "https://shop.example/p/1"]
    assert [(r["source"]["uri"], r["reason"]) for r in out.rejects] == [("https://shop.example/p/2", "http_404")]
    # the documented request: POST /request {zone, url, format}, the key as a bearer token
    assert {tuple(sorted(r)) for r in bright.requests} == {("format", "url", "zone")}
    assert {r["zone"] for r in bright.requests} == {"unlocker1"} and {r["format"] for r in bright.requests} == {"json"}
    assert set(bright.authorizations) == {"Bearer test-token"}
    no_secret_in(out, bright.token)


def test_raw_format_and_a_configured_zone(bright, collect, monkeypatch):
    monkeypatch.delenv("BRIGHTDATA_UNLOCKER_ZONE")
    out = collect([unlocked_crawl(bright, zone="unlocker1", format="raw")])
    assert {r["format"] for r in bright.requests} == {"raw"} and {r["zone"] for r in bright.requests} == {"unlocker1"}
    # raw brings the body only: the missing page's 404 is lost (why json is the default)
    assert len(out.docs) == 3 and not out.rejects


def test_a_refused_key_rejects_each_url_naming_the_variable_not_the_key(bright, collect, monkeypatch):
    monkeypatch.setenv("BRIGHTDATA_API_TOKEN", "wrong-token")
    out = collect([unlocked_crawl(bright)])
    assert not out.docs and {r["reason"] for r in out.rejects} == {"unlocker_refused"}
    assert "HTTP 401" in out.rejects[0]["message"] and "BRIGHTDATA_API_TOKEN" in out.rejects[0]["message"]
    no_secret_in(out, "wrong-token")


def test_the_unlocker_needs_a_key_and_a_zone(bright, collect, monkeypatch):
    monkeypatch.delenv("BRIGHTDATA_UNLOCKER_ZONE")
    with pytest.raises(ConfigError, match="no zone: set `zone:` or BRIGHTDATA_UNLOCKER_ZONE"):
        collect([unlocked_crawl(bright)])
    monkeypatch.delenv("BRIGHTDATA_API_TOKEN")
    with pytest.raises(ConfigError, match="set BRIGHTDATA_API_TOKEN"):
        collect([unlocked_crawl(bright, zone="z")])


RESULTS = {
    "quiet stapler": [
        {"link": "https://shop.example/p/1", "title": "Quiet stapler", "description": "Staples 20 sheets, silently.",
         "rank": 1},
        {"link": "https://other.example/review", "title": "Review", "description": "We tried five staplers.",
         "rank": 2},
    ],
    "gel pens": [{"link": "https://pens.example/", "title": "Gel pens", "description": "Smooth ink.", "global_rank": 1}],
}


def serp(fake, **extra):
    return {"kind": "serp", "queries": ["quiet stapler", "gel pens", "nothing found"], "base_url": fake.base_url,
            **extra}


def test_serp_results_become_documents(bright, collect):
    bright.results = RESULTS
    out = collect([serp(bright)])
    assert [(d["fields"]["query"], d["fields"]["rank"], d["meta"]["url"]) for d in out.docs] == [
        ("quiet stapler", 1, "https://shop.example/p/1"), ("quiet stapler", 2, "https://other.example/review"),
        ("gel pens", 1, "https://pens.example/")]
    assert out.docs[0]["text"] == "Quiet stapler\n\nStaples 20 sheets, silently." and out.docs[0]["source"]["kind"] == "serp"
    assert all(r["zone"] == "serp1" and r["format"] == "raw" and "brd_json=1" in r["url"] for r in bright.requests)
    assert bright.requests[0]["url"].startswith("https://www.google.com/search?q=quiet+stapler")
    assert out.manifest.stats["sources"][0]["results"] == 3
    no_secret_in(out, bright.token)


def test_serp_results_are_crawled_through_the_unlocker(bright, collect):
    bright.results = {"quiet stapler": RESULTS["quiet stapler"]}
    out = collect([serp(bright, queries=["quiet stapler"], results="crawl",
                        crawl={"max_depth": 0, "fetcher": "unlocker", "delay_s": 0, "retries": 0,
                               "unlocker": {"base_url": bright.base_url}})])
    assert [d["meta"]["url"] for d in out.docs] == ["https://shop.example/p/1"]
    assert [(r["source"]["uri"], r["reason"]) for r in out.rejects] == [("https://other.example/review", "http_404")]


def test_a_busy_serp_api_is_retried_and_a_refused_key_stops_with_one_line(bright, collect, monkeypatch):
    bright.results = RESULTS
    bright.fail_first = [503]
    out = collect([serp(bright, queries=["gel pens"])])
    assert len(out.docs) == 1 and len(bright.requests) == 2
    monkeypatch.setenv("BRIGHTDATA_API_TOKEN", "wrong")
    with pytest.raises(ConfigError, match="SERP API refused the request: HTTP 401"):
        collect([serp(bright)])


def test_serp_config_is_checked_when_loaded():
    from pydantic import ValidationError

    from webtune.collect.sources.serp import SerpSourceConfig

    with pytest.raises(ValidationError, match="crawl.max_depht|Extra inputs"):
        SerpSourceConfig(queries=["q"], crawl={"max_depht": 1})
    with pytest.raises(ValidationError, match="urls and sitemaps come from the search results"):
        SerpSourceConfig(queries=["q"], crawl={"urls": ["https://x.example/"]})
    assert SerpSourceConfig(queries=["a b"], engine="bing").search_url("a b") == \
        "https://www.bing.com/search?q=a+b&count=10&brd_json=1"
