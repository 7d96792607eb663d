"""A one-collection receiver of Bright Data's webhook calls (``notify`` and ``endpoint``).

Collect starts it on ``listen`` (127.0.0.1 and a free port by default) before the trigger and
passes its URLs: ``<base>/<token>/notify`` gets ``{"snapshot_id", "status"}`` when the
collection ends, ``<base>/<token>/deliver`` the data itself. ``public_url`` replaces the
base where Bright Data must reach this machine through a tunnel or proxy. The random token
in the path keeps stray callers out; with ``auth_header_env`` every call must also carry that
variable's value as its ``Authorization`` header (Bright Data sends the trigger's
``auth_header``), others are answered 401 and ignored.

Written on the standard library's http.server: one short-lived endpoint for one job needs
no web framework, and serve's FastAPI stack is an extra the collect stage must not require.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from rich.console import Console

from webtune.errors import ConfigError


@dataclass
class WebhookEvent:
    """What the receiver heard: the notified status, and the pushed data's file if any."""

    status: str
    data: Path | None = None


def auth_header_from_env(name: str | None) -> str | None:
    """The webhook's Authorization value from the variable ``name`` (never from a file or option)."""
    if not name:
        return None
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigError(f"webhook.auth_header_env: set {name} in the environment (the Authorization "
                          "header Bright Data sends with its webhook calls)")
    return value


def _copy_exactly(source: Any, out: Any, length: int) -> bool:
    """Copy ``length`` bytes; False when the body ends before."""
    left = length
    while left > 0:
        block = source.read(min(left, 1 << 20))
        if not block:
            return False
        out.write(block)
        left -= len(block)
    return True


def _copy_chunked(source: Any, out: Any) -> bool:
    """Copy a chunked body (HTTP/1.1 chunked transfer coding); False when it ends early."""
    while True:
        size_line = source.readline(1024)
        if not size_line:
            return False
        size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            while source.readline(1024) not in (b"\r\n", b"\n", b""):  # trailers
                pass
            return True
        if not _copy_exactly(source, out, size):
            return False
        source.readline(16)  # the CRLF after each chunk


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class WebhookReceiver:
    """Listens for one collection's notification and data; `wait` returns what arrived first."""

    def __init__(self, *, listen: str, public_url: str | None, work_dir: Path, expected_auth: str | None,
                 fmt: str, console: Console):
        host, _, port = listen.rpartition(":")
        self.host, self.port = host or "127.0.0.1", int(port or 0)
        self.public_url = public_url.rstrip("/") if public_url else None
        self.work_dir = Path(work_dir)
        self.expected_auth = expected_auth
        self.fmt = fmt
        self.console = console
        self.token = secrets.token_urlsafe(12)
        self.status: str | None = None
        self.data: Path | None = None
        self.refused = 0
        self.changed = threading.Condition()
        self.server: _Server | None = None

    @property
    def public_base(self) -> str:
        if self.public_url:
            return self.public_url
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def notify_url(self) -> str:
        return f"{self.public_base}/{self.token}/notify"

    @property
    def deliver_url(self) -> str:
        return f"{self.public_base}/{self.token}/deliver"

    def start(self) -> "WebhookReceiver":
        try:
            self.server = _Server((self.host, self.port), self._handler())
        except OSError as exc:
            raise ConfigError(f"webhook.listen: cannot listen on {self.host}:{self.port}: {exc.strerror}") from None
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
        return self

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def wait(self, timeout_s: float, want_data: bool = False) -> WebhookEvent | None:
        """The first news within ``timeout_s``: data, or a notification (with ``want_data``: data, or
        a "failed" notification; a "ready" one alone is returned when time runs out). None: nothing."""
        deadline = time.monotonic() + timeout_s
        with self.changed:
            while True:
                if self.data is not None:
                    return WebhookEvent(self.status or "ready", self.data)
                if self.status is not None and (not want_data or self.status == "failed"):
                    return WebhookEvent(self.status)
                left = deadline - time.monotonic()
                if left <= 0:
                    return WebhookEvent(self.status) if self.status else None
                self.changed.wait(left)

    # ------------------------------------------------------------ HTTP

    def _authorized(self, header: str | None) -> bool:
        if self.expected_auth is None:
            return True
        return header is not None and hmac.compare_digest(header.encode(), self.expected_auth.encode())

    def _notified(self, body: bytes) -> None:
        try:
            status = str(json.loads(body or b"{}").get("status", "")).lower() or "ready"
        except (ValueError, AttributeError):
            status = "ready"
        with self.changed:
            self.status = status
            self.changed.notify_all()

    def _received(self, handler: BaseHTTPRequestHandler, length: int) -> None:
        """Stream a pushed body (Content-Length or chunked) to a file; gzip bodies keep a .gz name."""
        part = self.work_dir / f"webhook-{self.token}.{self.fmt}.part"
        chunked = "chunked" in (handler.headers.get("Transfer-Encoding") or "").lower()
        with open(part, "wb") as out:
            complete = _copy_chunked(handler.rfile, out) if chunked else _copy_exactly(handler.rfile, out, length)
        if not complete:  # cut short: not data to read
            part.unlink(missing_ok=True)
            return
        with open(part, "rb") as head:
            gzipped = head.read(2) == b"\x1f\x8b"
        final = part.with_name(part.name[: -len(".part")] + (".gz" if gzipped else ""))
        part.replace(final)
        with self.changed:
            self.data = final
            self.changed.notify_all()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # the console says what matters
                pass

            def _answer(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                route = self.path.split("?", 1)[0]
                if route not in (f"/{receiver.token}/notify", f"/{receiver.token}/deliver"):
                    return self._answer(404)
                if not receiver._authorized(self.headers.get("Authorization")):
                    receiver.refused += 1
                    receiver.console.print("[yellow]brightdata[/yellow]: webhook: refused a call without the "
                                           "expected Authorization header")
                    return self._answer(401)
                if route.endswith("/notify"):
                    receiver._notified(self.rfile.read(length) if length else b"")
                else:
                    receiver._received(self, length)
                return self._answer(200)

        return Handler
