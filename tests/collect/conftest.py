"""Local servers for the collect tests: a fake Bright Data API and a small web site."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import pytest

from webtune.collect.config import CollectConfig
from webtune.collect.stage import run_collect
from webtune.stage import run_stage


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve(handler: type[BaseHTTPRequestHandler]) -> tuple[_Server, str]:
    """Start ``handler`` on 127.0.0.1 at a random port in a thread; return (server, base URL)."""
    server = _Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


# ------------------------------------------------------------------ fake Bright Data


@dataclass
class FakeBrightData:
    """Speaks /datasets/v3/{trigger,progress,snapshot}; every behaviour is scripted per test."""

    records: list[Any] = field(default_factory=list)
    body: bytes | None = None              # raw snapshot body (overrides records)
    progress: list[str] = field(default_factory=lambda: ["running", "ready"])
    snapshot_202: int = 1                  # 202 answers before the snapshot is served
    try_again_in: str | None = None        # the 202's hint, as the real API words it: "10s"
    fail: dict[str, list[int]] = field(default_factory=dict)  # endpoint -> statuses to answer first
    retry_after: str | None = None
    cut_downloads: int = 0                 # downloads that break off mid-body
    progress_error: str = "collection failed: too many inputs"
    calls: Counter = field(default_factory=Counter)
    requests: list[dict[str, Any]] = field(default_factory=list)
    snapshot_id: str = "s_test123"
    base_url: str = ""

    def snapshot_body(self) -> bytes:
        if self.body is not None:
            return self.body
        return "".join(json.dumps(r) + "\n" for r in self.records).encode()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _scripted_failure(self, endpoint: str) -> bool:
                statuses = fake.fail.get(endpoint) or []
                if not statuses:
                    return False
                status = statuses.pop(0)
                headers = {"Retry-After": fake.retry_after} if status == 429 and fake.retry_after else {}
                self._send(status, {"error": f"scripted {status}"}, headers)
                return True

            def _route(self, method: str) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = url.path.strip("/").split("/")
                endpoint = parts[2] if len(parts) > 2 else ""
                fake.calls[endpoint] += 1
                fake.requests.append({"method": method, "path": url.path, "query": parse_qs(url.query),
                                      "body": body, "auth": self.headers.get("Authorization")})
                if self.headers.get("Authorization") != "Bearer test-token":
                    return self._send(401, {"error": "Unauthorized"})
                if self._scripted_failure(endpoint):
                    return None
                if endpoint == "trigger" and method == "POST":
                    return self._send(200, {"snapshot_id": fake.snapshot_id})
                if endpoint == "progress":
                    status = fake.progress.pop(0) if len(fake.progress) > 1 else fake.progress[0]
                    answer = {"snapshot_id": parts[3], "dataset_id": "gd_test", "status": status}
                    if status == "failed":
                        answer["error"] = fake.progress_error
                    return self._send(200, answer)
                if endpoint == "snapshot":
                    if fake.snapshot_202 > 0:
                        fake.snapshot_202 -= 1
                        hint = f", try again in {fake.try_again_in}" if fake.try_again_in else ""
                        return self._send(202, {"status": "building", "message": f"Snapshot is building{hint}"})
                    data = fake.snapshot_body()
                    if fake.cut_downloads > 0:
                        fake.cut_downloads -= 1
                        self.send_response(200)
                        self.send_header("Content-Length", str(len(data)))
                        self.end_headers()
                        self.wfile.write(data[: len(data) // 2])
                        self.wfile.flush()
                        self.close_connection = True
                        return None
                    return self._send(200, data)
                return self._send(404, {"error": "not found"})

            def do_GET(self) -> None:
                self._route("GET")

            def do_POST(self) -> None:
                self._route("POST")

        return Handler


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
