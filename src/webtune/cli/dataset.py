"""`webtune dataset`: clean documents into train/validation/test chat sets, or `--check` a JSONL file."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

import typer
from rich.markup import escape
from rich.table import Table

from webtune.hosted.sunset import DEFAULT_HOSTED_MODEL
from webtune.cli.common import (
    ForceOption,
    InputOption,
    OutputOption,
    PipelineOption,
    RunDirOption,
    console,
    err_console,
    pipeline_for,
    run_stage_command,
)

FORMATS = ("openai", "sharegpt", "alpaca", "hf", "parquet")


def dataset_command(
    pipeline: Optional[Path] = PipelineOption,
    run_dir: Optional[Path] = RunDirOption,
    input_dir: Optional[Path] = InputOption,
    output_dir: Optional[Path] = OutputOption,
    force: bool = ForceOption,
    check: Optional[Path] = typer.Option(None, "--check", help="Validate this chat (or preference) JSONL file "
                                         "instead of building."),
    export: Optional[List[str]] = typer.Option(
        None, "--export", help=f"Export format (repeatable): {', '.join(FORMATS)}. Default: the pipeline's."),
    model: Optional[str] = typer.Option(
        None, "--model", help="--check: count tokens with this base model (default: the pipeline's, if -p)."),
    max_tokens: Optional[int] = typer.Option(None, "--max-tokens", help="--check: longest example allowed."),
    hosted_model: Optional[str] = typer.Option(None, "--hosted-model", help="--check: model priced in the cost estimate."),
    epochs: Optional[float] = typer.Option(None, "--epochs", help="--check: epochs in the cost estimate."),
    inspect: Optional[int] = typer.Option(
        None, "--inspect", min=0, metavar="N",
        help="Show N train examples token by token through the chat template (loss tokens highlighted), "
             "check end-of-turn, truncation and the serve template; HTML to -o or <run-dir>/dataset-inspect.html."),
) -> None:
    """Turn clean documents into validated, split chat training sets (or check a JSONL file)."""
    if inspect is not None:
        ok = inspect_dataset(pipeline, run_dir, inspect, output_dir)
        raise typer.Exit(0 if ok else 1)
    if check is not None:
        ok = check_file(check, pipeline, model, max_tokens, hosted_model, epochs)
        raise typer.Exit(0 if ok else 1)
    overrides: dict[str, Any] = {}
    if export:
        unknown = sorted(set(export) - set(FORMATS))
        if unknown:
            from webtune.errors import ConfigError

            raise ConfigError(f"--export: unknown format {', '.join(unknown)}; choose from {', '.join(FORMATS)}")
        overrides = {"dataset": {"export": {"formats": list(dict.fromkeys(export))}}}
    run_stage_command("dataset", pipeline_path=pipeline, run_dir=run_dir, input_dir=input_dir,
                      output_dir=output_dir, force=force, overrides=overrides)


def inspect_dataset(pipeline_path: Path | None, run_dir: Path | None, show: int, out: Path | None) -> bool:
    """`--inspect`: render ``show`` examples of the run's train split, check them all; True if no problem."""
    from webtune.cli.common import resolve_run_dir
    from webtune.dataset.inspect import end_of_turn_ids, inspect_split, render_html, render_terminal
    from webtune.errors import ConfigError
    from webtune.jsonl import atomic_write_text
    from webtune.models import load_tokenizer, resolve_model

    if pipeline_path is None:
        raise ConfigError("--inspect needs the pipeline (-p FILE): its base model and train settings")
    pipe = pipeline_for(pipeline_path)
    where = resolve_run_dir(pipeline_path, pipe, run_dir)
    base_path = resolve_model(pipe.base_model)
    tokenizer = load_tokenizer(base_path)
    chat_template = getattr(pipe.train, "chat_template", None)
    max_seq_len = getattr(pipe.train, "max_seq_len", None) or tokenizer.model_max_length
    # The trainer saves the base tokenizer (its own template) beside the adapter: that is what serves.
    serve_template = serve_chat_template(where, tokenizer)
    result = inspect_split(where / "dataset" / "train.jsonl", tokenizer, max_seq_len=max_seq_len,
                           chat_template=chat_template, serve_template=serve_template,
                           eot_ids=end_of_turn_ids(tokenizer, base_path), show=show)
    render_terminal(result, console)
    page = out if out is not None and out.suffix == ".html" else (out or where) / "dataset-inspect.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(page, render_html(result))
    console.print(f"HTML: {escape(str(page))}", highlight=False)
    return not result.problems


