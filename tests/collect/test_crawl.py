"""The crawler against a small local site: robots.txt, sitemap, redirects, errors, politeness, resume."""

from __future__ import annotations

import pytest

from webtune.collect import crawler as crawler_module
from webtune.collect.urls import is_private_ip, normalize_url

FAST = {"delay_s": 0.0, "timeout_s": 0.5, "retries": 0, "allow_private": True, "max_bytes": 20_000}


def crawl_source(site, **extra):
    return {"kind": "crawl", "urls": [site.base_url + "/"], "sitemaps": [site.base_url + "/sitemap.xml"],
            **FAST, **extra}


def by_path(site, docs):
    return {d["fields"]["url"].replace(site.base_url, ""): d for d in docs}


def test_crawl_the_local_site(site, collect):
    out = collect([crawl_source(site)])
    docs = by_path(site, out.docs)
    assert set(docs) == {"/", "/a", "/a/deep", "/a?b=2&z=1", "/old", "/from-sitemap"}
    moved = docs["/old"]
    assert moved["fields"]["final_url"] == site.base_url + "/new" and moved["source"]["uri"] == site.base_url + "/new"
    home = docs["/"]
    assert home["content_type"] == "text/html" and "<h1>Home</h1>" in home["html"]
    assert home["fields"]["status"] == 200 and home["fields"]["content_type"].startswith("text/html")
    assert home["fields"]["title"] == "Home" and home["fields"]["fetched_at"] and home["fields"]["depth"] == 0
    assert home["source"]["kind"] == "crawl" and home["meta"]["title"] == "Home"

    reasons = {r["source"]["uri"].replace(site.base_url, ""): r["reason"] for r in out.rejects}
    assert reasons == {"/private/secret": "robots_disallowed", "/missing": "http_404", "/file.bin": "not_html",
                       "/slow": "timeout", "/big": "too_large"}
    assert out.manifest.counts.to_json() == {"in": 11, "kept": 6, "rejected": 5}
    # robots.txt obeyed, and each page fetched once despite #fragments and duplicate links.
    assert site.hits["/private/secret"] == 0
    assert site.hits["/"] == 1 and site.hits["/a"] == 1 and site.hits["/new"] == 1
    assert site.hits["/robots.txt"] == 1
    stats = out.manifest.stats["sources"][0]
    assert stats["sitemap_urls"] == 2 and stats["links_out_of_scope"] >= 1 and stats["pages_per_s"] > 0


def test_max_pages_and_depth(site, collect):
    out = collect([crawl_source(site, sitemaps=[], max_depth=0)])
    assert [d["fields"]["url"] for d in out.docs] == [site.base_url + "/"] and not out.rejects
    out = collect([crawl_source(site, sitemaps=[], max_pages=3, concurrency=1)])
    assert out.manifest.counts.seen <= 4  # 3 fetched pages + robots refusals, which use no budget
    assert len([p for p in site.hits if p not in ("/robots.txt",)]) <= 1 + 6


def test_sitemaps_listed_in_robots_txt_are_crawled_when_asked(site, collect):
    out = collect([crawl_source(site, sitemaps=[], max_depth=0)])
    assert set(by_path(site, out.docs)) == {"/"}  # robots.txt's Sitemap: line is not read by default
    out = collect([crawl_source(site, sitemaps=[], max_depth=0, robots_sitemaps=True)])
    assert set(by_path(site, out.docs)) == {"/", "/from-sitemap"}
    assert out.manifest.stats["sources"][0]["sitemap_urls"] == 2
    assert site.hits["/sitemap.xml"] == 1


def test_loopback_is_refused_unless_allowed(site, collect):
    out = collect([crawl_source(site, allow_private=False, sitemaps=[])])
    assert not out.docs and [r["reason"] for r in out.rejects] == ["private_address"]
    assert "allow_private" in out.rejects[0]["message"]
    assert sum(site.hits.values()) == 0


def test_allow_and_deny_patterns(site, collect):
    out = collect([crawl_source(site, sitemaps=[], deny=[r"/a\b", "slow|big|bin|missing"])])
    assert {d["fields"]["url"].replace(site.base_url, "") for d in out.docs} == {"/", "/old"}


