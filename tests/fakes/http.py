"""One way the local stand-ins serve: a threaded HTTP server on 127.0.0.1 at a free port."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve(handler: type[BaseHTTPRequestHandler]) -> tuple[Server, str]:
    """Start ``handler`` on 127.0.0.1 at a random port in a thread; return (server, base URL)."""
    server = Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"
