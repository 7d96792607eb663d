"""`webtune run PIPELINE.yaml`: every stage in order, then one chat answer from the tuned model."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

import typer
from rich.panel import Panel

from webtune.cli.common import err_console


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
) -> None:
    """Run the pipeline's stages in order into runs/<name>/<stage>/, skipping unchanged ones.

    A killed run resumes where it stopped when run again: published stages are skipped, and
    training continues from its last checkpoint (``--no-resume`` starts it over).
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


def without_resume(pipeline: Any) -> Any:
    """The pipeline with the local trainer told to start over (a hosted job always reattaches)."""
    if not hasattr(pipeline.train, "resume"):
        err_console.print("[dim]--no-resume: a hosted training job is reattached, not restarted[/dim]")
        return pipeline
    return pipeline.model_copy(update={"train": pipeline.train.model_copy(update={"resume": False})})


def register(app: typer.Typer) -> None:
    app.command("run")(run_command)
