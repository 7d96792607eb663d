"""examples/chinese-products: the generated Chinese snapshot through the example's own pipeline."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections import defaultdict
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from webtune.cli.main import app

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "chinese-products"
KEPT_KINDS = {"", "html", "near_duplicate", "exact_duplicate"}


def _generator():
    spec = importlib.util.spec_from_file_location("chinese_products_generate_snapshot",
                                                  EXAMPLE / "generate_snapshot.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_the_generator_is_seeded_and_shaped_like_bright_data(tmp_path):
    gen = _generator()
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert gen.main(["--out", str(a)]) == 0 and gen.main(["--out", str(b)]) == 0
    assert a.read_bytes() == b.read_bytes()
    records = json.loads(a.read_text(encoding="utf-8"))
    records_, kinds, origin = gen.build_snapshot()
    assert records == records_ and len(records) == gen.DEFAULT_COUNT
    assert {k: kinds.count(k) for k in gen.NOISE_KINDS} == gen.noise_counts(gen.DEFAULT_COUNT)
    clean = [r for r, k in zip(records, kinds) if k == ""]
    assert all(r["currency"] == "CNY" and r["url"].startswith("https://www.amazon.cn/dp/") for r in records)
    assert all(60 <= len(r["description"]) <= 200 for r in clean)
    assert len({r["title"] for r in clean}) == len(clean)
    assert any("<p>" in (r.get("description") or "") for r in records)
    assert any("Type-C" in r["description"] or "USB-C" in r["description"] or "LED" in r["description"]
               for r in clean)  # English terms inside Chinese text


@pytest.fixture(scope="module")
def cleaned(tmp_path_factory):
    """collect + clean of the example as shipped (its pipeline.yaml, default snapshot)."""
    root = tmp_path_factory.mktemp("chinese-products")
    gen = _generator()
    gen.main(["--out", str(root / "data" / "snapshot.json")])
    (root / "pipeline.yaml").write_text((EXAMPLE / "pipeline.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    runner = CliRunner()
    for stage in ("collect", "clean"):
        result = runner.invoke(app, [stage, "-p", str(root / "pipeline.yaml"), "--run-dir", str(root / "run")],
                               terminal_width=200)
        assert result.exit_code == 0, result.output
    _, kinds, origin = gen.build_snapshot()
    return _read(root / "run" / "clean" / "documents.jsonl"), _read(root / "run" / "clean" / "rejects.jsonl"), \
        kinds, origin


def test_the_example_keeps_its_good_products(cleaned):
    kept, rejects, kinds, origin = cleaned
    # every listing whose product is kept somewhere: good ones (HTML too) are never dropped by a filter
    filtered = [r for r in rejects if r["step"] != "dedup"]
    assert all(kinds[r["source"]["offset"]] not in KEPT_KINDS for r in filtered), filtered[:3]
    assert {kinds[k["source"]["offset"]] for k in kept} <= KEPT_KINDS
    products = {origin[i] for i, kind in enumerate(kinds) if kind in KEPT_KINDS}
    assert {origin[k["source"]["offset"]] for k in kept} == products
    assert len(kept) == len(products)
    reasons = {(kinds[r["source"]["offset"]], r["reason"]) for r in filtered}
    assert reasons == {("english", "wrong_language"), ("japanese", "wrong_language"), ("short", "too_few_words"),
                       ("empty_description", "missing_field"), ("missing_description", "missing_field")}
    assert all(r["units"] == "jieba words" for r in filtered if r["reason"] == "too_few_words")
    assert all("<" not in k["fields"]["description"] for k in kept)


def test_the_example_dedups_its_near_duplicates_exactly(cleaned):
    kept, rejects, kinds, origin = cleaned
    cluster = {k["source"]["offset"]: k["meta"]["cluster_id"] for k in kept}
    cluster.update({r["source"]["offset"]: r["cluster_id"] for r in rejects if r["step"] == "dedup"})
    members: dict[str, set[str]] = defaultdict(set)
    clusters_of: dict[str, set[str]] = defaultdict(set)
    for offset, cid in cluster.items():
        members[cid].add(origin[offset])
        clusters_of[origin[offset]].add(cid)
    assert all(len(products) == 1 for products in members.values())  # no two products merged
    assert all(len(cids) == 1 for cids in clusters_of.values())      # every re-listing found
    dups = [r for r in rejects if r["step"] == "dedup"]
    assert len(dups) == kinds.count("near_duplicate") + kinds.count("exact_duplicate")
    assert {r["reason"] for r in dups} == {"near_duplicate", "exact_duplicate"}


def test_the_example_pipeline_runs_end_to_end_with_rouge_l_and_chrf(tmp_path, tiny_model_dir):
    """The whole road on a smaller snapshot with the tiny model (SmolLM2 or Qwen in real use)."""
    _generator().main(["--count", "60", "--out", str(tmp_path / "data" / "snapshot.json")])
    config = yaml.safe_load((EXAMPLE / "pipeline.yaml").read_text(encoding="utf-8"))
    config.update(base_model=str(tiny_model_dir), run_dir="runs/zh")
    config["train"].update(max_seq_len=1024, pack_length=1024)  # the tiny tokenizer is byte-level
    config["evaluate"].update(max_examples=3, max_new_tokens=6)
    config["register"] = {"model_name": "zh-copywriter", "path": "registry"}
    config["chat"]["max_new_tokens"] = 4
    (tmp_path / "pipeline.yaml").write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False),
                                            encoding="utf-8")
    result = CliRunner().invoke(app, ["run", str(tmp_path / "pipeline.yaml")], terminal_width=200)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "runs" / "zh" / "evaluate" / "report.json").read_text(encoding="utf-8"))
    assert {"rouge_l", "chrf"} <= set(report["metrics"]["tuned"]) and {"rouge_l", "chrf"} <= set(report["deltas"])
    assert report["settings"]["notes"]["rouge_l"] == "units: jieba words (zh)"
    assert "characters" in report["settings"]["notes"]["chrf"]
    example = json.loads((tmp_path / "runs" / "zh" / "dataset" / "train.jsonl").read_text().splitlines()[0])
    assert example["messages"][1]["content"].startswith("请为这件商品写一段商品介绍。")
