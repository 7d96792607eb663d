#!/usr/bin/env python3
"""Two daily snapshots of the office-products demo, for the refresh example.

Day 1 holds two thirds of the products. Day 2 holds a third of them unchanged (the same
records), a third changed (a new price and availability; every other one also with a line
added to its description: a re-listing) and a third that day 1 did not have (new products).
Both are written as ``data/day1.json`` and ``data/day2.json``; copy one over
``data/snapshot.json`` before each run, as a daily download would overwrite it.

Standard library only and seeded: the same ``--count`` and ``--seed`` give the same files.

    python examples/refresh/make_snapshots.py            # 240 products
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
GENERATOR = HERE.parent / "office-products" / "generate_snapshot.py"
ADDED_LINE = " Now shipped in a fully recyclable package."


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("generate_snapshot", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def split_thirds(records: list[dict[str, Any]]) -> tuple[set[str], set[str], set[str]]:
    """The products' URLs in three equal parts (exact duplicates share their product's URL)."""
    urls = list(dict.fromkeys(r["url"] for r in records))
    third = len(urls) // 3
    return set(urls[:third]), set(urls[third:2 * third]), set(urls[2 * third:3 * third])


def changed(record: dict[str, Any], index: int) -> dict[str, Any]:
    """The record as a later scrape sees it: another price and availability; every other one also
    re-listed with a line added to its description."""
    out = copy.deepcopy(record)
    price = out.get("final_price")
    if isinstance(price, (int, float)):
        out["final_price"] = round(price * 0.9, 2)
    out["availability"] = "Only 3 left in stock - order soon."
    if index % 2 == 0 and isinstance(out.get("description"), str) and out["description"]:
        out["description"] += ADDED_LINE
    return out


def make(count: int, seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, int]]:
    """(day 1 records, day 2 records, day 2's counts by kind)."""
    records, _labels = _generator().build_snapshot(count, seed)
    unchanged, edited, new = split_thirds(records)
    day1 = [r for r in records if r["url"] in unchanged | edited]
    day2, counts, index = [], {"unchanged": 0, "changed": 0, "new": 0}, 0
    for record in records:
        if record["url"] in unchanged:
            day2.append(record)
            counts["unchanged"] += 1
        elif record["url"] in edited:
            day2.append(changed(record, index))
            counts["changed"] += 1
            index += 1
        elif record["url"] in new:
            day2.append(record)
            counts["new"] += 1
    return day1, day2, counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=240, help="products generated (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=HERE / "data", help="directory (default: %(default)s)")
    args = parser.parse_args(argv)
    day1, day2, counts = make(args.count, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, records in (("day1.json", day1), ("day2.json", day2)):
        (args.out / name).write_text(json.dumps(records, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"day1: {len(day1)} records; day2: {len(day2)} records "
          f"({counts['unchanged']} unchanged, {counts['changed']} changed, {counts['new']} new)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