def test_per_host_delay_spaces_requests(site, collect, monkeypatch):
    """The moments the crawler sends requests to one host are ``delay_s`` apart. They are taken
    on the crawler's side: the test server's own clock adds its thread scheduling to each gap,
    which on a loaded machine shortened one gap and lengthened the next."""
    import asyncio

    from webtune.collect.crawler import HostGate

    sent: list[float] = []
    turn = HostGate.turn

    async def timed_turn(gate):
        await turn(gate)
        sent.append(asyncio.get_running_loop().time())

    monkeypatch.setattr(HostGate, "turn", timed_turn)
    collect([crawl_source(site, sitemaps=[], delay_s=0.15, per_host_concurrency=1, concurrency=4, max_pages=4,
                          max_depth=1, deny=["slow"])])
    gaps = [b - a for a, b in zip(sent, sent[1:])]
    assert len(sent) >= 4 and len(site.starts) >= 4 and min(gaps) >= 0.15 - 1e-3, gaps


def test_an_interrupted_crawl_resumes_without_fetching_again(site, collect, monkeypatch):
    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    real_emit = crawler_module.emit
    monkeypatch.setattr(crawler_module, "emit", crash)
    with pytest.raises(KeyboardInterrupt):
        collect([crawl_source(site, deny=["slow"])])
    fetched = sum(site.hits.values())
    assert site.hits["/a/deep"] == 1

    monkeypatch.setattr(crawler_module, "emit", real_emit)
    out = collect([crawl_source(site, deny=["slow"])])
    assert sum(site.hits.values()) == fetched  # the crawl had finished: nothing is fetched again
    assert len(out.docs) == 6 and out.manifest.stats["sources"][0]["resumed"] == 10


def test_a_crawl_killed_before_it_finished_replays_its_log(site, collect, monkeypatch):
    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    real_mark = crawler_module.Crawler.mark_finished
    monkeypatch.setattr(crawler_module.Crawler, "mark_finished", crash)
    with pytest.raises(KeyboardInterrupt):
        collect([crawl_source(site, deny=["slow"])])
    fetched = sum(site.hits.values())

    monkeypatch.setattr(crawler_module.Crawler, "mark_finished", real_mark)
    out = collect([crawl_source(site, deny=["slow"])])
    assert sum(site.hits.values()) == fetched + 1  # robots.txt again, no page twice
    assert len(out.docs) == 6 and out.manifest.stats["sources"][0]["resumed"] == 10


def test_url_normalisation_and_private_addresses():
    assert normalize_url("HTTP://Example.COM:80/a//b?z=1&a=2#frag") == "http://example.com/a/b?a=2&z=1"
    assert normalize_url("../c", "https://example.com/a/b/") == "https://example.com/a/c"
    assert normalize_url("https://example.com") == "https://example.com/"
    assert normalize_url("mailto:x@example.com") is None and normalize_url("javascript:void(0)") is None
    assert all(is_private_ip(ip) for ip in ("127.0.0.1", "10.1.2.3", "192.168.0.1", "169.254.169.254", "::1",
                                            "::ffff:127.0.0.1", "0.0.0.0"))
    assert not is_private_ip("93.184.216.34")


def test_only_unreadable_sitemaps_is_a_clear_error(site, collect, tmp_path):
    from webtune.errors import InputError

    with pytest.raises(InputError, match=r"crawl: nothing to crawl: sitemap .*/no-such-sitemap.xml: HTTP 404"):
        collect([crawl_source(site, urls=[], sitemaps=[site.base_url + "/no-such-sitemap.xml"])])
    assert not (tmp_path / "run" / "collect").exists()


def test_429_and_5xx_wait_as_long_as_retry_after_asks_in_seconds_or_as_a_date(site, collect, monkeypatch):
    import email.utils
    import time

    waits = []

    async def fake_sleep(seconds):
        waits.append(seconds)

    monkeypatch.setattr("webtune.retry.async_sleep", fake_sleep)
    date = email.utils.formatdate(time.time() + 20, usegmt=True)
    site.fail = {"/": [(503, {"Retry-After": "7"}), (429, {"Retry-After": date})]}
    out = collect([crawl_source(site, sitemaps=[], max_depth=0, retries=2)])
    assert [d["fields"]["url"] for d in out.docs] == [site.base_url + "/"] and site.hits["/"] == 3
    assert waits[0] == 7.0 and 17.0 <= waits[1] <= 20.0


