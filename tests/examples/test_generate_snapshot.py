"""Tests for examples/office-products/generate_snapshot.py (the synthetic Bright Data snapshot)."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "office-products" / "generate_snapshot.py"

REQUIRED_FIELDS = (
    "title", "brand", "description", "features", "categories", "final_price", "initial_price",
    "currency", "rating", "reviews_count", "asin", "url", "timestamp", "availability",
    "seller_name", "image_url", "domain",
)
HTML_RE = re.compile(r"<(p|br|ul|li|b)\b[^>]*>|&amp;|&nbsp;|&#39;")
ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$")
LANGUAGE_WORDS = {
    "es": {"para", "el", "la", "los", "las", "con", "es", "su", "de", "una"},
    "de": {"und", "für", "ihr", "das", "ist", "mit", "den", "ein", "von", "auf"},
    "fr": {"pour", "le", "les", "vous", "est", "des", "et", "un", "une", "au"},
}


def _load_module():
    spec = importlib.util.spec_from_file_location("office_products_generate_snapshot", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gen():
    return _load_module()


@pytest.fixture(scope="module")
def snapshot(gen, tmp_path_factory):
    out = tmp_path_factory.mktemp("snap") / "snapshot.json"
    assert gen.main(["--out", str(out)]) == 0
    return out, json.loads(out.read_text(encoding="utf-8"))


def _words(text):
    return len(text.split())


def _language(text):
    tokens = re.findall(r"[a-zà-ÿß]+", text.lower())
    scores = {lang: sum(t in vocab for t in tokens) for lang, vocab in LANGUAGE_WORDS.items()}
    english = sum(t in {"the", "and", "with", "for", "your", "you", "it", "is"} for t in tokens)
    lang, score = max(scores.items(), key=lambda kv: kv[1])
    return lang if score >= 3 and score > english else "en"


def test_deterministic_bytes(gen, snapshot, tmp_path):
    first, _ = snapshot
    second = tmp_path / "again.json"
    gen.main(["--out", str(second)])
    assert first.read_bytes() == second.read_bytes()
    # No temp files left behind by the atomic write.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again.json"]


def test_seed_changes_output(gen, snapshot, tmp_path):
    first, _ = snapshot
    other = tmp_path / "other.json"
    gen.main(["--seed", "8", "--out", str(other)])
    assert first.read_bytes() != other.read_bytes()


def test_ndjson_matches_json(gen, snapshot, tmp_path):
    _, records = snapshot
    out = tmp_path / "snapshot.ndjson"
    gen.main(["--format", "ndjson", "--out", str(out)])
    lines = out.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == records


def test_count_and_categories(snapshot):
    _, records = snapshot
    assert isinstance(records, list)
    assert len(records) == 360
    assert len({tuple(r["categories"]) for r in records}) >= 6
    assert len({r["brand"] for r in records}) >= 20
    assert all(r["categories"][0] == "Office Products" for r in records)


def test_count_option(gen, tmp_path):
    out = tmp_path / "small.json"
    gen.main(["--count", "120", "--out", str(out)])
    assert len(json.loads(out.read_text(encoding="utf-8"))) == 120


def test_clean_records_have_all_fields(gen):
    records, labels = gen.build_snapshot()
    clean = [r for r, kinds in zip(records, labels) if not kinds]
    assert len(clean) >= 200
    for r in clean:
        for field in REQUIRED_FIELDS:
            assert field in r, (field, r.get("asin"))
        assert isinstance(r["title"], str) and r["title"]
        assert isinstance(r["brand"], str) and r["brand"]
        assert isinstance(r["description"], str)
        assert 40 <= _words(r["description"]) <= 90
        assert "<" not in r["description"]
        assert r["brand"] in r["description"]
        assert isinstance(r["features"], list) and 3 <= len(r["features"]) <= 6
        assert all(isinstance(f, str) and f for f in r["features"])
        assert isinstance(r["categories"], list) and len(r["categories"]) >= 3
        assert isinstance(r["final_price"], float) and r["final_price"] > 0
        assert isinstance(r["initial_price"], float) and r["initial_price"] >= r["final_price"]
        assert r["currency"] == "USD"
        assert isinstance(r["rating"], float) and 1.0 <= r["rating"] <= 5.0
        assert isinstance(r["reviews_count"], int) and r["reviews_count"] >= 0
        assert re.fullmatch(r"B0[0-9A-Z]{8}", r["asin"])
        assert r["url"] == f"https://www.amazon.com/dp/{r['asin']}"
        assert r["domain"] == "https://www.amazon.com/"
        assert ISO_RE.match(r["timestamp"])
        assert r["image_url"].startswith("https://")


def test_labels_match_plan(gen):
    records, labels = gen.build_snapshot()
    counts = gen.summarize(records, labels)
    assert counts == gen.noise_counts(360)
    assert set(counts) == set(gen.NOISE_KINDS)


def test_each_noise_kind_present(snapshot):
    _, records = snapshot
    n = len(records)
    descs = [r["description"] for r in records if isinstance(r.get("description"), str)]

    html = [d for d in descs if HTML_RE.search(d)]
    assert 0.06 * n <= len(html) <= 0.15 * n

    empty = [r for r in records if r.get("description", None) == ""]
    missing = [r for r in records if "description" not in r]
    null = [r for r in records if "description" in r and r["description"] is None]
    assert 0.03 * n <= len(empty) <= 0.08 * n
    assert 0.015 * n <= len(missing) <= 0.05 * n
    assert len(null) >= 1 and len(null) <= 0.04 * n

    by_asin = defaultdict(list)
    for r in records:
        by_asin[r["asin"]].append(r)
    exact = [rs for rs in by_asin.values() if len(rs) > 1]
    assert 0.02 * n <= sum(len(rs) - 1 for rs in exact) <= 0.06 * n
    for rs in exact:
        assert all(x == rs[0] for x in rs)

    # Near duplicates: same brand and feature bullets, different ASIN, different title.
    unique = {r["asin"]: r for r in records}.values()
    by_content = defaultdict(list)
    for r in unique:
        by_content[(r["brand"], tuple(r["features"]))].append(r)
    near = [rs for rs in by_content.values() if len(rs) > 1]
    assert len(near) >= 0.03 * n
    for rs in near:
        assert len({r["title"] for r in rs}) == len(rs)

    short = [r for r in records
             if isinstance(r.get("description"), str) and 3 <= _words(r["description"]) <= 5
             and len(r["features"]) == 1]
    long = [d for d in descs if _words(d) >= 600]
    assert len(short) >= 3
    assert len(long) >= 3

    langs = defaultdict(int)
    for r in records:
        d = r.get("description")
        if isinstance(d, str) and d:
            langs[_language(r["title"] + " " + d)] += 1
    assert langs["es"] >= 1 and langs["de"] >= 1 and langs["fr"] >= 1
    assert langs["es"] + langs["de"] + langs["fr"] >= 0.02 * n

    str_prices = [r for r in records
                  if isinstance(r["final_price"], str) or isinstance(r["initial_price"], str)]
    assert str_prices and all(re.fullmatch(r"\$\d+\.\d{2}", r["final_price"]) for r in str_prices
                              if isinstance(r["final_price"], str))
    assert any(r["rating"] is None for r in records)


def test_cli_prints_summary(gen, tmp_path, capsys):
    gen.main(["--out", str(tmp_path / "s.json")])
    line = capsys.readouterr().out.strip()
    assert "\n" not in line
    assert "360 products" in line and "exact_duplicate=" in line and "non_english=" in line


def test_rejects_tiny_count(gen, tmp_path):
    with pytest.raises(SystemExit):
        gen.main(["--count", "10", "--out", str(tmp_path / "x.json")])
