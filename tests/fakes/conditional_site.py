"""A small web site on 127.0.0.1 that answers conditional requests, as real servers do.

Each page has an ETag (a hash of its body) and a Last-Modified date. A request whose
``If-None-Match`` matches the ETag, or (without one) whose ``If-Modified-Since`` is not older
than the page, gets ``304 Not Modified`` and no body. Tests edit ``pages`` between crawls and
read ``requests`` (path, the conditional headers sent, the status answered).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from email.utils import format_datetime, parsedate_to_datetime
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.http import Server, serve


def page_html(title: str, *links: str, body: str = "") -> str:
    anchors = "".join(f'<a href="{href}">{href}</a> ' for href in links)
    return f"<html><head><title>{title}</title></head><body><h1>{title}</h1><p>{body}</p>{anchors}</body></html>"


@dataclass
class ConditionalSite:
    """Pages by path: (html, last modified); ``etags=False`` serves Last-Modified only."""

    pages: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    etags: bool = True
    requests: list[dict[str, Any]] = field(default_factory=list)
    base_url: str = ""

    def set_page(self, path: str, html: str, modified: datetime | None = None) -> None:
        self.pages[path] = (html, modified or datetime(2026, 1, 1, tzinfo=timezone.utc))

    def handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server API
                if self.path == "/robots.txt":
                    return self._send(404, {}, b"")
                if self.path not in site.pages:
                    return self._send(404, {"Content-Type": "text/html"}, b"<html>missing</html>")
                html, modified = site.pages[self.path]
                body = html.encode()
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                headers = {"Content-Type": "text/html; charset=utf-8",
                           "Last-Modified": format_datetime(modified, usegmt=True)}
                if site.etags:
                    headers["ETag"] = etag
                sent_etag = self.headers.get("If-None-Match")
                sent_since = self.headers.get("If-Modified-Since")
                if site.etags and sent_etag is not None:
                    unchanged = sent_etag == etag
                elif sent_since is not None:
                    unchanged = parsedate_to_datetime(sent_since) >= modified
                else:
                    unchanged = False
                site.requests.append({"path": self.path, "if_none_match": sent_etag,
                                      "if_modified_since": sent_since, "status": 304 if unchanged else 200})
                if unchanged:
                    return self._send(304, {k: v for k, v in headers.items() if k != "Content-Type"}, b"")
                return self._send(200, headers, body)

            def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                if status != 304:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if body:
                    self.wfile.write(body)

        return Handler


def start(site: ConditionalSite) -> Server:
    """Serve ``site`` on 127.0.0.1 at a free port in a thread (sets ``site.base_url``)."""
    server, site.base_url = serve(site.handler())
    return server
