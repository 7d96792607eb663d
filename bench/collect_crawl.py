#!/usr/bin/env python3
"""Benchmark: crawler pages per second against a local site, at several concurrencies.

    .venv/bin/python bench/collect_crawl.py [--pages 300] [--concurrency 1 4 8 16] [--latency-ms 20]

A threaded http.server on 127.0.0.1 serves ``--pages`` linked HTML pages (each page
links to the next five), answering each after ``--latency-ms`` to mimic a remote
server. The crawl runs through the collect stage with no politeness delay and all
requests allowed on the one host, so the figure is the crawler's own throughput.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def make_site(pages: int, latency_s: float) -> tuple[ThreadingHTTPServer, str]:
    """Start the local site; return the server and its base URL."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # noqa: D401 - quiet
            pass

        def do_GET(self):
            if self.path == "/robots.txt":
                body, ctype = b"User-agent: *\nAllow: /\n", "text/plain"
            else:
                n = int(self.path.strip("/").removeprefix("p") or 0)
                links = "".join(f'<a href="/p{m}">page {m}</a> ' for m in range(n + 1, min(n + 6, pages)))
                body = (f"<html><head><title>Page {n}</title></head><body><h1>Page {n}</h1>"
                        f"<p>{'Office supplies and more. ' * 40}</p>{links}</body></html>").encode()
                ctype = "text/html; charset=utf-8"
            time.sleep(latency_s)
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def crawl_once(base: str, pages: int, concurrency: int, run_dir: Path) -> dict:
    from rich.console import Console

    from webtune.collect.config import CollectConfig
    from webtune.collect.stage import run_collect
    from webtune.stage import run_stage

    source = {"kind": "crawl", "urls": [base + "/p0"], "max_pages": pages, "max_depth": pages,
              "concurrency": concurrency, "per_host_concurrency": concurrency, "delay_s": 0,
              "allow_private": True, "timeout_s": 30}
    config = CollectConfig.model_validate({"sources": [source]})
    started = time.perf_counter()
    manifest = run_stage("collect", run_collect, run_dir=run_dir, config=config, force=True,
                         console=Console(stderr=True, quiet=True))
    seconds = time.perf_counter() - started
    return {"pages": manifest.counts.kept, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8, 16])
    parser.add_argument("--latency-ms", type=float, default=20.0)
    args = parser.parse_args()
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"crawler throughput ({args.pages} pages, {args.latency_ms:g} ms server latency)")
    for column in ("concurrency", "pages", "seconds", "pages/s"):
        table.add_column(column, justify="right")
    server, base = make_site(args.pages, args.latency_ms / 1000)
    with tempfile.TemporaryDirectory(prefix="webtune-bench-crawl-") as tmp:
        for concurrency in args.concurrency:
            result = crawl_once(base, args.pages, concurrency, Path(tmp) / f"c{concurrency}")
            table.add_row(str(concurrency), str(result["pages"]), f"{result['seconds']:.2f}",
                          f"{result['pages'] / result['seconds']:.1f}")
    server.shutdown()
    Console().print(table)


if __name__ == "__main__":
    sys.exit(main())
