"""The hand-off files between stages: each model round-trips, and a bad file is one line naming it."""

from __future__ import annotations

import dataclasses
import json

import pytest

from webtune.errors import InputError
from webtune.handoffs import (
    ApiEndpoint, Counts, EvalCounts, EvalReport, EvalSettings, FileEntry, GateCheck, GateResults, InputRef,
    Lineage, Manifest, MetricRow, RegistryVersion, StageLineage, TrainResult,
)
from webtune.stage import StageContext

FILES = [FileEntry(path="docs.jsonl", bytes=12, sha256="ab" * 32)]
SAMPLES = {
    Manifest: Manifest(
        stage="clean", fingerprint="f" * 64, run_dir="/runs/demo", config={"steps": [{"step": "length"}]},
        inputs=[InputRef(stage="collect", path="/runs/demo/collect", fingerprint="e" * 64, outputs=FILES),
                InputRef(path="/data/x.jsonl", files=FILES)],
        outputs=FILES, counts=Counts(10, 7, 3), stats={"workers": 2, "loss": None}, started_at="t0",
        finished_at="t1", duration_s=1.25, versions={"python": "3.11.9"}),
    TrainResult: TrainResult(
        backend="local", method="lora", base_model="tiny", base_model_path="/models/tiny", adapter_dir="adapter",
        metrics={"train_loss": 1.5}, max_seq_len=256, chat_template="{{ messages }}"),
    EvalReport: EvalReport(
        created_at="t", models={"base": "tiny", "tuned": "tiny + LoRA"},
        metrics={"base": {"loss": 2.0}, "tuned": {"loss": 1.5}}, deltas={"loss": -0.5},
        rows=[MetricRow(metric="loss", base=2.0, tuned=1.5, delta=-0.5, direction="lower", verdict="better")],
        counts=EvalCounts(test_examples=3, evaluated=3, loss_examples=3, generated=2),
        settings=EvalSettings(max_examples=2, max_new_tokens=8, metrics=["loss"]), timings_s={"base_loss_s": 0.1},
        summary="tuned is better on loss", backend="local"),
    RegistryVersion: RegistryVersion(
        name="writer", version=3, created_at="t", kind="hosted", model_id="ft:x", backend="openai",
        api=ApiEndpoint(base_url="http://127.0.0.1:9/v1", api_key_env="KEY"),
        base_model="gpt", description="d", pipeline="demo",
        lineage=Lineage(run_dir="/runs/demo", stages={"train": StageLineage(fingerprint="a", counts=Counts(1, 1, 0))},
                        data={"dataset": {"train.jsonl": "ab"}}, eval_metrics={"tuned": {"loss": 1.0}}),
        gates=GateResults(checks=[GateCheck(gate="max_loss", passed=True, detail="ok")], passed=True),
        path="/reg/writer/v3", aliases=["production"], registry="/reg", promoted=True),
}


@pytest.mark.parametrize("model", list(SAMPLES), ids=lambda m: m.__name__)
def test_each_hand_off_round_trips_through_its_file(tmp_path, model):
    written = SAMPLES[model].write(tmp_path)  # a directory: the model's own file name in it
    assert written == tmp_path / model.FILE
    assert model.read(written) == SAMPLES[model] == model.read(tmp_path)
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically: no temporary file left


def test_files_keep_the_names_they_always_had(tmp_path):
    on_disk = json.loads(SAMPLES[Manifest].write(tmp_path).read_text())
    assert on_disk["counts"] == {"in": 10, "kept": 7, "rejected": 3}
    assert on_disk["inputs"][0].keys() == {"stage", "path", "fingerprint", "outputs"}  # no null `files`
    assert on_disk["inputs"][1].keys() == {"path", "files"}
    assert "skipped" not in on_disk
    trained = json.loads(SAMPLES[TrainResult].write(tmp_path).read_text())
    assert trained["max_seq_len"] == 256 and trained["model_id"] is None and trained["api"] is None


