"""What a finished job leaves behind: result CSV, loss plot, checkpoints, events, ``train_result.json``.

The API's result file is the step metrics CSV (``step,train_loss,train_accuracy,valid_loss,...``),
served base64-encoded; it is decoded, saved as ``results.csv``, converted to
``metrics.jsonl`` (one row a step, like the local backend) and plotted as ``loss.png``.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from webtune.handoffs import TrainResult
from webtune.jsonl import atomic_write_json, atomic_write_text, write_jsonl
from webtune.openai_client import APIError
from webtune.train.monitor import plot_loss

RESULTS_CSV = "results.csv"
LOSS_PLOT = "loss.png"
METRICS = "metrics.jsonl"
CHECKPOINTS = "checkpoints.json"
EVENTS = "events.jsonl"
TRAIN_RESULT = TrainResult.FILE
# The result file's loss columns and how the plot names them.
LOSS_COLUMNS = {"train_loss": "train loss", "valid_loss": "valid loss", "full_valid_loss": "full valid loss"}


def decode_result_file(raw: bytes) -> str:
    """The CSV text of a result file, which the API serves base64-encoded (plain text accepted)."""
    text = raw.decode("utf-8", errors="replace").strip()
    if text.lower().startswith("step"):
        return text + "\n"
    try:
        decoded = base64.b64decode(text, validate=False).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise APIError("the job's result file is neither CSV nor base64-encoded CSV") from None
    return decoded.strip() + "\n"


def parse_metrics_csv(text: str) -> list[dict[str, float | int | None]]:
    """Rows of the result CSV with numbers parsed (empty cells become None)."""
    rows = []
    for raw in csv.DictReader(io.StringIO(text)):
        row: dict[str, float | int | None] = {}
        for key, value in raw.items():
            if key is None:
                continue
            value = (value or "").strip()
            try:
                row[key.strip()] = int(value) if key.strip() == "step" else (float(value) if value else None)
            except ValueError:
                row[key.strip()] = None
        rows.append(row)
    return rows


def download_results(client: Any, job: Any, out_dir: Path) -> list[dict[str, Any]]:
    """Save the job's result CSV into ``out_dir`` and return its rows (empty when there is none)."""
    if not job.result_files:
        return []
    file_id = job.result_files[0]
    raw = client.call(f"downloading result file {file_id}", client.files.content, file_id).read()
    text = decode_result_file(raw)
    atomic_write_text(Path(out_dir) / RESULTS_CSV, text)
    return parse_metrics_csv(text)


def list_checkpoints(client: Any, job_id: str) -> list[dict[str, Any]]:
    """The job's checkpoints, newest first, as plain dicts."""
    page = client.call(f"listing checkpoints of {job_id}", client.fine_tuning.jobs.checkpoints.list, job_id)
    return [c.model_dump() for c in page]


def checkpoints_table(checkpoints: list[dict[str, Any]]) -> Table:
    """Checkpoints with their step and losses."""
    table = Table(title="checkpoints")
    for column in ("step", "model", "train loss", "valid loss"):
        table.add_column(column, justify="right" if column != "model" else "left",
                         overflow="fold" if column == "model" else "ellipsis")
    for ckpt in checkpoints:
        metrics = ckpt.get("metrics") or {}
        table.add_row(str(ckpt.get("step_number")), str(ckpt.get("fine_tuned_model_checkpoint")),
                      _fmt(metrics.get("train_loss")), _fmt(metrics.get("valid_loss")))
    return table


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, (int, float)) else "-"


def final_metrics(rows: list[dict[str, Any]], event_rows: list[dict[str, Any]], job: Any) -> dict[str, Any]:
    """The figures people compare: last losses/accuracies, steps and billed tokens.

    The result CSV is preferred; metric events add what it lacks (e.g. ``full_valid_loss``,
    which the API reports only in the last events).
    """
    metrics: dict[str, Any] = {}
    for source in (event_rows, rows):  # CSV last, so its values win; within one, the last row wins
        for row in source:
            for key, value in row.items():
                if key not in ("step", "total_steps") and isinstance(value, (int, float)):
                    metrics[key] = value
    steps = [int(r.get("step") or 0) for r in (rows or event_rows)]
    if steps:
        metrics["steps"] = max(steps)
    if getattr(job, "trained_tokens", None) is not None:
        metrics["trained_tokens"] = job.trained_tokens
    return metrics


def collect_results(client: Any, job: Any, out_dir: Path, event_rows: list[dict[str, Any]],
                    console: Console) -> dict[str, Any]:
    """Write results.csv, metrics.jsonl, loss.png and checkpoints.json; return the final metrics."""
    out_dir = Path(out_dir)
    rows = download_results(client, job, out_dir)
    write_jsonl(out_dir / METRICS, rows or event_rows)
    if plot_loss(rows or event_rows, LOSS_COLUMNS, out_dir / LOSS_PLOT, f"{job.fine_tuned_model or job.id}"):
        console.print(f"loss curve written: {LOSS_PLOT}")
    checkpoints = list_checkpoints(client, job.id)
    atomic_write_json(out_dir / CHECKPOINTS, checkpoints)
    if checkpoints:
        console.print(checkpoints_table(checkpoints))
    return final_metrics(rows, event_rows, job)


def train_result(job: Any, metrics: dict[str, Any], extra: dict[str, Any] | None = None) -> TrainResult:
    """The ``train_result.json`` later stages read (see docs/architecture.md)."""
    method = getattr(getattr(job, "method", None), "type", None) or "supervised"
    return TrainResult(backend="openai", method=method, base_model=job.model, model_id=job.fine_tuned_model,
                       job_id=job.id, metrics=metrics, **(extra or {}))


def failure_message(job: Any) -> str:
    """The API's own reason for a failed or cancelled job, in one line."""
    if job.status == "cancelled":
        return f"fine-tuning job {job.id} was cancelled; rerun to start a new one"
    err = getattr(job, "error", None)
    if err is not None and getattr(err, "message", None):
        where = f" ({err.param})" if getattr(err, "param", None) else ""
        code = f"[{err.code}] " if getattr(err, "code", None) else ""
        return f"fine-tuning job {job.id} failed: {code}{err.message}{where}"
    return f"fine-tuning job {job.id} failed (the API gave no reason; see `webtune train events RUN`)"


def write_train_result(out_dir: Path, result: TrainResult) -> Path:
    """Write ``train_result.json`` atomically."""
    return result.write(Path(out_dir) / TRAIN_RESULT)


def finish_job(client: Any, job_id: str, out_dir: Path, console: Console, poll_interval: float,
               extra: dict[str, Any] | None = None) -> TrainResult:
    """Follow a job to its end; on success write its results and return ``train_result``.

    A failed or cancelled job raises a APIError with the API's own reason.
    """
    from webtune.hosted.monitor import JobWatcher

    watched = JobWatcher(client, job_id, console, poll_interval).watch()
    job = watched.job
    if job.status != "succeeded":
        raise APIError(failure_message(job))
    metrics = collect_results(client, job, out_dir, watched.metrics, console)
    write_jsonl(Path(out_dir) / EVENTS, watched.events)  # the job's story, oldest first
    result = train_result(job, metrics, extra)
    write_train_result(out_dir, result)
    console.print(f"[green]fine-tuned model:[/green] [bold]{job.fine_tuned_model}[/bold]", highlight=False)
    return result