def test_a_server_error_that_outlasts_the_retries_is_the_pages_outcome(site, collect, monkeypatch):
    async def fake_sleep(seconds):
        pass

    monkeypatch.setattr("webtune.retry.async_sleep", fake_sleep)
    site.fail = {"/": [(503, {})] * 3}
    out = collect([crawl_source(site, sitemaps=[], max_depth=0, retries=2)])
    assert [r["reason"] for r in out.rejects] == ["http_503"] and site.hits["/"] == 3



# ------------------------------------------------------------------ faults of issue 19


def test_random_bytes_served_as_html_are_rejected_as_binary(site, collect):
    import random

    noise = random.Random(19).randbytes(200_000)
    site.answers = {"/noise": (200, {"Content-Type": "text/html"}, noise),
                    "/noise-utf8": (200, {"Content-Type": "text/html; charset=utf-8"}, noise.replace(b"\0", b"\1"))}
    out = collect([crawl_source(site, urls=[site.base_url + "/noise", site.base_url + "/noise-utf8"], sitemaps=[],
                                max_bytes=300_000)])
    assert not out.docs
    assert sorted(r["reason"] for r in out.rejects) == ["binary", "binary"]


def test_charset_from_header_then_meta_then_detection_for_text_and_title(site, collect):
    title = "Café crème à la carte"
    body = f"<html><head><title>{title}</title>{{meta}}</head><body><p>{title} et déjà vu.</p></body></html>"
    meta = '<meta charset="windows-1252">'
    site.answers = {
        "/meta": (200, {"Content-Type": "text/html"}, body.format(meta=meta).encode("windows-1252")),
        "/header": (200, {"Content-Type": "text/html; charset=windows-1252"},
                    body.format(meta="").encode("windows-1252")),
        # header wins over a wrong meta declaration
        "/both": (200, {"Content-Type": "text/html; charset=utf-8"}, body.format(meta=meta).encode("utf-8")),
        "/none": (200, {"Content-Type": "text/html"},
                  body.format(meta="").replace("</p>", " Servi très chaud à la terrasse.</p>").encode("windows-1252")),
    }
    # UTF-8 as declared, but for one stray byte: that byte is replaced, the page is not re-guessed
    stray = body.format(meta='<meta charset="utf-8">').encode("utf-8").replace(b" et ", b" \xfc et ")
    site.answers["/stray"] = (200, {"Content-Type": "text/html"}, stray)
    urls = [site.base_url + p for p in ("/meta", "/header", "/both", "/none", "/stray")]
    out = collect([crawl_source(site, urls=urls, sitemaps=[], max_depth=0)])
    docs = by_path(site, out.docs)
    assert set(docs) == {"/meta", "/header", "/both", "/none", "/stray"}
    assert "\ufffd et déjà vu" in docs["/stray"]["html"]
    for path, doc in docs.items():
        assert doc["fields"]["title"] == title, path
        assert doc["meta"]["title"] == title, path
        assert "déjà vu" in doc["html"], path


def test_the_first_request_after_robots_txt_honours_its_crawl_delay(site, collect, monkeypatch):
    """Measured when the crawler sends each request (the server's clock adds its scheduling)."""
    import asyncio
    from urllib.parse import urlparse

    from webtune.collect.crawler import Crawler

    sent: dict[str, float] = {}
    fetch = Crawler._fetch_capped

    async def timed_fetch(self, client, url, *args, **kwargs):
        sent.setdefault(urlparse(url).path or "/", asyncio.get_running_loop().time())
        return await fetch(self, client, url, *args, **kwargs)

    monkeypatch.setattr(Crawler, "_fetch_capped", timed_fetch)
    site.answers = {"/robots.txt": (200, {"Content-Type": "text/plain"}, b"User-agent: *\nCrawl-delay: 0.4\n")}
    collect([crawl_source(site, sitemaps=[], max_depth=0, delay_s=0.0)])
    assert {"/robots.txt", "/"} <= {path for path, _ in site.starts}
    assert sent["/"] - sent["/robots.txt"] >= 0.4 - 1e-3


