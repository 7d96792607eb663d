#!/usr/bin/env python3
"""Benchmark: files-source ingestion speed (MB/s) for NDJSON, a JSON array and CSV.

    .venv/bin/python bench/collect_files.py [--mb 50] [--dir /tmp/webtune-bench]

Generates product-like records (the shape of a Bright Data Amazon snapshot) in each
format, runs the collect stage on each file through the stage contract, and prints a
table of MB/s and records/s.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import time
from pathlib import Path
from typing import Iterator

WORDS = ("binder stapler pen ink paper folder desk chair lamp organizer clip marker notebook "
         "durable premium compact ergonomic refill smooth quick-drying pack office school").split()


def product(i: int, rng: random.Random) -> dict:
    """One synthetic Amazon-like product record (~1 KB as JSON)."""
    words = lambda n: " ".join(rng.choice(WORDS) for _ in range(n))  # noqa: E731
    return {
        "asin": f"B{i:09d}", "title": words(8).title(), "brand": words(1).title(),
        "description": words(60), "features": [words(8) for _ in range(4)],
        "categories": ["Office Products", words(2).title()], "final_price": round(rng.uniform(1, 200), 2),
        "rating": round(rng.uniform(1, 5), 1), "reviews_count": rng.randint(0, 5000),
        "url": f"https://www.amazon.com/dp/B{i:09d}", "timestamp": "2025-01-16T11:41:35.601Z",
    }


def products(target_bytes: int, seed: int = 0) -> Iterator[dict]:
    """Products until about ``target_bytes`` of JSON were produced."""
    rng, produced, i = random.Random(seed), 0, 0
    while produced < target_bytes:
        record = product(i, rng)
        produced += len(json.dumps(record)) + 1
        i += 1
        yield record


def write_ndjson(path: Path, target_bytes: int) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for record in products(target_bytes):
            fh.write(json.dumps(record) + "\n")
    return path


def write_json_array(path: Path, target_bytes: int) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("[\n")
        for n, record in enumerate(products(target_bytes)):
            fh.write((",\n" if n else "") + json.dumps(record))
        fh.write("\n]\n")
    return path


def write_csv(path: Path, target_bytes: int) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = None
        for record in products(target_bytes):
            row = {k: json.dumps(v) if isinstance(v, list) else v for k, v in record.items()}
            if writer is None:
                writer = csv.DictWriter(fh, fieldnames=list(row))
                writer.writeheader()
            writer.writerow(row)
    return path


def ingest(path: Path, out_dir: Path) -> dict:
    """Run the collect stage on one file; return its counts and timing."""
    from rich.console import Console

    from webtune.collect.config import CollectConfig
    from webtune.collect.stage import run_collect
    from webtune.stage import run_stage

    config = CollectConfig.model_validate({"sources": [{"kind": "files", "paths": [str(path)]}]})
    started = time.perf_counter()
    manifest = run_stage("collect", run_collect, run_dir=out_dir, config=config, force=True,
                         console=Console(stderr=True, quiet=True))
    seconds = time.perf_counter() - started
    return {"records": manifest.counts.kept, "seconds": seconds, "bytes": path.stat().st_size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=float, default=50.0, help="size of each generated file in MB")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/webtune-bench"))
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    target = int(args.mb * 1e6)
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"files source ingestion ({args.mb:g} MB per file)")
    for column in ("format", "MB", "records", "seconds", "MB/s", "records/s"):
        table.add_column(column, justify="left" if column == "format" else "right")
    for fmt, writer, name in (("ndjson", write_ndjson, "bench.jsonl"), ("json array", write_json_array, "bench.json"),
                              ("csv", write_csv, "bench.csv")):
        path = writer(args.dir / name, target)
        result = ingest(path, args.dir / f"run-{path.suffix[1:]}")
        mb = result["bytes"] / 1e6
        table.add_row(fmt, f"{mb:.1f}", str(result["records"]), f"{result['seconds']:.2f}",
                      f"{mb / result['seconds']:.1f}", f"{result['records'] / result['seconds']:.0f}")
        path.unlink()
    Console().print(table)


if __name__ == "__main__":
    sys.exit(main())
