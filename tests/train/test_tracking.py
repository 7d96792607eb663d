"""train.tracking: MLflow (a local file store, read back with mlflow's client) and W&B offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.train.helpers import pipeline_for, run_train, write_dataset
from webtune.handoffs import TrainResult


def metric_rows(train_dir: Path, column: str) -> list[tuple[int, float]]:
    rows = map(json.loads, (train_dir / "metrics.jsonl").read_text().splitlines())
    return [(r["step"], r[column]) for r in rows if column in r]


def mlflow_client(uri: str):
    from webtune.tracking import mlflow_client as client

    return client(uri)


def test_mlflow_logs_params_each_step_and_artifacts(tmp_path, tiny_model_dir, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    dataset = write_dataset(tmp_path / "dataset", n_train=24)
    pipeline = pipeline_for(tiny_model_dir, max_steps=5, eval_steps=2, tracking=["tensorboard", "mlflow"])
    manifest = run_train(pipeline, tmp_path / "run", dataset)
    train_dir = tmp_path / "run" / "train"
    (run,) = TrainResult.read(train_dir).tracking
    assert run.backend == "mlflow" and run.tracking_uri == (tmp_path / "run" / "mlruns").resolve().as_uri()
    assert (train_dir / "tensorboard").is_dir()  # TensorBoard still writes beside it

    client = mlflow_client(run.tracking_uri)
    data = client.get_run(run.run_id)
    assert data.info.status == "FINISHED" and data.info.run_name == "run"
    params = data.data.params
    assert params["learning_rate"] == "0.005" and params["lora.r"] == "4" and params["max_steps"] == "5"
    assert params["base_model"] == str(tiny_model_dir) and params["seed"] == "3"
    losses = client.get_metric_history(run.run_id, "train/loss")
    expected = metric_rows(train_dir, "loss")
    losses = sorted(losses, key=lambda m: m.step)
    assert [m.step for m in losses] == [step for step, _ in expected]
    assert [m.value for m in losses] == pytest.approx([value for _, value in expected])
    assert len(losses) == 5
    assert sorted(m.step for m in client.get_metric_history(run.run_id, "eval/loss")) == [
        step for step, _ in metric_rows(train_dir, "val_loss")]
    artifacts = {a.path for a in client.list_artifacts(run.run_id, "train")}
    assert {"train/loss.png", "train/train_result.json", "train/metrics.jsonl"} <= artifacts
    # How training is watched is not what it makes: tracking stays out of the fingerprint.
    assert "tracking" not in json.dumps(manifest.config)


def test_a_resumed_training_continues_its_mlflow_run(tmp_path, tiny_model_dir, monkeypatch):
    from tests.train.test_local_trainer import kill_at_step

    store = tmp_path / "elsewhere"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.as_uri())  # honoured over the run dir's store
    dataset = write_dataset(tmp_path / "dataset", n_train=24)
    pipeline = pipeline_for(tiny_model_dir, max_steps=5, save_steps=2, eval_steps=0, tracking=["mlflow"])
    kill_at_step(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        run_train(pipeline, tmp_path / "run", dataset)
    monkeypatch.undo()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.as_uri())
    run_train(pipeline, tmp_path / "run", dataset)
    (run,) = TrainResult.read(tmp_path / "run" / "train").tracking
    assert run.tracking_uri == store.as_uri() and not (tmp_path / "run" / "mlruns").exists()
    client = mlflow_client(run.tracking_uri)
    assert len(client.search_runs([client.get_experiment_by_name("webtune").experiment_id])) == 1
    steps = sorted({m.step for m in client.get_metric_history(run.run_id, "train/loss")})
    assert steps == [1, 2, 3, 4, 5]  # before the kill and after the resume, in one run
    assert client.get_run(run.run_id).info.status == "FINISHED"


def test_wandb_runs_offline_without_a_key(tmp_path, tiny_model_dir, monkeypatch):
    for name in ("WANDB_DISABLED", "WANDB_API_KEY", "WANDB_MODE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WANDB_SILENT", "true")
    dataset = write_dataset(tmp_path / "dataset", n_train=16)
    pipeline = pipeline_for(tiny_model_dir, max_steps=3, eval_steps=0, tracking=["wandb"],
                            tracking_project="office")
    run_train(pipeline, tmp_path / "run", dataset)
    train_dir = tmp_path / "run" / "train"
    (run,) = TrainResult.read(train_dir).tracking
    assert run.backend == "wandb" and run.mode == "offline" and run.experiment == "office"
    offline = Path(run.dir)
    assert offline.parent == (tmp_path / "run" / "wandb").resolve() and offline.name.startswith("offline-run-")
    log = (offline / f"run-{run.run_id}.wandb").read_bytes()
    assert b"train/loss" in log and b"eval/loss" in log
    assert not (train_dir / "tensorboard").exists()  # only what was asked for


def test_a_missing_tracker_library_is_one_line_before_training(tmp_path, tiny_model_dir, monkeypatch):
    from webtune import extras
    from webtune.extras import MissingExtraError

    real = extras.is_available
    monkeypatch.setattr(extras, "is_available", lambda module: module != "mlflow" and real(module))
    dataset = write_dataset(tmp_path / "dataset", n_train=8)
    with pytest.raises(MissingExtraError) as err:
        run_train(pipeline_for(tiny_model_dir, max_steps=1, tracking=["mlflow"]), tmp_path / "run", dataset)
    assert str(err.value) == "train.tracking: mlflow needs mlflow: pip install 'webtune[track]'"
    assert not (tmp_path / "run" / ".work" / "train" / "data.json").exists()  # stopped before tokenizing
