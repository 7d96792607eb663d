#!/usr/bin/env python3
"""A local shop web site for the crawled-products example, served on 127.0.0.1.

The products are the office-products demo's (examples/office-products/generate_snapshot.py,
same seed, noise included), each rendered as a product page in one of seven site styles
(JSON-LD, nested @graph, arrays, sloppy JSON-LD, a broken block with OpenGraph left,
microdata only, RDFa only: webtune.clean.product_pages). A home page links category
listing pages (schema.org ItemList), which link the products; an about page is an article.

    python examples/crawled-products/shop_site.py -- webtune run examples/crawled-products/pipeline.local.yaml
    python examples/crawled-products/shop_site.py          # serve until Ctrl-C

It builds the site in a temporary folder, serves it on a free port, writes
``pipeline.local.yaml``: ``pipeline.yaml`` with its start URL pointing at that port, runs
the command after ``--`` and stops the server when the command ends.
"""

from __future__ import annotations

import argparse
import functools
import html
import importlib.util
import json
import subprocess
import sys
import tempfile
import threading
from collections import defaultdict
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from webtune.clean.product_pages import STYLES, render

HERE = Path(__file__).resolve().parent
GENERATOR = HERE.parent / "office-products" / "generate_snapshot.py"


def office_records(count: int, seed: int) -> list[dict[str, Any]]:
    """The office-products demo's snapshot records (noise included)."""
    spec = importlib.util.spec_from_file_location("generate_snapshot", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    records, _labels = module.build_snapshot(count=count, seed=seed)
    return records


def page_record(record: dict[str, Any], base_url: str, index: int) -> dict[str, Any] | None:
    """A snapshot record as the product page shows it; None for records a page cannot show
    (no price or rating: a shop always shows those)."""
    price = record.get("final_price")
    if isinstance(price, str):
        price = float(price.lstrip("$"))
    if price is None or record.get("rating") is None:
        return None
    return {
        "title": record["title"], "brand": record["brand"], "description": record.get("description") or "",
        "features": list(record.get("features") or []), "final_price": float(price),
        "currency": record.get("currency") or "USD", "rating": float(record["rating"]),
        "reviews_count": int(record.get("reviews_count") or 0), "sku": record["asin"],
        "gtin": f"{4006381000000 + index:013d}", "images": [record["image_url"]],
        "url": f"{base_url}/p/{index}.html", "categories": record.get("categories") or [],
    }


def build_site(root: Path, base_url: str, count: int, seed: int) -> dict[str, int]:
    """Write the shop's pages under ``root``; return page counts by kind."""
    (root / "p").mkdir(parents=True)
    (root / "c").mkdir()
    by_category: dict[str, list[dict[str, Any]]] = defaultdict(list)
    written = 0
    for i, record in enumerate(office_records(count, seed)):
        page = page_record(record, base_url, i)
        if page is None:
            continue
        (root / "p" / f"{i}.html").write_text(render(page, STYLES[i % len(STYLES)]), encoding="utf-8")
        by_category[(page["categories"] or ["Office"])[-1]].append(page)
        written += 1
    links = []
    for n, (category, pages) in enumerate(sorted(by_category.items())):
        items = [{"@type": "ListItem", "position": k + 1, "url": p["url"]} for k, p in enumerate(pages)]
        listing = {"@context": "https://schema.org", "@type": "ItemList", "name": category, "itemListElement": items}
        anchors = "".join(f'<li><a href="/p/{p["url"].rsplit("/", 1)[1]}">{html.escape(p["title"])}</a></li>'
                          for p in pages)
        (root / "c" / f"{n}.html").write_text(
            f"<!doctype html><html><head><title>{html.escape(category)}</title>"
            f'<script type="application/ld+json">{json.dumps(listing)}</script></head>'
            f"<body><h1>{html.escape(category)}</h1><ul>{anchors}</ul></body></html>", encoding="utf-8")
        links.append(f'<li><a href="/c/{n}.html">{html.escape(category)}</a></li>')
    (root / "about.html").write_text(
        '<!doctype html><html><head><title>About us</title><meta property="og:type" content="article"></head>'
        "<body><h1>About us</h1><p>We have sold office supplies since 1999.</p></body></html>", encoding="utf-8")
    (root / "index.html").write_text(
        f"<!doctype html><html><head><title>Example Office Shop</title></head><body><h1>Example Office Shop</h1>"
        f"<ul>{''.join(links)}</ul><a href='/about.html'>About us</a></body></html>", encoding="utf-8")
    (root / "robots.txt").write_text("User-agent: *\nDisallow: /cart\n", encoding="utf-8")
    return {"products": written, "listings": len(links), "other": 2}


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


def serve(root: Path) -> ThreadingHTTPServer:
    """Serve ``root`` on a free port of 127.0.0.1 in a background thread."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


PLACEHOLDER_URL = "http://127.0.0.1:8765/"


def write_pipeline(template: Path, out: Path, start_url: str) -> None:
    """``template`` (pipeline.yaml) with its placeholder start URL replaced by the site's."""
    text = template.read_text(encoding="utf-8")
    if PLACEHOLDER_URL not in text:
        raise SystemExit(f"{template}: the start URL {PLACEHOLDER_URL} is not in the file")
    out.write_text(text.replace(PLACEHOLDER_URL, start_url), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[argv.index("--") + 1:] if "--" in argv else []
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=360, help="products of the office-products generator")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pipeline", type=Path, default=HERE / "pipeline.local.yaml", help="where to write the pipeline")
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    with tempfile.TemporaryDirectory(prefix="webtune-shop-") as tmp:
        root = Path(tmp)
        server = serve(root)
        base_url = f"http://127.0.0.1:{server.server_address[1]}"
        counts = build_site(root, base_url, args.count, args.seed)
        write_pipeline(HERE / "pipeline.yaml", args.pipeline, base_url + "/")
        print(f"shop: {counts} at {base_url}/ ; pipeline written to {args.pipeline}", flush=True)
        try:
            if command:
                return subprocess.call(command)
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
        finally:
            server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
