"""Watching a training run: a rich progress bar, metrics.jsonl, the trackers (TensorBoard, MLflow,
W&B: `webtune.tracking`) and the loss plot.

During training the metrics and TensorBoard events live in the stage's work directory (they
survive a kill and are trimmed back to the checkpoint on resume); the stage copies them into
its output when training finishes.
"""

from __future__ import annotations

import json
import time
from collections import deque
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)

from webtune.jsonl import atomic_path, read_jsonl

METRICS = "metrics.jsonl"
TENSORBOARD = "tensorboard"  # webtune.tracking.TENSORBOARD: where TensorBoardTracker writes


class MetricsLog:
    """Append-only ``metrics.jsonl`` plus the configured trackers (`webtune.tracking`), resumable
    at a step. ``tracking`` is the job's tracking setup (``backends``, ``run_dir``, ``project``,
    ``run_name``, ``params``); None: TensorBoard alone."""

    def __init__(self, work_dir: Path, resume_step: int = 0, tracking: dict[str, Any] | None = None):
        from webtune.tracking import open_trackers

        self.path = Path(work_dir) / METRICS
        self._trim(resume_step)
        self._fh = open(self.path, "a", encoding="utf-8")
        setup = tracking or {"backends": ["tensorboard"]}
        run_dir = setup.get("run_dir")
        self.trackers = open_trackers(setup.get("backends", ["tensorboard"]), Path(work_dir),
                                      Path(run_dir) if run_dir else None,
                                      setup.get("project") or "webtune", setup.get("run_name") or Path(work_dir).name,
                                      resume_step)
        for tracker in self.trackers:
            tracker.start(setup.get("params") or {})

    def _trim(self, resume_step: int) -> None:
        """Keep only the records of steps up to ``resume_step`` (all of them when 0 = fresh)."""
        if not self.path.exists():
            return
        # A line cut off by a kill is dropped with the steps after the checkpoint.
        kept = [r for r in read_jsonl(self.path, skip_invalid=True) if r.get("step", 0) <= resume_step] \
            if resume_step else []
        self.path.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")

    def log(self, record: dict[str, Any]) -> None:
        """Write one record (``step`` plus scalars) to the file and every tracker, flushed at once."""
        self._fh.write(json.dumps(record) + "\n")
        self._fh.flush()
        scalars = {key: value for key, value in record.items()
                   if key != "step" and isinstance(value, (int, float)) and not isinstance(value, bool)}
        for tracker in self.trackers:
            tracker.log(record["step"], scalars)

    def close(self) -> None:
        self._fh.close()
        for tracker in self.trackers:
            tracker.close()


class TrainProgress:
    """A rich progress bar: step, loss, learning rate, tokens per second, validation loss, ETA."""

    def __init__(self, total_steps: int, start_step: int = 0, console: Console | None = None,
                 enabled: bool = True):
        self.enabled = enabled
        self._window: deque[tuple[int, float]] = deque(maxlen=20)
        self.val_loss: float | None = None
        if not enabled:
            return
        self.progress = Progress(
            TextColumn("[bold]train[/bold]"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TextColumn("eta"),
            TimeRemainingColumn(), console=console or Console(stderr=True), transient=False,
        )
        self.task = self.progress.add_task("train", total=total_steps, completed=start_step, info="")

    def __enter__(self) -> "TrainProgress":
        if self.enabled:
            self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.enabled:
            self.progress.stop()

    def tokens_per_second(self, tokens: int, seconds: float) -> float:
        """Throughput over the last 20 steps (steadier than one step's)."""
        self._window.append((tokens, seconds))
        total_s = sum(s for _, s in self._window)
        return sum(t for t, _ in self._window) / total_s if total_s > 0 else 0.0

    def update(self, step: int, loss: float, lr: float, tokens_per_s: float) -> None:
        self._last = (step, loss, lr, tokens_per_s)
        if not self.enabled:
            return
        val = f" · val {self.val_loss:.3f}" if self.val_loss is not None else ""
        info = f"loss {loss:.3f} · lr {lr:.1e} · {tokens_per_s:,.0f} tok/s{val}"
        self.progress.update(self.task, completed=step, info=info)

    def set_val_loss(self, value: float | None) -> None:
        """Show a new validation loss (with the last step's figures)."""
        self.val_loss = value
        if getattr(self, "_last", None) is not None:
            self.update(*self._last)

    def note(self, message: str) -> None:
        if self.enabled:
            self.progress.console.print(message)


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The records of a metrics.jsonl (unreadable lines skipped)."""
    return list(read_jsonl(path, skip_invalid=True)) if Path(path).exists() else []


# metrics.jsonl columns of the local trainer and how the plot names them.
LOCAL_LOSS_COLUMNS = {"loss": "train loss", "val_loss": "validation loss"}


def plot_loss(rows: list[dict[str, Any]], columns: dict[str, str], png: Path, title: str) -> bool:
    """Loss by optimizer step as a PNG (written atomically), for local and hosted training alike.

    ``rows`` are metric records with a ``step``; ``columns`` maps each loss column to its
    label. The first column is drawn as a line (with its moving average when long), the
    others as points joined by lines. False, and no file, when there is nothing to plot.
    """
    series = {label: [(r["step"], r[col]) for r in rows if r.get(col) is not None and r.get("step") is not None]
              for col, label in columns.items()}
    series = {label: points for label, points in series.items() if points}
    if not series:
        return False
    import matplotlib

    matplotlib.use("Agg")  # no display on servers
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    for index, (label, points) in enumerate(series.items()):
        steps, losses = zip(*points, strict=True)
        if index == 0:
            ax.plot(steps, losses, color="#9ecae1", linewidth=1, label=label)
            _plot_moving_average(ax, steps, losses, label)
        else:
            ax.plot(steps, losses, "o-", linewidth=2, markersize=3, label=label)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (mean NLL per assistant token)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_path(png) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return True


def _plot_moving_average(ax: Any, steps: tuple, losses: tuple, label: str) -> None:
    """A mean over a twentieth of the points, when that is more than one point."""
    k = max(1, len(losses) // 20)
    if k > 1:
        smooth = [sum(losses[max(0, i - k + 1):i + 1]) / len(losses[max(0, i - k + 1):i + 1])
                  for i in range(len(losses))]
        ax.plot(steps, smooth, color="#3182bd", linewidth=2, label=f"{label} (mean of {k})")


class StepTimer:
    """Wall time of one step."""

    def __enter__(self) -> "StepTimer":
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.seconds = time.perf_counter() - self.start
