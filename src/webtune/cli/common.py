"""What every command shares: consoles, error handling and running one stage from options."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from webtune.config import PipelineConfig, deep_merge, load_pipeline, validate_pipeline
from webtune.errors import ConfigError, WebtuneError
from webtune.extras import missing_extra_error
from webtune.handoffs import Manifest

console = Console()
err_console = Console(stderr=True)
state = {"debug": bool(os.environ.get("WEBTUNE_DEBUG"))}

PipelineOption = typer.Option(None, "--pipeline", "-p", help="Pipeline YAML file to take settings from.")
RunDirOption = typer.Option(None, "--run-dir", help="Run directory (default: runs/<pipeline name>).")
InputOption = typer.Option(None, "--input", "-i", help="Input store (default: the previous stage in the run directory).")
OutputOption = typer.Option(None, "--output", "-o", help="Output directory (default: <run-dir>/<stage>).")
ForceOption = typer.Option(False, "--force", help="Rerun even if inputs and config did not change.")


def escape_help(command: Any) -> Any:
    """Escape the help texts of ``command`` and its options once, so that rich shows them as written.

    Typer renders help with rich markup, which reads ``NAME[@VERSION]`` as a tag and drops it;
    escaped, the brackets show. Every command passes through here on its way to --help.
    """
    if command is None or getattr(command, "_help_escaped", False):
        return command
    for param in getattr(command, "params", []):
        if getattr(param, "help", None):
            param.help = escape(param.help)
    for attr in ("help", "short_help"):
        if getattr(command, attr, None):
            setattr(command, attr, escape(getattr(command, attr)))
    command._help_escaped = True
    return command


class WebtuneGroup(TyperGroup):
    """A click group that turns expected errors into one clear line and an exit code."""

    # Names listed first, in this order, by --help; the others follow as registered. Typer
    # itself lists plain commands before sub-command groups, whatever the order they were added.
    order: tuple[str, ...] = ()

    def list_commands(self, ctx) -> list[str]:  # noqa: D401 - click API
        names = super().list_commands(ctx)
        rank = {name: i for i, name in enumerate(self.order)}
        return sorted(names, key=lambda name: (rank.get(name, len(rank)), names.index(name)))

    def get_command(self, ctx, cmd_name):  # noqa: D401 - click API
        return escape_help(super().get_command(ctx, cmd_name))

    def format_help(self, ctx, formatter):  # noqa: D401 - click API
        escape_help(self)
        return super().format_help(ctx, formatter)

    def invoke(self, ctx):  # noqa: D401 - click API
        try:
            return super().invoke(ctx)
        except WebtuneError as exc:
            self._fail(exc)
        except ModuleNotFoundError as exc:
            # An optional library that no `Needs` declared: still one line naming the extra.
            missing = missing_extra_error(exc, _command_name(ctx))
            if missing is None or state["debug"]:
                raise
            self._fail(missing)
        except KeyboardInterrupt:
            if state["debug"]:
                raise
            err_console.print("[yellow]interrupted[/yellow]: partial output was discarded; "
                              "run the same command again to resume")
            raise typer.Exit(130) from None

    @staticmethod
    def _fail(exc: WebtuneError) -> None:
        if state["debug"]:
            raise exc
        err_console.print(f"[bold red]error:[/bold red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None


def _command_name(ctx) -> str:
    """``webtune <sub command>`` for the command being run (whatever the program was called)."""
    words = ctx.command_path.split()[1:] + ([ctx.invoked_subcommand] if ctx.invoked_subcommand else [])
    return " ".join(["webtune", *words])


def new_app(help_text: str, cls: type[WebtuneGroup] = WebtuneGroup) -> typer.Typer:
    """A typer app (or sub-app) with webtune's error handling (``cls``: a `WebtuneGroup`)."""
    return typer.Typer(help=help_text, cls=cls, no_args_is_help=True,
                       pretty_exceptions_enable=False, add_completion=False)


def pipeline_for(pipeline_path: Path | None, overrides: dict[str, Any] | None = None,
                 default_name: str = "adhoc") -> PipelineConfig:
    """The pipeline from a YAML file (with ``overrides``), or one made of defaults and overrides."""
    if pipeline_path is not None:
        return load_pipeline(pipeline_path, overrides=overrides)
    data = deep_merge({"name": default_name}, overrides or {})
    return validate_pipeline(data, source="command-line options", base_dir=Path.cwd())


def resolve_run_dir(pipeline_path: Path | None, pipeline: PipelineConfig, run_dir: Path | None,
                    input_dir: Path | None = None, output_dir: Path | None = None) -> Path:
    """Where a single stage runs: --run-dir, the pipeline's run dir, or next to --output/--input."""
    if run_dir is not None:
        return run_dir
    if pipeline_path is not None:
        return pipeline.resolved_run_dir()
    if output_dir is not None:
        return output_dir.parent
    if input_dir is not None:
        return input_dir.parent
    raise ConfigError("say where to run: give --pipeline FILE, --run-dir DIR or --output DIR")


def run_stage_command(stage: str, *, pipeline_path: Path | None, run_dir: Path | None,
                      input_dir: Path | None = None, output_dir: Path | None = None, force: bool = False,
                      overrides: dict[str, Any] | None = None,
                      extra_inputs: dict[str, Path] | None = None) -> Manifest:
    """Run one stage from command-line options and print its summary; return its manifest."""
    from webtune.pipeline import run_one_stage, stage_spec, stage_summary

    spec = stage_spec(stage)
    default_name = (run_dir or (output_dir.parent if output_dir else None) or Path("adhoc")).name
    pipeline = pipeline_for(pipeline_path, overrides, default_name=default_name or "adhoc")
    where = resolve_run_dir(pipeline_path, pipeline, run_dir, input_dir, output_dir)
    if input_dir is not None and input_dir.is_file():
        raise ConfigError(f"--input {input_dir}: give a stage directory (holding manifest.json), not a file")
    inputs = dict(extra_inputs or {})
    if input_dir is not None and spec.inputs:
        inputs[spec.inputs[0]] = input_dir
    manifest = run_one_stage(spec, pipeline, where, inputs=inputs, output_dir=output_dir,
                             force=force, console=err_console)
    err_console.print(stage_summary(manifest))
    return manifest
