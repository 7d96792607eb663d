#!/usr/bin/env python3
"""Fields recovered by the `structured` clean step from product pages with known values.

Pages are generated (webtune.clean.product_pages) in seven site styles: one JSON-LD Product,
a nested ``@graph``, arrays everywhere, sloppy JSON-LD (comment wrapper, trailing comma,
raw newline), a cut JSON-LD block with OpenGraph left, microdata only and RDFa only. Each
page goes through the real step; the table shows per style and field the share of pages
whose value came back exactly (numbers to the cent), and the CPU per page.

    .venv/bin/python bench/structured_pages.py --pages 40
"""

from __future__ import annotations

import argparse
import time

from rich.console import Console
from rich.table import Table

from webtune.clean.product_pages import FIELDS, STYLE_FIELDS, STYLES, recovered, render, sample_records
from webtune.clean.steps.structured import Structured, StructuredConfig
from webtune.records import Document, SourceRef


def run(pages: int, seed: int) -> dict[str, dict[str, float]]:
    """Per style: share of pages recovering each field, plus page type hits and ms per page."""
    step = Structured(StructuredConfig())
    records = sample_records(pages, seed=seed)
    for style in STYLES:  # warm up: imports and parsers load once, outside the timings
        step.apply(Document(id="w", source=SourceRef(kind="crawl", uri="https://shop.example/w"),
                            html=render(records[0], style)), {})
    results: dict[str, dict[str, float]] = {}
    for style in STYLES:
        hits = dict.fromkeys(FIELDS, 0)
        typed = 0
        started = time.process_time()
        for record in records:
            doc = Document(id=record["sku"], source=SourceRef(kind="crawl", uri=record["url"]),
                           content_type="text/html", html=render(record, style), meta={"url": record["url"]})
            step.apply(doc, {})
            typed += doc.meta.get("page_type") == "product"
            for field, ok in recovered(record, doc.fields).items():
                hits[field] += ok
        cpu_ms = (time.process_time() - started) * 1000 / pages
        results[style] = {**{f: hits[f] / pages for f in FIELDS}, "page_type": typed / pages, "ms_per_page": cpu_ms}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=40, help="pages per style")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    results = run(args.pages, args.seed)
    table = Table(title=f"structured: fields recovered ({args.pages} pages per style)")
    table.add_column("style")
    for field in (*FIELDS, "page_type", "ms/page"):
        table.add_column(field, justify="right")
    for style, row in results.items():
        cells = [("—" if f not in STYLE_FIELDS[style] and not row[f] else f"{row[f]:.0%}") for f in FIELDS]
        table.add_row(style, *cells, f"{row['page_type']:.0%}", f"{row['ms_per_page']:.1f}")
    Console(width=200).print(table)
    print("— : the style's page does not carry the field at all")


if __name__ == "__main__":
    main()
