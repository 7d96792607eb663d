"""examples/refresh/make_snapshots.py: day 2 holds a third of the products unchanged, a third changed, a third new."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "refresh" / "make_snapshots.py"


def load():
    spec = importlib.util.spec_from_file_location("make_snapshots", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_day_two_is_a_third_unchanged_a_third_changed_a_third_new():
    module = load()
    day1, day2, counts = module.make(120, 7)
    urls1 = {r["url"] for r in day1}
    by_url1 = {}
    for r in day1:
        by_url1.setdefault(r["url"], r)
    unchanged = [r for r in day2 if r["url"] in urls1 and r == by_url1[r["url"]]]
    changed = [r for r in day2 if r["url"] in urls1 and r != by_url1[r["url"]]]
    new = [r for r in day2 if r["url"] not in urls1]
    assert (len(unchanged), len(changed), len(new)) == (counts["unchanged"], counts["changed"], counts["new"])
    products = [len({r["url"] for r in part}) for part in (unchanged, changed, new)]
    assert products[0] == products[1] == products[2] > 0  # equal thirds of products
    assert all(r["description"].endswith(module.ADDED_LINE) for r in changed[::2] if r.get("description"))
    assert module.make(120, 7) == (day1, day2, counts)  # seeded