def test_a_resume_log_with_a_cut_last_line_loses_no_page(site, collect, monkeypatch, tmp_path):
    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    real_mark = crawler_module.Crawler.mark_finished
    monkeypatch.setattr(crawler_module.Crawler, "mark_finished", crash)
    source = crawl_source(site, deny=["slow"])
    with pytest.raises(KeyboardInterrupt):
        collect([source])
    log = next((tmp_path / "run").rglob(crawler_module.LOG))
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])  # killed mid-write

    monkeypatch.setattr(crawler_module.Crawler, "mark_finished", real_mark)
    out = collect([source])
    assert len(out.docs) == 6 and len(out.rejects) == 4  # the cut entry is fetched again, none is lost
    assert out.manifest.stats["sources"][0]["resumed"] == 9


def test_a_start_host_ending_with_a_dot_is_crawled(site, collect):
    port = site.base_url.rsplit(":", 1)[1]
    out = collect([{**crawl_source(site), "urls": [f"http://localhost.:{port}/"], "sitemaps": []}])
    assert {d["fields"]["url"] for d in out.docs} >= {f"http://localhost:{port}/", f"http://localhost:{port}/a"}


def test_a_redirect_loop_is_reported_as_a_loop(site, collect):
    site.answers = {"/loop1": (302, {"Location": "/loop2", "Content-Length": "0"}, b""),
                    "/loop2": (302, {"Location": "/loop1", "Content-Length": "0"}, b""),
                    "/self": (302, {"Location": "/self", "Content-Length": "0"}, b"")}
    out = collect([crawl_source(site, urls=[site.base_url + "/loop1", site.base_url + "/self"], sitemaps=[])])
    reasons = {r["source"]["uri"].replace(site.base_url, ""): (r["reason"], r["message"]) for r in out.rejects}
    assert reasons["/loop1"][0] == "redirect_loop" and "/loop2 -> " in reasons["/loop1"][1]
    assert reasons["/self"][0] == "redirect_loop"
    assert site.hits["/loop1"] == 1 and site.hits["/loop2"] == 1 and site.hits["/self"] == 1


def test_the_client_connects_to_the_address_the_guard_checked(site, collect, monkeypatch):
    """DNS rebinding: the name resolves to the site once, then elsewhere; only the first answer is used."""
    import asyncio
    import socket

    port = int(site.base_url.rsplit(":", 1)[1])
    real = asyncio.base_events.BaseEventLoop.getaddrinfo
    asked = []

    async def rebinding(self, host, *args, **kwargs):
        if host == "rebind.test":
            asked.append(host)
            address = "127.0.0.1" if len(asked) == 1 else "192.0.2.1"  # TEST-NET: nothing answers there
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return await real(self, host, *args, **kwargs)

    monkeypatch.setattr(asyncio.base_events.BaseEventLoop, "getaddrinfo", rebinding)
    out = collect([crawl_source(site, urls=[f"http://rebind.test:{port}/"], sitemaps=[], max_depth=1,
                                deny=["slow"])])
    assert {d["fields"]["url"] for d in out.docs} >= {f"http://rebind.test:{port}/", f"http://rebind.test:{port}/a"}
    assert asked == ["rebind.test"]  # resolved once, by the guard; the client used the pinned address
    assert site.hits["/"] == 1


def test_a_public_answer_then_a_private_one_never_reaches_the_private_address(site, collect, monkeypatch):
    """With the guard on, the checked public address is the one connected to, not a later private answer."""
    import asyncio
    import socket

    from webtune.collect import pinned

    port = int(site.base_url.rsplit(":", 1)[1])
    real = asyncio.base_events.BaseEventLoop.getaddrinfo
    calls = []

    async def rebinding(self, host, *args, **kwargs):
        if host == "rebind.test":
            calls.append(host)
            address = "93.184.216.34" if len(calls) == 1 else "127.0.0.1"
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return await real(self, host, *args, **kwargs)

    connected = []

    async def refuse(self, host, port, **kwargs):
        connected.append((host, self.address_of(host)))
        raise pinned.httpcore.ConnectError("no network in tests")

    monkeypatch.setattr(asyncio.base_events.BaseEventLoop, "getaddrinfo", rebinding)
    monkeypatch.setattr(pinned.PinnedBackend, "connect_tcp", refuse)
    out = collect([crawl_source(site, urls=[f"http://rebind.test:{port}/"], sitemaps=[], allow_private=False,
                                max_depth=0)])
    assert not out.docs and sum(site.hits.values()) == 0
    assert connected and all(address == "93.184.216.34" for _, address in connected) and calls == ["rebind.test"]
