"""Entry point of the `webtune` command: one sub-command module per stage."""

from __future__ import annotations

import importlib

import typer

from webtune import __version__
from webtune.cli.common import WebtuneGroup, new_app, state

# `webtune --help` lists the commands as the road runs: `run` (the whole road) first, then
# each stage in order, then the tools.
HELP_ORDER = (
    "run", "collect", "clean", "dataset", "train", "evaluate", "register", "chat", "serve", "export",
    "registry", "models", "doctor", "schema", "plugins",
)


class MainGroup(WebtuneGroup):
    order = HELP_ORDER


app = new_app("webtune: web data in, a fine-tuned, evaluated, versioned model out.", cls=MainGroup)

# Each module has `register(app)`, which adds its command or sub-command group.
COMMAND_MODULES = (
    "run", "collect", "clean", "dataset", "train", "evaluate", "registry", "chat", "serve", "export",
    "models", "doctor", "schema", "plugins",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"webtune {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for expected errors too."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """webtune turns web data into a fine-tuned, evaluated, versioned language model."""
    if debug:
        state["debug"] = True


for _name in COMMAND_MODULES:
    importlib.import_module(f"webtune.cli.{_name}").register(app)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # `python -m webtune.cli.main ...`
    main()
