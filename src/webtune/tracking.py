"""Experiment tracking: TensorBoard, MLflow and Weights & Biases behind one small interface.

``train.tracking: [tensorboard, mlflow, wandb]`` (TensorBoard alone by default) picks the
trackers. Training writes to them through `webtune.train.monitor.MetricsLog` only, which calls
a `Tracker`'s three methods: ``start`` (parameters), ``log`` (one step's scalars) and
``close``. Each tracker that keeps a run records a `TrackingRun` (backend, run id, where the
store is) in the train work directory's ``tracking.json`` as soon as the run exists, so a
resumed training continues the same run; the train stage copies them into
``train_result.json`` (``tracking``), the evaluate stage logs its figures and reports into the
MLflow run it names there (`log_evaluation`), and the register stage keeps them in the
version's lineage: a version links to its run.

* MLflow: a local store needs no server: ``MLFLOW_TRACKING_URI`` when set, else a file store
  ``<run dir>/mlruns`` (mlflow-skinny has no SQLite store; its file store wants
  ``MLFLOW_ALLOW_FILE_STORE=true``, which webtune sets for that store only). Written with
  ``MlflowClient`` (no fluent global "active run"), so stages in one process never mix runs.
* W&B: ``WANDB_MODE`` when set; else offline when no ``WANDB_API_KEY`` is set. Its files go
  to ``<run dir>/wandb/`` (``wandb sync`` uploads an offline run later).

Heavy imports happen inside the trackers: importing this module costs nothing.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Protocol

from webtune.extras import require
from webtune.handoffs import TrackingRun
from webtune.jsonl import atomic_write_json

TRACKERS = ("tensorboard", "mlflow", "wandb")
STATE = "tracking.json"  # in the train work dir: the runs of this training, for resume
TENSORBOARD = "tensorboard"
DEFAULT_PROJECT = "webtune"


class Tracker(Protocol):
    """What training calls on each tracker (the main process only)."""

    def start(self, params: dict[str, Any]) -> None:
        """Record the run's parameters (not called again when a run resumes)."""

    def log(self, step: int, scalars: dict[str, float]) -> None:
        """Record one step's scalars."""

    def close(self) -> None:
        """Flush and end the run (a resumed or evaluated run may reopen it)."""


def check_trackers(backends: list[str]) -> None:
    """Fail in one line, before any slow work, when a tracker's library is not installed."""
    for backend in backends:
        if backend in ("mlflow", "wandb"):
            require(f"train.tracking: {backend}", "track", backend)


def metric_name(key: str) -> str:
    """The tracker-side name of a metrics.jsonl column: ``train/loss``, ``eval/loss``, ..."""
    return {"loss": "train/loss", "val_loss": "eval/loss", "lr": "train/lr",
            "grad_norm": "train/grad_norm", "tokens_per_s": "train/tokens_per_s"}.get(key, f"train/{key}")


class TensorBoardTracker:
    """TensorBoard event files in ``<work dir>/tensorboard`` (the stage copies them out)."""

    def __init__(self, work_dir: Path, resume_step: int = 0):
        require("tracking with tensorboard", "train", "tensorboard")
        from torch.utils.tensorboard import SummaryWriter

        # purge_step drops events a killed run wrote after the checkpoint it resumes from.
        self._writer = SummaryWriter(str(Path(work_dir) / TENSORBOARD),
                                     purge_step=resume_step + 1 if resume_step else None)

    def start(self, params: dict[str, Any]) -> None:
        pass  # TensorBoard's hparams want final metrics too; the parameters are in train_result.json

    def log(self, step: int, scalars: dict[str, float]) -> None:
        for key, value in scalars.items():
            self._writer.add_scalar(metric_name(key), value, step)
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()


def mlflow_uri(run_dir: Path) -> str:
    """Where MLflow runs go: ``MLFLOW_TRACKING_URI``, else a file store under the run dir."""
    return os.environ.get("MLFLOW_TRACKING_URI") or (Path(run_dir).resolve() / "mlruns").as_uri()


def mlflow_client(uri: str) -> Any:
    """An ``MlflowClient`` of ``uri`` (allowing mlflow's file store, the only local one of mlflow-skinny)."""
    require("tracking with mlflow", "track", "mlflow")
    if uri.startswith("file:") or "://" not in uri:
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri)


class MlflowTracker:
    """One MLflow run per training, reopened on resume; parameters, per-step metrics."""

    def __init__(self, run_dir: Path, project: str, run_name: str, previous: TrackingRun | None):
        self.uri = previous.tracking_uri if previous and previous.tracking_uri else mlflow_uri(run_dir)
        self.client = mlflow_client(self.uri)
        if previous is not None:
            self.run_id, self.resumed = previous.run_id, True
            self.client.update_run(self.run_id, status="RUNNING")
        else:
            experiment = self.client.get_experiment_by_name(project)
            experiment_id = experiment.experiment_id if experiment else self.client.create_experiment(project)
            run = self.client.create_run(experiment_id, run_name=run_name, tags={"webtune.stage": "train"})
            self.run_id, self.resumed = run.info.run_id, False
        self.record = TrackingRun(backend="mlflow", run_id=self.run_id, tracking_uri=self.uri,
                                  experiment=project, name=run_name)

    def start(self, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        if self.resumed:
            return  # MLflow parameters are write-once
        # MLflow caps a parameter value at 6000 characters (the chat template can be longer).
        items = [Param(key, str(value)[:6000]) for key, value in flatten(params).items()]
        for i in range(0, len(items), 100):  # log_batch takes at most 100 parameters
            self.client.log_batch(self.run_id, params=items[i:i + 100])

    def log(self, step: int, scalars: dict[str, float]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(metric_name(k), float(v), now, step)
                                                    for k, v in scalars.items()])

    def close(self) -> None:
        self.client.set_terminated(self.run_id)


