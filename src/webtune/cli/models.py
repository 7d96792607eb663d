"""`webtune models`: prepare the packaged base models offline and list what is prepared."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from webtune.cli.common import console, err_console, new_app

models_app = new_app("Base models: prepare the packaged ones offline, list what is ready.")


@models_app.command("prepare")
def prepare_command(
    name: str = typer.Argument(..., help="A catalog name, e.g. smollm2-135m-instruct."),
    force: bool = typer.Option(False, "--force", help="Convert again even if already prepared."),
    home: Optional[Path] = typer.Option(None, "--home", help="Override $WEBTUNE_HOME."),
) -> None:
    """Turn a packaged GGUF into a transformers checkpoint under $WEBTUNE_HOME/models (once)."""
    from webtune.models import prepare_model

    path = prepare_model(name, home=home, force=force, progress=True)
    err_console.print(f"[green]✓[/green] {name} ready at {path}")


@models_app.command("list")
def list_command(home: Optional[Path] = typer.Option(None, "--home", help="Override $WEBTUNE_HOME.")) -> None:
    """Show the catalog and the prepared models with their size on disk."""
    from webtune.models import list_models

    table = Table(title="webtune models")
    for column in ("name", "source", "prepared", "size", "path"):
        table.add_column(column)
    for row in list_models(home):
        size = f"{row['size_bytes'] / 1e6:.0f} MB" if row["prepared"] else "-"
        table.add_row(row["name"], row["source"], "yes" if row["prepared"] else "no", size, row["path"])
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
