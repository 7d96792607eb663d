"""examples/crawled-products: the local shop is crawled, its product pages become copywriter examples."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from webtune.cli.main import app

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "crawled-products"


@pytest.fixture(scope="module")
def shop_site():
    spec = importlib.util.spec_from_file_location("crawled_products_shop_site", EXAMPLE / "shop_site.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_collect_clean_dataset_on_the_crawled_shop(shop_site, tmp_path):
    root = tmp_path / "site"
    server = shop_site.serve(root.parent / "site")
    try:
        base_url = f"http://127.0.0.1:{server.server_address[1]}"
        counts = shop_site.build_site(root, base_url, count=60, seed=7)
        pipeline = tmp_path / "pipeline.yaml"
        shop_site.write_pipeline(EXAMPLE / "pipeline.yaml", pipeline, base_url + "/")
        config = yaml.safe_load(pipeline.read_text())
        assert config["dataset"]["templates"][0]["name"] == "copywriter"
        config["sources"][0]["max_pages"] = 200
        # Kept fast: one clean worker, no language model to load (the shop is all English but a few).
        config["clean"]["workers"] = 1
        config["clean"]["steps"] = [s for s in config["clean"]["steps"] if s["step"] != "language"]
        config["run_dir"] = "runs/shop"
        pipeline.write_text(yaml.safe_dump(config, sort_keys=False))
        result = CliRunner().invoke(app, ["run", str(pipeline), "--to", "dataset"], terminal_width=200)
    finally:
        server.shutdown()
    assert result.exit_code == 0, result.output
    run_dir = tmp_path / "runs" / "shop"
    docs = [json.loads(line) for line in (run_dir / "collect" / "documents.jsonl").read_text().splitlines()]
    assert len(docs) == counts["products"] + counts["listings"] + counts["other"]  # every page crawled
    clean_rejects = [json.loads(line) for line in (run_dir / "clean" / "rejects.jsonl").read_text().splitlines()]
    page_types = {r["value"] for r in clean_rejects if r["reason"] == "page_type"}
    assert page_types == {"listing", "article", "other"}
    cleaned = [json.loads(line) for line in (run_dir / "clean" / "documents.jsonl").read_text().splitlines()]
    assert len(cleaned) >= 0.6 * counts["products"]  # products of every style, minus the generator's noise
    styles = {int(d["fields"]["url"].rsplit("/", 1)[1].split(".")[0]) % 7 for d in cleaned}
    assert styles == set(range(7))
    product = cleaned[0]
    assert product["meta"]["page_type"] == "product" and isinstance(product["fields"]["features"], list)
    assert "<" not in product["fields"]["description"]
    examples = [json.loads(line) for line in (run_dir / "dataset" / "train.jsonl").read_text().splitlines()]
    assert examples and examples[0]["meta"]["template"] == "copywriter"
    user = examples[0]["messages"][1]["content"]
    assert "Title: " in user and "Brand: " in user and "\n- " in user