def serve_chat_template(run_dir: Path, base_tokenizer: Any) -> str | None:
    """The template a served model would use: its saved tokenizer's after training, else the base's."""
    from webtune.handoffs import TrainResult
    from webtune.models import load_tokenizer
    from webtune.serve.loader import TOKENIZER_FILES

    train_dir = run_dir / "train"
    if (train_dir / TrainResult.FILE).is_file():
        adapter, full = TrainResult.read(train_dir).local_dirs(train_dir)
        for candidate in (adapter, full):
            if candidate is not None and any((candidate / f).is_file() for f in TOKENIZER_FILES):
                return getattr(load_tokenizer(candidate), "chat_template", None)
    return getattr(base_tokenizer, "chat_template", None)


def check_file(path: Path, pipeline_path: Path | None, model: str | None, max_tokens: int | None,
               hosted_model: str | None, epochs: float | None) -> bool:
    """Validate ``path``, print every error with its line, the stats and the cost; True if valid."""
    from webtune.dataset.preference import is_preference_file, validate_preference_file
    from webtune.dataset.tokens import TokenCounter
    from webtune.dataset.validate import estimate_cost, validate_file

    hosted = None
    key = "--model"
    if pipeline_path is not None:
        pipe = pipeline_for(pipeline_path)
        key = "--model" if model else f"{pipeline_path}: base_model"
        model = model or pipe.base_model
        max_tokens = max_tokens or pipe.dataset.max_tokens
        hosted = pipe.dataset.hosted
    counter = TokenCounter.for_model(model, key=key) if model else None
    if path.is_file() and is_preference_file(path):  # pairs or KTO records (webtune's, OpenAI's or TRL's)
        report = validate_preference_file(path, tokenizer=counter, max_tokens=max_tokens)
    else:
        report = validate_file(path, tokenizer=counter, max_tokens=max_tokens)
    for kind, issues in (("[red]error[/red]", report.errors), ("[yellow]warning[/yellow]", report.warnings)):
        for issue in issues:
            where = f"{path}:{issue.line}" if issue.line else str(path)
            console.print(f"{kind} {escape(where)}: {escape(issue.field)}: {escape(issue.message)}", soft_wrap=True)
    tokens = report.stats["tokens"]
    table = Table(title=f"{path.name}: {report.n_examples} examples",
                  caption="tokens estimated (no --model)" if report.stats["tokens_estimated"] else f"tokens of {model}")
    for col in ("min", "mean", "p50", "p95", "max", "total"):
        table.add_column(col, justify="right")
    table.add_row(*(str(tokens[c]) for c in ("min", "mean", "p50", "p95", "max", "total")))
    console.print(table)
    cost = estimate_cost(tokens["total"], epochs or (hosted.epochs if hosted else 3),
                         hosted_model or (hosted.model if hosted else DEFAULT_HOSTED_MODEL),
                         hosted.prices if hosted else None)
    if cost["usd"] is not None:
        console.print(f"estimated hosted training cost: ${cost['usd']:.2f} ({cost['model']}, {cost['epochs']} epochs; "
                      f"{cost['note']})")
    if report.ok:
        console.print(f"[green]✓[/green] {escape(str(path))}: valid ({len(report.warnings)} warnings)")
    else:
        err_console.print(f"[bold red]{len(report.errors)} errors[/bold red] in {escape(str(path))}")
    return report.ok


def register(app: typer.Typer) -> None:
    """Add `webtune dataset` (and the old name `webtune build`, hidden, with a deprecation notice)."""
    app.command("dataset")(dataset_command)
    app.command("build", hidden=True, deprecated=True,
                help="Old name of `webtune dataset`.")(dataset_command)
