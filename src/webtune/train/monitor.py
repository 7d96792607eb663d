"""Watching a training run: a rich progress bar, metrics.jsonl, TensorBoard and the loss plot.

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

METRICS = "metrics.jsonl"
TENSORBOARD = "tensorboard"


class MetricsLog:
    """Append-only ``metrics.jsonl`` plus TensorBoard scalars, resumable at a step."""

    def __init__(self, work_dir: Path, resume_step: int = 0, tensorboard: bool = True):
        self.path = Path(work_dir) / METRICS
        self._trim(resume_step)
        self._fh = open(self.path, "a", encoding="utf-8")
        self._tb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            # purge_step drops events a killed run wrote after the checkpoint it resumes from.
            self._tb = SummaryWriter(str(Path(work_dir) / TENSORBOARD),
                                     purge_step=resume_step + 1 if resume_step else None)

    def _trim(self, resume_step: int) -> None:
        """Keep only the records of steps up to ``resume_step`` (all of them when 0 = fresh)."""
        if not self.path.exists():
            return
        kept = []
        if resume_step:
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    if json.loads(line).get("step", 0) <= resume_step:
                        kept.append(line)
                except ValueError:
                    continue  # a line cut off by a kill
        self.path.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")

    def log(self, record: dict[str, Any]) -> None:
        """Write one record (``step`` plus scalars) to both sinks, flushed at once."""
        self._fh.write(json.dumps(record) + "\n")
        self._fh.flush()
        if self._tb is not None:
            step = record["step"]
            for key, value in record.items():
                if key != "step" and isinstance(value, (int, float)) and not isinstance(value, bool):
                    self._tb.add_scalar(_tb_name(key), value, step)
            self._tb.flush()

    def close(self) -> None:
        self._fh.close()
        if self._tb is not None:
            self._tb.close()


def _tb_name(key: str) -> str:
    return {"loss": "train/loss", "val_loss": "eval/loss", "lr": "train/lr",
            "grad_norm": "train/grad_norm", "tokens_per_s": "train/tokens_per_s"}.get(key, f"train/{key}")


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
    out = []
    if not Path(path).exists():
        return out
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def plot_loss(metrics: list[dict[str, Any]], png: Path, title: str = "training loss") -> None:
    """Training loss per step (and a moving average) with validation loss points, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers
    import matplotlib.pyplot as plt

    train = [(m["step"], m["loss"]) for m in metrics if "loss" in m]
    val = [(m["step"], m["val_loss"]) for m in metrics if "val_loss" in m]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    if train:
        steps, losses = zip(*train)
        ax.plot(steps, losses, color="#9ecae1", linewidth=1, label="train loss")
        k = max(1, len(losses) // 20)
        if k > 1:
            smooth = [sum(losses[max(0, i - k + 1):i + 1]) / len(losses[max(0, i - k + 1):i + 1])
                      for i in range(len(losses))]
            ax.plot(steps, smooth, color="#3182bd", linewidth=2, label=f"train loss (mean of {k})")
    if val:
        steps, losses = zip(*val)
        ax.plot(steps, losses, "o-", color="#e6550d", linewidth=2, label="validation loss")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (mean NLL per assistant token)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png)
    plt.close(fig)


class StepTimer:
    """Wall time of one step."""

    def __enter__(self) -> "StepTimer":
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.seconds = time.perf_counter() - self.start
