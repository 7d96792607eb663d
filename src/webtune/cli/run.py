"""`webtune run PIPELINE.yaml`: every stage in order, then one chat answer from the tuned model."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

import typer
from rich.panel import Panel

from webtune.cli.common import err_console

# Exit codes of `webtune run` (and of the CI job that runs it): 0 the model is in production (or
# nothing new to train on), NOT_PROMOTED when it was registered but its gates kept it out,
# 1 an error, 2 a configuration error, 3 an API refusing the key, 130 interrupted.
PROMOTED, NOT_PROMOTED = 0, 4


def run_command(
    pipeline_file: Path = typer.Argument(..., help="The pipeline YAML file."),
    run_dir: Optional[Path] = typer.Option(None, "--run-dir", help="Run directory (default: runs/<name>)."),
    force: bool = typer.Option(False, "--force", help="Rerun every stage."),
    from_stage: Optional[str] = typer.Option(None, "--from", help="Rerun from this stage on."),
    to_stage: Optional[str] = typer.Option(None, "--to", help="Stop after this stage."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask to confirm costs (hosted training)."),
    no_resume: bool = typer.Option(
        False, "--no-resume", help="Start training over instead of continuing from the last "
        "checkpoint a killed run left (the default)."),
    plan: bool = typer.Option(False, "--plan", help="Only print the training's memory plan "
                              "(as `webtune train --plan`) and exit; runs no stage."),
    refresh: bool = typer.Option(
        False, "--refresh", help="Collect only what is new since the last run, dedup it against every "
        "earlier version, train (refresh.train: continue or retrain) and promote only a model that "
        "beats production on the frozen benchmark and the new test split; into runs/<name>/v<N>. "
        "A `refresh:` section in the pipeline file makes every run a refresh."),
) -> None:
    """Run the pipeline's stages in order into runs/<name>/<stage>/, skipping unchanged ones.

    A killed run resumes where it stopped when run again: published stages are skipped, and
    training continues from its last checkpoint (``--no-resume`` starts it over).

    Exit codes: 0 the new version is in production (or a refresh found nothing new); 4 it was
    registered but not promoted (a gate failed; the reason is printed); 1 an error; 2 a
    configuration error; 3 an API refused the key; 130 interrupted.
    """
    from webtune.config import load_pipeline
    from webtune.pipeline import run_pipeline, summary_table

    if plan:
        from webtune.cli.train import show_memory_plan

        show_memory_plan(pipeline_file, run_dir, None, {})
        return
    if yes:
        os.environ["WEBTUNE_YES"] = "1"
    pipeline = load_pipeline(pipeline_file)
    if no_resume:
        pipeline = without_resume(pipeline)
    if refresh and pipeline.refresh is None:
        from webtune.refresh.config import RefreshConfig

        pipeline = pipeline.model_copy(update={"refresh": RefreshConfig()})
    if pipeline.refresh is not None:
        refresh_run(pipeline, run_dir or pipeline.resolved_run_dir(), force, from_stage, to_stage)
        return
    where = run_dir or pipeline.resolved_run_dir()
    err_console.print(f"[bold]webtune run[/bold] {pipeline.name} → {where}")
    manifests = run_pipeline(pipeline, where, force=force, from_stage=from_stage, to_stage=to_stage,
                             console=err_console)
    err_console.print(summary_table(manifests))
    from webtune.handoffs import EvalReport

    report = where / "evaluate" / EvalReport.FILE
    if report.is_file():
        # Shown on every run, also when evaluate was skipped as unchanged.
        from webtune.evaluate.report import print_table

        print_table(EvalReport.read(report), err_console)
        err_console.print(f"[dim]report: {where / 'evaluate' / 'report.html'}[/dim]")
    if pipeline.chat.prompt and (to_stage is None or to_stage == "register"):
        from webtune.serve.chat import pipeline_chat_answer

        answer = pipeline_chat_answer(pipeline, where)
        err_console.print(Panel(answer, title=f"chat · {pipeline.chat.prompt[:60]}", border_style="green"))
    if pipeline.export is not None and (where / "export").is_dir():
        from webtune.export.runner import print_exported

        print_exported(where / "export", err_console)  # also when export was skipped as unchanged
    exit_for_promotion(where, pipeline, to_stage)


def exit_for_promotion(where: Path, pipeline: Any, to_stage: str | None) -> None:
    """Exit with NOT_PROMOTED when the run registered a version that promotion was asked for
    but its gates refused (the reason is printed)."""
    from webtune.handoffs import RegistryVersion

    version_file = where / "register" / RegistryVersion.FILE
    if to_stage not in (None, "register", "export") or not pipeline.register_.promote or not version_file.is_file():
        return
    version = RegistryVersion.read(version_file)
    if not version.promoted:
        err_console.print(f"[yellow]not promoted[/yellow]: {version.label}: {version.gates.failed_text()}")
        raise typer.Exit(NOT_PROMOTED)


def refresh_run(pipeline: Any, runs_root: Path, force: bool, from_stage: str | None,
                to_stage: str | None) -> None:
    """`webtune run --refresh`: one refresh run, its summary, and the exit code of its promotion."""
    from webtune.errors import ConfigError
    from webtune.refresh.run import run_refresh

    if from_stage or to_stage:
        raise ConfigError("--from/--to: a refresh run makes a whole version; run it without them "
                          "(single stages: `webtune collect|clean|...`)")
    outcome = run_refresh(pipeline, runs_root, err_console, force=force)
    if outcome.nothing_new:
        raise typer.Exit(PROMOTED)
    from webtune.pipeline import summary_table

    err_console.print(summary_table(outcome.manifests))
    err_console.print(refresh_summary(outcome))
    if not outcome.promoted and pipeline.register_.promote:
        err_console.print(f"[yellow]not promoted[/yellow]: {outcome.registered.label if outcome.registered else ''}: "
                          f"{outcome.refusal()}")
        raise typer.Exit(NOT_PROMOTED)


def refresh_summary(outcome: Any) -> Panel:
    """What the refresh run collected, recognised, trained and decided."""
    from webtune.refresh.tracker import counts_line

    lineage = outcome.lineage
    c = lineage.get("collected", {})
    lines = [f"dataset v{outcome.version}: {counts_line(c)}",
             f"clean: seen before {lineage.get('clean', {}).get('seen_before', 0)} · "
             f"kept {lineage.get('clean', {}).get('kept')}",
             "examples: " + " · ".join(f"{k} {v}" for k, v in lineage.get("examples", {}).items()),
             f"training: {lineage.get('train', {}).get('mode')} from {lineage.get('train', {}).get('from')}"]
    registered = outcome.registered
    if registered is not None:
        verdict = "[green]promoted to production[/green]" if outcome.promoted else "[yellow]not promoted[/yellow]"
        lines.append(f"{registered.label}: {verdict}")
    return Panel("\n".join(lines), title=f"refresh v{outcome.version}", border_style="cyan")


def without_resume(pipeline: Any) -> Any:
    """The pipeline with the local trainer told to start over (a hosted job always reattaches)."""
    if not hasattr(pipeline.train, "resume"):
        err_console.print("[dim]--no-resume: a hosted training job is reattached, not restarted[/dim]")
        return pipeline
    return pipeline.model_copy(update={"train": pipeline.train.model_copy(update={"resume": False})})


def register(app: typer.Typer) -> None:
    app.command("run")(run_command)
