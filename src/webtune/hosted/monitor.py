"""Follow a fine-tuning job: status changes, events and a progress bar until it ends.

The API lists events newest first and pages towards older ones, so each poll reads pages
until it meets an event it has already seen, then shows the new ones oldest first. Metric
events (``type: metrics``) move the progress bar (step / total steps, train and validation
loss) instead of being printed line by line.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from webtune.openai_client import APIAuthError, APIError

TERMINAL = ("succeeded", "failed", "cancelled")
STATUS_STYLE = {"validating_files": "cyan", "queued": "cyan", "running": "blue", "succeeded": "green",
                "failed": "red", "cancelled": "yellow", "paused": "yellow", "pausing": "yellow"}
LEVEL_STYLE = {"info": "", "warn": "yellow", "error": "bold red"}
MAX_POLL_FAILURES = 5
LOSS_LABELS = (("train_loss", "loss"), ("valid_loss", "val"), ("full_valid_loss", "full val"))


def event_dict(event: Any) -> dict[str, Any]:
    """An SDK event as a plain dict."""
    return event.model_dump() if hasattr(event, "model_dump") else dict(event)


def format_event(event: dict[str, Any]) -> str:
    """One line of rich markup for an event: time, level colour, message."""
    stamp = time.strftime("%H:%M:%S", time.localtime(event.get("created_at") or 0))
    style = LEVEL_STYLE.get(event.get("level", "info"), "")
    text = escape(str(event.get("message", "")))
    return f"[dim]{stamp}[/dim] [{style}]{text}[/{style}]" if style else f"[dim]{stamp}[/dim] {text}"


def status_markup(status: str) -> str:
    """A job status coloured for the terminal."""
    style = STATUS_STYLE.get(status, "")
    return f"[{style}]{status}[/{style}]" if style else status


@dataclass
class EventReader:
    """Reads a job's events once each, oldest first."""

    client: Any
    job_id: str
    page_size: int = 100
    seen: set[str] = field(default_factory=set)

    def new_events(self) -> list[dict[str, Any]]:
        """Events not returned before, oldest first."""
        fresh: list[dict[str, Any]] = []
        after = None
        while True:
            kwargs: dict[str, Any] = {"limit": self.page_size}
            if after:
                kwargs["after"] = after
            page = self.client.call(f"reading events of {self.job_id}",
                                    self.client.fine_tuning.jobs.list_events, self.job_id, **kwargs)
            items = [event_dict(e) for e in page.data]
            hit_seen = False
            for item in items:
                if item["id"] in self.seen:
                    hit_seen = True
                    break
                fresh.append(item)
            if hit_seen or not items or not page.has_more:
                break
            after = items[-1]["id"]
        fresh.reverse()
        self.seen.update(e["id"] for e in fresh)
        return fresh


@dataclass
class WatchResult:
    """The job as it ended and the metric rows its events reported."""

    job: Any
    metrics: list[dict[str, Any]]
    events: list[dict[str, Any]]


class JobWatcher:
    """Polls one job every ``poll_interval`` seconds and shows what happens."""

    def __init__(self, client: Any, job_id: str, console: Console, poll_interval: float = 10.0):
        self.client = client
        self.job_id = job_id
        self.console = console
        self.poll_interval = poll_interval
        self.reader = EventReader(client, job_id)
        self.metrics: dict[int, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []

    def poll(self) -> Any:
        """The job now (transient errors are retried inside the call, by the client's policy)."""
        return self.client.call(f"retrieving job {self.job_id}", self.client.fine_tuning.jobs.retrieve, self.job_id)

    def watch(self) -> WatchResult:
        """Follow the job until it succeeds, fails or is cancelled; Ctrl-C leaves it running."""
        progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                            TextColumn("{task.fields[steps]}"),
                            TextColumn("{task.fields[losses]}"), TimeElapsedColumn(),
                            console=self.console, transient=False)
        task = progress.add_task(f"{self.job_id}", total=None, losses="", steps="")
        status = None
        try:
            with progress:
                while True:
                    job, new = self._poll_through_outages(progress)
                    self._show_events(new, progress, task)
                    if job.status != status:
                        status = job.status
                        progress.console.print(f"status: {status_markup(status)}")
                        progress.update(task, description=f"{self.job_id} {status_markup(status)}")
                    if status in TERMINAL:
                        break
                    time.sleep(self.poll_interval)
        except KeyboardInterrupt:
            self.console.print(
                f"[yellow]stopped watching; job {self.job_id} keeps running on the API.[/yellow] "
                "Run the same command again to reattach, or `webtune train cancel RUN` to stop it."
            )
            raise
        rows = [self.metrics[k] for k in sorted(self.metrics)]
        return WatchResult(job=job, metrics=rows, events=self.events)

    def _poll_through_outages(self, progress: Progress) -> tuple[Any, list[dict[str, Any]]]:
        """The job and its new events; a poll that failed for good is tried again, up to
        MAX_POLL_FAILURES times in a row (each poll was retried by the client already, but a
        long outage should not lose hours of training). A refused key stops at once."""
        from webtune.retry import GaveUp, RetryPolicy

        def note(exc: BaseException, wait: float) -> None:
            progress.console.print(f"[yellow]{escape(str(exc))}; trying again in {wait:.0f}s[/yellow]")

        outages = RetryPolicy(max_attempts=MAX_POLL_FAILURES, initial_wait_s=2 * self.poll_interval,
                              max_backoff_s=60.0, max_total_s=float("inf"))
        try:
            return outages.call(lambda: (self.poll(), self.reader.new_events()), on_retry=note,
                                retry_if=lambda exc: isinstance(exc, APIError) and not isinstance(exc, APIAuthError))
        except GaveUp as exc:
            raise exc.last from None

    def _show_events(self, events: list[dict[str, Any]], progress: Progress, task: Any) -> None:
        for event in events:
            self.events.append(event)
            data = event.get("data") or {}
            if event.get("type") == "metrics" and isinstance(data, dict) and "step" in data:
                self.metrics[int(data["step"])] = data
                total = data.get("total_steps")
                losses = "  ".join(f"{label} {data[k]:.4f}" for k, label in LOSS_LABELS
                                   if isinstance(data.get(k), (int, float)))
                steps = f"step {int(data['step'])}/{total}" if total else f"step {int(data['step'])}"
                progress.update(task, completed=int(data["step"]), total=total or None, losses=losses, steps=steps)
            else:
                progress.console.print(format_event(event))
