"""`webtune evaluate`: the base model against the tuned one on the held-out split."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

import typer

from webtune.cli.common import err_console, ForceOption, OutputOption, PipelineOption, RunDirOption, run_stage_command


def evaluate_command(
    pipeline: Optional[Path] = PipelineOption,
    run_dir: Optional[Path] = RunDirOption,
    dataset_dir: Optional[Path] = typer.Option(None, "--dataset", help="Build output with test.jsonl "
                                             "(default: <run-dir>/dataset)."),
    train_dir: Optional[Path] = typer.Option(None, "--train", help="Train output with train_result.json "
                                             "(default: <run-dir>/train)."),
    output: Optional[Path] = OutputOption,
    base_model: Optional[str] = typer.Option(None, "--base-model", help="Base model name or path."),
    metric: Optional[List[str]] = typer.Option(None, "--metric", "-m", help="Metric (repeatable): "
                                               "loss, rouge_l, exact_match, length."),
    max_examples: Optional[int] = typer.Option(None, "--max-examples", help="Examples each model answers."),
    max_new_tokens: Optional[int] = typer.Option(None, "--max-new-tokens", help="Longest answer, in tokens."),
    force: bool = ForceOption,
) -> None:
    """Compare base and tuned on held-out examples: loss, ROUGE-L, samples; report.md/html/json."""
    section: dict[str, Any] = {}
    if metric:
        section["metrics"] = list(metric)
    if max_examples is not None:
        section["max_examples"] = max_examples
    if max_new_tokens is not None:
        section["max_new_tokens"] = max_new_tokens
    overrides: dict[str, Any] = {"evaluate": section} if section else {}
    if base_model:
        overrides["base_model"] = base_model
    extra = {"train": train_dir} if train_dir else {}
    manifest = run_stage_command("evaluate", pipeline_path=pipeline, run_dir=run_dir, input_dir=dataset_dir,
                                 output_dir=output, force=force, overrides=overrides, extra_inputs=extra)
    if manifest.skipped:  # still show the figures of the earlier, unchanged evaluation
        from webtune.evaluate.report import print_table
        from webtune.handoffs import EvalReport

        report = Path(output or (Path(manifest.run_dir) / "evaluate")) / EvalReport.FILE
        if report.is_file():
            print_table(EvalReport.read(report), err_console)


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate_command)
