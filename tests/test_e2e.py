"""`webtune run` end to end on generated product data and a tiny random-weight Llama."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from webtune.cli.main import app
from webtune.stage import read_manifest

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "office-products"
STAGES = ("collect", "clean", "dataset", "train", "evaluate", "register", "export")


def generate_snapshot(out: Path, count: int) -> None:
    spec = importlib.util.spec_from_file_location("generate_snapshot", DEMO / "generate_snapshot.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--count", str(count), "--out", str(out)])


@pytest.fixture
def small_pipeline(tmp_path, tiny_model_dir) -> Path:
    """The demo pipeline, shrunk: fewer products, the tiny model, short training and eval."""
    generate_snapshot(tmp_path / "data" / "snapshot.json", count=120)
    config = yaml.safe_load((DEMO / "pipeline.yaml").read_text())
    config["name"] = "e2e"
    config["base_model"] = str(tiny_model_dir)
    config["run_dir"] = "runs/e2e"
    config["train"].update({"epochs": 1, "max_seq_len": 512})
    config["evaluate"].update({"max_examples": 4, "max_new_tokens": 8})
    config["register"] = {"model_name": "e2e-copywriter", "path": "registry"}
    config["chat"]["max_new_tokens"] = 8
    config["export"]["roundtrip"] = {"max_prompts": 2, "max_new_tokens": 8}
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def test_run_end_to_end_then_skip_then_rerun_from_train(small_pipeline):
    runner = CliRunner()
    run_dir = small_pipeline.parent / "runs" / "e2e"

    first = runner.invoke(app, ["run", str(small_pipeline)], terminal_width=200)
    assert first.exit_code == 0, first.output
    manifests = {stage: read_manifest(run_dir / stage) for stage in STAGES}
    for stage, manifest in manifests.items():
        assert manifest is not None, stage
        counts = manifest.counts
        assert counts.seen == counts.kept + counts.rejected, stage
    assert manifests["collect"].counts.kept == 120
    assert manifests["clean"].counts.rejected > 0  # the snapshot has noise to drop
    example = json.loads((run_dir / "dataset" / "train.jsonl").read_text().splitlines()[0])
    assert [m["role"] for m in example["messages"]] == ["system", "user", "assistant"]
    assert example["meta"]["template"] == "copywriter"
    result = json.loads((run_dir / "train" / "train_result.json").read_text())
    assert (run_dir / "train" / result["adapter_dir"] / "adapter_config.json").is_file()
    version = json.loads((run_dir / "register" / "version.json").read_text())
    assert version["version"] >= 1
    assert "chat" in first.output
    roundtrip = json.loads((run_dir / "export" / "gguf" / "roundtrip.json").read_text())["results"]
    assert roundtrip["f16"]["passed"] and roundtrip["q8_0"]["passed"]
    assert (run_dir / "export" / "ollama" / "Modelfile").read_text().startswith("FROM ../gguf/e2e-copywriter-v")
    assert "GGUF round trip" in first.output and "ollama create" in first.output

    second = runner.invoke(app, ["run", str(small_pipeline)], terminal_width=200)
    assert second.exit_code == 0, second.output
    assert second.output.count("unchanged, skipped") == len(STAGES)

    third = runner.invoke(app, ["run", str(small_pipeline), "--from", "train", "--to", "train"],
                          terminal_width=200)
    assert third.exit_code == 0, third.output
    assert third.output.count("unchanged, skipped") == 3  # collect, clean, dataset
    assert read_manifest(run_dir / "train").fingerprint == manifests["train"].fingerprint