def test_a_file_of_the_previous_version_still_reads(tmp_path):
    """Written before max_seq_len/chat_template were recorded, with a key no longer used: it loads."""
    path = tmp_path / "train_result.json"
    path.write_text(json.dumps({"backend": "openai", "method": "supervised", "base_model": "gpt",
                                "model_id": "ft:gpt:x", "job_id": "ftjob-1", "files": {"train": "train.jsonl"},
                                "api": {"base_url": "http://127.0.0.1:9/v1", "api_key_env": "KEY"},
                                "metrics": {}, "retired_key": 1}))
    result = TrainResult.read(path)
    assert result.hosted and result.api == ApiEndpoint(base_url="http://127.0.0.1:9/v1", api_key_env="KEY")
    assert result.max_seq_len is None and result.chat_template is None


@pytest.mark.parametrize("text,message", [
    ("{not json", r"train_result.json: invalid JSON \("),
    ("[1, 2]", r"train_result.json: expected a JSON object$"),
    ('{"method": "lora"}', r"train_result.json: backend: Field required$"),
    ('{"backend": "local", "max_seq_len": "long", "metrics": 3}',
     r"train_result.json: metrics: Input should be a valid dictionary \(and 1 more\)$"),
])
def test_a_malformed_file_is_one_line_naming_it(tmp_path, text, message):
    path = tmp_path / "train_result.json"
    path.write_text(text)
    with pytest.raises(InputError, match=message) as caught:
        TrainResult.read(path)
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)


@pytest.mark.parametrize("model", list(SAMPLES), ids=lambda m: m.__name__)
def test_a_missing_file_names_it(tmp_path, model):
    with pytest.raises(InputError, match=f"^{tmp_path / model.FILE}: .*not found"):
        model.read(tmp_path)


def test_an_incomplete_manifest_is_refused(tmp_path):
    SAMPLES[Manifest].write(tmp_path)
    data = json.loads((tmp_path / "manifest.json").read_text())
    (tmp_path / "manifest.json").write_text(json.dumps({**data, "status": "running"}))
    with pytest.raises(InputError, match="manifest.json: status: Input should be 'complete'"):
        Manifest.read(tmp_path)


def test_train_result_finds_its_artifact_or_says_which_field_is_wrong(tmp_path):
    (tmp_path / "adapter").mkdir()
    assert TrainResult(backend="local", adapter_dir="adapter").artifact(tmp_path) == ("adapter", tmp_path / "adapter")
    with pytest.raises(InputError, match=r"train_result.json: model_dir: .*model is not a directory"):
        TrainResult(backend="local", model_dir="model").artifact(tmp_path)
    with pytest.raises(InputError, match="none of adapter_dir, model_dir, model_id is set"):
        TrainResult(backend="local").local_dirs(tmp_path)


def test_counts_take_positions_names_or_the_files_in():
    assert Counts(3, 2, 1) == Counts(seen=3, kept=2, rejected=1) == Counts.model_validate(
        {"in": 3, "kept": 2, "rejected": 1})
    with pytest.raises(Exception, match="counts do not add up"):
        Counts(3, 1, 1).check("clean")


def test_a_stage_sees_only_its_config_and_declared_shared_settings():
    fields = {f.name for f in dataclasses.fields(StageContext)}
    assert "pipeline" not in fields and {"config", "shared", "inputs"} <= fields


def test_an_eval_report_written_before_intervals_still_reads(tmp_path):
    from webtune.handoffs import EvalReport

    old = {"metrics": {"base": {"loss": 2.0}, "tuned": {"loss": 1.5}}, "deltas": {"loss": -0.5},
           "rows": [{"metric": "loss", "base": 2.0, "tuned": 1.5, "delta": -0.5, "direction": "lower",
                     "verdict": "better"}],
           "counts": {"test_examples": 3, "evaluated": 3, "rejected": 0, "loss_examples": 3, "generated": 3}}
    (tmp_path / "report.json").write_text(json.dumps(old))
    report = EvalReport.read(tmp_path)
    row = report.row("loss")
    assert row.delta_ci95 is None and row.wins is None and not row.significant()
    assert report.contamination is None and report.counts.contaminated == 0
    row.delta_ci95 = [-0.7, -0.3]
    assert row.significant()
