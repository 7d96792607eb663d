"""`webtune train status|events|cancel RUN` and `webtune train attach JOB_ID`: hosted jobs.

RUN is a run directory (``runs/<name>``) or a run name; the job id, base URL and the name of
the API-key variable come from the run's ``.work/train/openai_state.json`` (the key itself
only ever from the environment).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from webtune.cli.common import console, err_console

RunArgument = typer.Argument(..., help="Run directory (runs/<name>) or run name.")
KeyEnvOption = typer.Option(None, "--api-key-env", help="Environment variable holding the API key "
                                                        "(default: the run's, else OPENAI_API_KEY).")
RunDirOption = typer.Option(None, "--run-dir", help="Where the results land, as <run-dir>/train "
                                                    "(default: runs/<job id>).")
BaseUrlOption = typer.Option(None, "--base-url", help="API base URL (default: the run's, else OPENAI_BASE_URL).")


def _client(run: str | Path | None, api_key_env: str | None, base_url: str | None) -> Any:
    """A client for the run's API (its base URL and key variable unless overridden)."""
    from webtune.hosted.state import HostedState, state_dir_for
    from webtune.openai_client import connect

    state = None
    if run is not None and (where := state_dir_for(run)) is not None:
        state = HostedState.load(where)
    return connect(base_url, api_key_env, recorded=state)


def _when(stamp: int | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp)) if stamp else "-"


def job_table(job: Any) -> Table:
    """The facts of a job in two columns."""
    from webtune.hosted.monitor import status_markup

    table = Table(show_header=False, title=f"fine-tuning job {job.id}")
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")  # ids must stay whole to be copied
    hyper = job.hyperparameters.model_dump() if getattr(job, "hyperparameters", None) else {}
    rows = [
        ("status", status_markup(job.status)), ("base model", job.model),
        ("fine-tuned model", job.fine_tuned_model or "-"), ("created", _when(job.created_at)),
        ("finished", _when(job.finished_at)), ("trained tokens", str(job.trained_tokens or "-")),
        ("hyperparameters", ", ".join(f"{k}={v}" for k, v in hyper.items() if v is not None) or "-"),
        ("training file", job.training_file), ("validation file", job.validation_file or "-"),
    ]
    if job.error is not None and job.error.message:
        rows.append(("error", f"[red]{job.error.message}[/red]"))
    for name, value in rows:
        table.add_row(name, value)
    return table


def status_command(
    run: str = RunArgument,
    api_key_env: Optional[str] = KeyEnvOption,
    base_url: Optional[str] = BaseUrlOption,
    as_json: bool = typer.Option(False, "--json", help="Print the job as JSON."),
) -> None:
    """Show the hosted fine-tuning job of RUN: status, model, tokens, error, checkpoints."""
    from webtune.hosted.results import checkpoints_table, list_checkpoints
    from webtune.hosted.state import find_job_id

    job_id = find_job_id(run)
    client = _client(run, api_key_env, base_url)
    job = client.call(f"retrieving job {job_id}", client.fine_tuning.jobs.retrieve, job_id)
    if as_json:
        console.print_json(job.model_dump_json())
        return
    console.print(job_table(job))
    checkpoints = list_checkpoints(client, job_id)
    if checkpoints:
        console.print(checkpoints_table(checkpoints))


def events_command(
    run: str = RunArgument,
    limit: int = typer.Option(50, "--limit", "-n", min=1, help="How many of the latest events."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep following until the job ends."),
    poll_interval: float = typer.Option(10.0, "--poll-interval", min=0.01, help="Seconds between polls."),
    api_key_env: Optional[str] = KeyEnvOption,
    base_url: Optional[str] = BaseUrlOption,
) -> None:
    """Print the latest events of RUN's job, oldest first (with --follow, until it ends)."""
    from webtune.hosted.monitor import JobWatcher, event_dict, format_event
    from webtune.hosted.state import find_job_id

    job_id = find_job_id(run)
    client = _client(run, api_key_env, base_url)
    if follow:
        JobWatcher(client, job_id, err_console, poll_interval).watch()
        return
    page = client.call(f"reading events of {job_id}", client.fine_tuning.jobs.list_events, job_id, limit=limit)
    for event in reversed([event_dict(e) for e in page.data]):
        console.print(format_event(event))


def cancel_command(
    run: str = RunArgument,
    api_key_env: Optional[str] = KeyEnvOption,
    base_url: Optional[str] = BaseUrlOption,
) -> None:
    """Cancel RUN's fine-tuning job (a rerun of the train stage then starts a new one)."""
    from webtune.errors import WebtuneError
    from webtune.hosted.monitor import TERMINAL, status_markup
    from webtune.hosted.state import HostedState, find_job_id, state_dir_for

    job_id = find_job_id(run)
    client = _client(run, api_key_env, base_url)
    job = client.call(f"retrieving job {job_id}", client.fine_tuning.jobs.retrieve, job_id)
    if job.status in TERMINAL:
        raise WebtuneError(f"job {job_id} already {job.status}: nothing to cancel")
    job = client.call(f"cancelling job {job_id}", client.fine_tuning.jobs.cancel, job_id)
    if (where := state_dir_for(run)) is not None:
        HostedState.load(where).update_job(status=job.status)
    console.print(f"job {job_id}: {status_markup(job.status)}")


def attach_command(
    job_id: str = typer.Argument(..., help="A fine-tuning job id (ftjob-...) started anywhere."),
    run_dir: Optional[Path] = RunDirOption,
    poll_interval: float = typer.Option(10.0, "--poll-interval", min=0.01, help="Seconds between polls."),
    api_key_env: Optional[str] = KeyEnvOption,
    base_url: Optional[str] = BaseUrlOption,
) -> None:
    """Follow a job started elsewhere; on success publish it as the train stage of a run."""
    from webtune.handoffs import ApiEndpoint
    from webtune.hosted.results import finish_job
    from webtune.hosted.state import HostedState
    from webtune.pipeline import stage_summary
    from webtune.stage import Counts, StageResult, run_stage

    where = run_dir or Path("runs") / job_id
    client = _client(None, api_key_env, base_url)

    def follow(ctx: Any) -> StageResult:
        state = HostedState.load(ctx.work_dir)
        state.base_url, state.api_key_env = client.base_url, client.endpoint.api_key_env
        state.remember_job(job_id, request_key="attached", model="")
        # where evaluate and chat call (no secret: the key's variable name only)
        api = ApiEndpoint(base_url=state.base_url, api_key_env=state.api_key_env)
        result = finish_job(client, job_id, ctx.output_dir, ctx.console, poll_interval,
                            extra={"attached": True, "api": api})
        state.update_job(status="succeeded", model=result.base_model, fine_tuned_model=result.model_id)
        return StageResult(counts=Counts(), stats={"job_id": job_id, "model_id": result.model_id,
                                                   **result.metrics}, keep_work=(state.path.name,))

    manifest = run_stage("train", follow, run_dir=where, config={"backend": "openai", "attach": job_id},
                         console=err_console, force=True)
    err_console.print(stage_summary(manifest))
    console.print(manifest.stats["model_id"])


def register_hosted(train_app: typer.Typer) -> None:
    """Add the hosted-job commands to the `webtune train` group."""
    train_app.command("status")(status_command)
    train_app.command("events")(events_command)
    train_app.command("cancel")(cancel_command)
    train_app.command("attach")(attach_command)
