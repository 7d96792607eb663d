"""Local servers for the collect tests: a fake Bright Data API and a small web site."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

import pytest

from webtune.collect.config import CollectConfig
from webtune.collect.stage import run_collect
from webtune.stage import run_stage

from tests.fakes.brightdata import FakeBrightData, S3Server, Server, serve  # noqa: F401


# The fake Bright Data API lives in tests/fakes/brightdata.py; re-exported for the collect tests.
_Server = Server


@pytest.fixture
def brightdata(monkeypatch):
    """A fresh fake Bright Data API (and the token in the environment)."""
    monkeypatch.setenv("BRIGHTDATA_API_TOKEN", "test-token")
    fake = FakeBrightData()
    server, fake.base_url = serve(fake.handler())
    yield fake
    server.shutdown()
    server.server_close()


# ------------------------------------------------------------------ local web site

PAGE = "<html><head><title>{title}</title></head><body><h1>{title}</h1><p>{text}</p>{links}</body></html>"


def page(title: str, *links: str, text: str = "Some words about office supplies.") -> bytes:
    anchors = "".join(f'<a href="{href}">{href}</a> ' for href in links)
    return PAGE.format(title=title, text=text, links=anchors).encode()


@dataclass
class LocalSite:
    """A small site: robots.txt, a sitemap, redirects, a disallowed path, a slow page, a 404, a binary."""

    hits: Counter = field(default_factory=Counter)
    starts: list[tuple[str, float]] = field(default_factory=list)
    base_url: str = ""
    slow_s: float = 1.5
    extra: dict[str, bytes] = field(default_factory=dict)
    answers: dict[str, tuple[int, dict[str, str], bytes]] = field(default_factory=dict)  # path -> full answer
    fail: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)  # path -> answers first

    def routes(self) -> dict[str, Callable[[], tuple[int, dict[str, str], bytes]]]:
        html = {"Content-Type": "text/html; charset=utf-8"}
        sitemap = (f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                   f"<url><loc>{self.base_url}/from-sitemap</loc></url><url><loc>{self.base_url}/</loc></url>"
                   "</urlset>").encode()
        routes = {
            "/robots.txt": lambda: (200, {"Content-Type": "text/plain"},
                                    b"User-agent: *\nDisallow: /private\n"
                                    + f"Sitemap: {self.base_url}/sitemap.xml\n".encode()),
            "/sitemap.xml": lambda: (200, {"Content-Type": "application/xml"}, sitemap),
            "/": lambda: (200, html, page("Home", "/a", "/a#section", "/old", "/private/secret", "/missing",
                                          "/file.bin", "/slow", "/big", "http://elsewhere.invalid/x",
                                          "mailto:someone@example.com")),
            "/a": lambda: (200, html, page("Page A", "/", "/a/deep", "/a?z=1&b=2")),
            "/a/deep": lambda: (200, html, page("Deep page")),
            "/old": lambda: (301, {"Location": "/new", "Content-Length": "0"}, b""),
            "/new": lambda: (200, html, page("New page")),
            "/private/secret": lambda: (200, html, page("Secret")),
            "/file.bin": lambda: (200, {"Content-Type": "application/octet-stream"}, bytes(range(256)) * 4),
            "/slow": lambda: (time.sleep(self.slow_s), (200, html, page("Slow")))[1],
            "/big": lambda: (200, html, page("Big", text="word " * 20000)),
            "/from-sitemap": lambda: (200, html, page("From the sitemap")),
        }
        routes.update({k: (lambda v=v: (200, html, v)) for k, v in self.extra.items()})
        routes.update({k: (lambda v=v: v) for k, v in self.answers.items()})
        return routes

    def handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                site.hits[self.path] += 1
                site.starts.append((self.path, time.monotonic()))
                route = site.routes().get(path)
                status, headers, body = route() if route else (404, {"Content-Type": "text/html"}, b"<h1>404</h1>")
                if site.fail.get(path):
                    status, headers = site.fail[path].pop(0)
                    body = b"<h1>try later</h1>"
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    if "Content-Length" not in headers:
                        self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler


@pytest.fixture
def site():
    """A fresh local web site on 127.0.0.1."""
    local = LocalSite()
    server, local.base_url = serve(local.handler())
    yield local
    server.shutdown()
    server.server_close()


# ------------------------------------------------------------------ running the stage


def read_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@dataclass
class Collected:
    manifest: dict[str, Any]
    docs: list[dict[str, Any]]
    rejects: list[dict[str, Any]]
    run_dir: Path


@pytest.fixture
def collect(tmp_path):
    """Run the collect stage on source dicts (paths relative to tmp_path); return what it wrote."""

    def run(sources: list[dict[str, Any]], run_dir: Path | None = None, force: bool = True) -> Collected:
        config = CollectConfig.model_validate({"sources": sources}, context={"base_dir": tmp_path})
        where = run_dir or tmp_path / "run"
        manifest = run_stage("collect", run_collect, run_dir=where, config=config, force=force)
        out = where / "collect"
        return Collected(manifest, read_lines(out / "documents.jsonl"), read_lines(out / "rejects.jsonl"), where)

    return run
