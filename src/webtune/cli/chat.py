"""`webtune chat`: one answer with --prompt, else an interactive chat (answers stream in)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from webtune.cli.common import err_console

ModelOption = typer.Option(None, "--model", help="NAME[@VERSION] from the registry, a model/adapter/version "
                           "directory, or a hosted ft:... id (default: the only registered model).")


def chat_command(
    model: Optional[str] = ModelOption,
    prompt: Optional[str] = typer.Option(None, "--prompt", help="Answer this once and exit."),
    system: Optional[str] = typer.Option(None, "--system", help="System message."),
    max_new_tokens: int = typer.Option(256, "--max-new-tokens", min=1, help="Longest answer, in tokens."),
    registry: Optional[Path] = typer.Option(None, "--registry", help="Registry directory "
                                            "(default: $WEBTUNE_HOME/registry)."),
) -> None:
    """Chat with a registered (or any local or hosted) model."""
    from webtune.registry.store import ModelRegistry
    from webtune.serve.chat import answer_once, repl

    reg = ModelRegistry(registry)
    if prompt is not None:
        answer_once(model, prompt, system, max_new_tokens, reg)
    else:
        repl(model, system, max_new_tokens, reg, err_console)


def register(app: typer.Typer) -> None:
    app.command("chat")(chat_command)
