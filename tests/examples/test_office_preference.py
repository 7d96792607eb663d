"""examples/office-preference: the pipeline file loads, and its train section (supervised, then
DPO from the supervised adapter) runs on the tiny model with hand-made dataset files."""

from __future__ import annotations

import json
from pathlib import Path

from tests.train.helpers import run_train, write_dataset, write_preference
from webtune.config import load_pipeline

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "office-preference"


def test_the_pipeline_file_loads_and_chains_sft_then_dpo():
    pipeline = load_pipeline(EXAMPLE / "pipeline.yaml")
    assert pipeline.base_model == "smollm2-135m-instruct"
    # A snapshot of the office-products generator, its template, and a reference-vs-base pair per example.
    assert pipeline.sources[0].paths == [EXAMPLE / "data" / "snapshot.json"]
    assert [t.name for t in pipeline.dataset.templates] == ["copywriter"]
    assert [g["generator"] for g in pipeline.dataset.generators] == ["reference_vs_base"]
    assert pipeline.train.objectives == ["sft", "dpo"]


def test_its_train_section_runs_on_the_tiny_model(tmp_path, tiny_model_dir):
    pipeline = load_pipeline(EXAMPLE / "pipeline.yaml")
    small = pipeline.train.model_copy(update={"max_steps": 2, "max_seq_len": 256, "pack_length": None,
                                              "preference": pipeline.train.preference.model_copy(
                                                  update={"max_steps": 2})})
    pipeline = pipeline.model_copy(update={"base_model": str(tiny_model_dir), "train": small})
    dataset = write_preference(write_dataset(tmp_path / "dataset", n_train=8, n_val=2), n_train=8, n_val=2)
    manifest = run_train(pipeline, tmp_path / "run", dataset)
    out = tmp_path / "run" / "train"
    result = json.loads((out / "train_result.json").read_text())
    assert result["objective"] == "sft+dpo" and result["adapter_dir"] == "adapter"
    assert (out / "sft_adapter" / "adapter_config.json").is_file()
    assert manifest.stats["steps"] == 2 and manifest.stats["preference_steps"] == 2
