"""`webtune registry` (skeleton; its issue fills it in)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("registry")
    def _placeholder() -> None:
        """Not built yet."""
        raise typer.Exit(1)
