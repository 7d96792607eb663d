"""`webtune models`: prepare the packaged base models offline and list what is prepared."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from webtune.cli.common import console, err_console, new_app

models_app = new_app("Base models: prepare the packaged ones offline, list what is ready and what "
                     "the Hugging Face Hub offers.")


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
    """Show the packaged and prepared models, then recommended Hub models (nothing is downloaded)."""
    from webtune.models import list_models

    table = Table(title="webtune models")
    for column in ("name", "source", "prepared", "size", "path"):
        table.add_column(column)
    for row in list_models(home):
        size = f"{row['size_bytes'] / 1e6:.0f} MB" if row["prepared"] else "-"
        table.add_row(row["name"], row["source"], "yes" if row["prepared"] else "no", size, row["path"])
    console.print(table)
    console.print(recommended_table())


def recommended_table() -> Table:
    """The recommended Hub instruct models by size, with licence, gating and whether they are cached."""
    from webtune.models.catalog import RECOMMENDED
    from webtune.models.hub import hub_cache

    table = Table(title="recommended Hub models (base_model: <repo>; downloaded on first use)")
    table.caption = "gated: accept the licence on the model's Hub page, then set HF_TOKEN"
    for column in ("repo", "params", "bf16 weights", "licence", "gated", "cached"):
        table.add_column(column, no_wrap=True)
    table.add_column("note")
    cache = hub_cache()
    for model in sorted(RECOMMENDED, key=lambda m: m.parameters_b):
        cached = (cache / f"models--{model.repo.replace('/', '--')}" / "snapshots").is_dir()
        params = f"{model.parameters_b * 1000:.0f}M" if model.parameters_b < 1 else f"{model.parameters_b:.1f}B"
        table.add_row(model.repo, params, f"{model.bf16_gb:.1f} GB", model.license,
                      "[yellow]gated[/yellow]" if model.gated else "open", "yes" if cached else "no",
                      model.note)
    return table


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
