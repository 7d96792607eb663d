"""A stand-in for Bright Data's ``POST /request`` (Web Unlocker and SERP API) on 127.0.0.1.

It speaks the documented shapes: ``Authorization: Bearer <key>`` and a JSON body
``{"zone", "url", "format"}``. A request for the Web Unlocker zone answers with the target page
from ``pages`` (``format: raw``: the body; ``format: json``: ``{"status_code", "headers",
"body"}``); a request for the SERP zone answers a results URL carrying ``brd_json=1`` with
``{"organic": [{"link", "title", "description", "rank"}, ...]}`` from ``results`` (by query).
A wrong key is a 401, an unknown zone a 400, like the real API.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.http import Server, serve


@dataclass
class FakeBrightDataRequest:
    token: str = "test-token"
    unlocker_zone: str = "unlocker1"
    serp_zone: str = "serp1"
    pages: dict[str, tuple[int, dict[str, str], str]] = field(default_factory=dict)  # url -> (status, headers, html)
    results: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # query -> organic results
    fail_first: list[int] = field(default_factory=list)  # statuses answered first (429, 503...)
    requests: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)
    base_url: str = ""

    def handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                fake.requests.append(body)
                fake.authorizations.append(self.headers.get("Authorization", ""))
                if self.path != "/request":
                    return self._send(404, {"error": "not found"})
                if fake.fail_first:
                    return self._send(fake.fail_first.pop(0), {"error": "busy"}, {"Retry-After": "0"})
                if self.headers.get("Authorization") != f"Bearer {fake.token}":
                    return self._send(401, {"error": "invalid token"}, {"x-brd-error": "Invalid API key"})
                if set(body) - {"zone", "url", "format"} or not body.get("url") or body.get("format") not in ("raw", "json"):
                    return self._send(400, {"error": "zone, url and format (raw or json) are required"})
                if body.get("zone") == fake.unlocker_zone:
                    return self._unlock(body)
                if body.get("zone") == fake.serp_zone:
                    return self._search(body)
                return self._send(400, {"error": f"zone {body.get('zone')!r} not found"},
                                  {"x-brd-error": "zone not found"})

            def _unlock(self, body: dict[str, Any]) -> None:
                status, headers, html = fake.pages.get(body["url"], (404, {"Content-Type": "text/html"}, "<html>missing</html>"))
                if body["format"] == "json":
                    return self._send(200, {"status_code": status, "headers": headers, "body": html})
                return self._send(200, html.encode(), {"Content-Type": headers.get("Content-Type", "text/html")})

            def _search(self, body: dict[str, Any]) -> None:
                query = parse_qs(urlsplit(body["url"]).query)
                q = (query.get("q") or [""])[0]
                if query.get("brd_json") != ["1"]:
                    return self._send(200, f"<html><body>results for {q}</body></html>".encode(),
                                      {"Content-Type": "text/html"})
                return self._send(200, {"organic": fake.results.get(q, [])})

            def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", (headers or {}).pop("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler


def start(fake: FakeBrightDataRequest) -> Server:
    """Serve ``fake`` on 127.0.0.1 at a free port in a thread (sets ``fake.base_url``)."""
    server, fake.base_url = serve(fake.handler())
    return server
