"""A pipeline whose base model is a Hub id, run end to end (dataset -> train -> evaluate ->
register) against the local Hub stand-in (tests/fakes/hub.py, HF_ENDPOINT pointed at it, the
cache in tmp_path): huggingface_hub's real download code runs, nothing leaves 127.0.0.1.
Training logs to MLflow's local store; evaluate logs into the same run and the registry
version links to it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.fakes.hub import FakeHub, point_at
from webtune.cli.main import app
from webtune.handoffs import RegistryVersion, TrainResult
from webtune.stage import read_manifest

TOPICS = ["paper", "pens", "staplers", "binders", "folders", "markers", "notebooks", "envelopes",
          "scissors", "tape", "glue", "rulers", "erasers", "clips", "labels", "calendars"]


def pipeline_file(root: Path, base_model: str) -> Path:
    data = root / "data"
    data.mkdir()
    rows = [{"title": topic, "text": f"Office {topic} come in many sizes and colours, and a good shop "
                                     f"keeps {topic} for every desk, school and home office."} for topic in TOPICS]
    (data / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    text = f"""
name: hub-demo
base_model: {base_model}
run_dir: {root / 'run'}
sources:
  - kind: files
    paths: [data/rows.jsonl]
    fields: {{text: text, title: title}}
clean:
  workers: 1
  steps: [{{step: normalize}}]
dataset:
  min_examples: 1
  templates:
    - name: about
      requires: [title, text]
      user: "Tell me about {{{{ title }}}}."
      assistant: "{{{{ text }}}}"
  split: {{validation: 0.2, test: 0.2}}
train:
  max_steps: 2
  max_seq_len: 128
  lora: {{r: 4, alpha: 8}}
  tracking: [tensorboard, mlflow]
evaluate:
  metrics: [loss, rouge_l]
  max_examples: 2
  max_new_tokens: 4
register:
  model_name: hub-demo
  path: {root / 'registry'}
"""
    path = root / "pipeline.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def hub_run(tmp_path_factory, tiny_model_dir):
    """`webtune run` on ``org/tiny-chat@v1`` served by the fake Hub; returns (run dir, hub, commit)."""
    root = tmp_path_factory.mktemp("hub-run")
    with FakeHub() as hub, pytest.MonkeyPatch.context() as mp:
        home = point_at(hub, mp, root)
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        commit = hub.add_repo("org/tiny-chat", tiny_model_dir, revision="v1")
        hub.add_repo("org/tiny-chat", tiny_model_dir, files={"newer.txt": b"main moved on"})
        result = CliRunner().invoke(app, ["run", str(pipeline_file(root, "org/tiny-chat@v1"))],
                                    terminal_width=200)
        assert result.exit_code == 0, result.output
        yield root / "run", hub, commit, home


def test_the_hub_model_is_downloaded_once_and_its_commit_recorded(hub_run):
    run_dir, hub, commit, home = hub_run
    snapshot = home / "hub" / "models--org--tiny-chat" / "snapshots" / commit
    assert (snapshot / "model.safetensors").is_file()
    # Each file was fetched once, although dataset, train and evaluate all loaded the model.
    assert len(hub.downloads()) == len(set(hub.downloads()))
    result = TrainResult.read(run_dir / "train")
    assert result.base_model == "org/tiny-chat@v1" and result.base_model_revision == commit
    assert result.base_model_path == str(snapshot)
    assert read_manifest(run_dir / "train").stats["base_model_revision"] == commit
    version = RegistryVersion.read(run_dir / "register")
    assert version.lineage.base_model_revision == commit
    assert read_manifest(run_dir / "evaluate").counts.kept > 0


def test_evaluate_and_register_log_into_the_training_mlflow_run(hub_run):
    from webtune.tracking import mlflow_client

    run_dir, *_ = hub_run
    (run,) = TrainResult.read(run_dir / "train").tracking
    version = RegistryVersion.read(run_dir / "register")
    (link,) = version.lineage.tracking
    assert (link.backend, link.run_id, link.tracking_uri) == ("mlflow", run.run_id, run.tracking_uri)
    client = mlflow_client(link.tracking_uri)
    data = client.get_run(link.run_id).data
    assert data.params["base_model"] == "org/tiny-chat@v1"
    assert len(client.get_metric_history(link.run_id, "train/loss")) == 2
    assert "eval/tuned/loss" in data.metrics and "eval/base/loss" in data.metrics
    evaluated = {a.path for a in client.list_artifacts(link.run_id, "evaluate")}
    assert {"evaluate/report.json", "evaluate/report.md"} <= evaluated
    assert data.tags["webtune.registry_version"] == version.label
