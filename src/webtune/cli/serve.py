"""`webtune serve`: an OpenAI-compatible chat server for registered, local or hosted models."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from webtune.cli.common import err_console


def serve_command(
    model: Optional[List[str]] = typer.Option(None, "--model", help="Model to serve (repeatable): NAME[@VERSION], "
                                              "a directory or an ft: id (default: the only registered model)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    registry: Optional[Path] = typer.Option(None, "--registry", help="Registry directory "
                                            "(default: $WEBTUNE_HOME/registry)."),
) -> None:
    """Serve /v1/models and /v1/chat/completions (streaming too) for any OpenAI client."""
    from webtune.registry.store import ModelRegistry
    from webtune.serve.chat import pick_ref
    from webtune.serve.loader import load_chat_model
    from webtune.serve.server import serve

    reg = ModelRegistry(registry)
    models = {}
    for text in model or [None]:
        ref = pick_ref(text, reg)
        with err_console.status(f"loading {ref.label}"):
            models[text or ref.label] = load_chat_model(ref)
    err_console.print(f"serving {', '.join(models)} on http://{host}:{port}/v1")
    serve(models, host=host, port=port)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