class WandbTracker:
    """A W&B run in ``<run dir>/wandb``, offline unless a key is set; resumed by id."""

    def __init__(self, run_dir: Path, project: str, run_name: str, previous: TrackingRun | None):
        require("tracking with wandb", "track", "wandb")
        import wandb

        mode = os.environ.get("WANDB_MODE") or ("online" if os.environ.get("WANDB_API_KEY") else "offline")
        directory = Path(run_dir).resolve()
        directory.mkdir(parents=True, exist_ok=True)
        self.run = wandb.init(project=project, name=run_name, dir=str(directory), mode=mode,
                              id=previous.run_id if previous else None,
                              resume="allow" if previous else None, reinit="create_new")
        self.resumed = previous is not None
        self.record = TrackingRun(backend="wandb", run_id=self.run.id, mode=mode, experiment=project,
                                  name=run_name, dir=str(Path(self.run.dir).parent),
                                  url=getattr(self.run, "url", None) or None)

    def start(self, params: dict[str, Any]) -> None:
        self.run.config.update(flatten(params), allow_val_change=True)

    def log(self, step: int, scalars: dict[str, float]) -> None:
        self.run.log({metric_name(k): v for k, v in scalars.items()}, step=step)

    def close(self) -> None:
        self.run.finish()


def flatten(params: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"lora": {"r": 16}}`` -> ``{"lora.r": 16}``; None values left out."""
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        elif value is not None:
            flat[name] = value
    return flat


def read_runs(work_dir: Path) -> list[TrackingRun]:
    """The runs a training recorded in ``<work dir>/tracking.json`` (empty when none)."""
    path = Path(work_dir) / STATE
    if not path.is_file():
        return []
    try:
        return [TrackingRun.model_validate(item) for item in json.loads(path.read_text(encoding="utf-8"))]
    except (ValueError, TypeError):
        return []


def open_trackers(backends: list[str], work_dir: Path, run_dir: Path | None, project: str, run_name: str,
                  resume_step: int = 0) -> list[Any]:
    """The trackers ``backends`` names, their runs recorded in ``tracking.json`` at once.

    A resumed training (``resume_step`` > 0) continues the runs the file names; a fresh one
    starts new runs. ``run_dir`` (the pipeline's run directory) holds the local stores.
    """
    previous = {run.backend: run for run in read_runs(work_dir)} if resume_step else {}
    store = Path(run_dir) if run_dir is not None else Path(work_dir)
    trackers: list[Any] = []
    for backend in dict.fromkeys(backends):
        if backend == "tensorboard":
            trackers.append(TensorBoardTracker(work_dir, resume_step))
        elif backend == "mlflow":
            trackers.append(MlflowTracker(store, project, run_name, previous.get("mlflow")))
        elif backend == "wandb":
            trackers.append(WandbTracker(store, project, run_name, previous.get("wandb")))
        else:
            raise ValueError(f"unknown tracker {backend!r}: choose from {', '.join(TRACKERS)}")
    records = [t.record.model_dump(mode="json", exclude_none=True) for t in trackers if hasattr(t, "record")]
    atomic_write_json(Path(work_dir) / STATE, records)
    return trackers


def log_evaluation(runs: list[TrackingRun], figures: dict[str, float | None], artifacts: list[Path]) -> list[str]:
    """Log the evaluation's figures and report files into the MLflow run(s) training recorded.

    Returns the run ids logged to. W&B offline runs are not reopened (a second offline writer
    of the same run would fork it); their link is still kept in the registry version.
    """
    from mlflow.entities import Metric

    logged = []
    for run in runs:
        if run.backend != "mlflow" or not run.tracking_uri:
            continue
        client = mlflow_client(run.tracking_uri)
        now = int(time.time() * 1000)
        metrics = [Metric(key, float(value), now, 0) for key, value in figures.items() if value is not None]
        for i in range(0, len(metrics), 1000):
            client.log_batch(run.run_id, metrics=metrics[i:i + 1000])
        for path in artifacts:
            if Path(path).is_file():
                client.log_artifact(run.run_id, str(path), artifact_path="evaluate")
        logged.append(run.run_id)
    return logged


def log_artifacts(runs: list[TrackingRun], files: list[Path], artifact_path: str) -> None:
    """Attach files (train's loss plot and result) to the MLflow run(s)."""
    for run in runs:
        if run.backend == "mlflow" and run.tracking_uri:
            client = mlflow_client(run.tracking_uri)
            for path in files:
                if Path(path).is_file():
                    client.log_artifact(run.run_id, str(path), artifact_path=artifact_path)


def tag_runs(runs: list[TrackingRun], tags: dict[str, str]) -> None:
    """Set tags on the MLflow run(s) (the register stage names the version it made)."""
    for run in runs:
        if run.backend == "mlflow" and run.tracking_uri:
            client = mlflow_client(run.tracking_uri)
            for key, value in tags.items():
                client.set_tag(run.run_id, key, value)
