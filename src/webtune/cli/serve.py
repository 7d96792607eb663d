"""`webtune serve`: an OpenAI-compatible chat server for registered, local or hosted models."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from webtune.cli.common import err_console
from webtune.errors import InputError
from webtune.extras import require


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

    require("webtune serve", "serve", "fastapi", "uvicorn")
    check_port(host, port)  # before loading models, which can take minutes
    reg = ModelRegistry(registry)
    models, names = {}, {}
    for text in model or [None]:
        ref = pick_ref(text, reg)
        with err_console.status(f"loading {ref.label}"):
            models[text or ref.label] = load_chat_model(ref)
        if ref.version:
            names.setdefault(ref.version.name, []).append(models[text or ref.label])
    add_name_aliases(models, names)
    err_console.print(f"serving {', '.join(models)} on http://{host}:{port}/v1")
    serve(models, host=host, port=port)


def check_port(host: str, port: int) -> None:
    """Fail in one line when ``host:port`` cannot be listened on (in use, bad address, no permission)."""
    import socket

    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
            sock.bind(address)
    except OSError as exc:
        raise InputError(f"--host/--port: cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def add_name_aliases(models: dict, names: dict) -> None:
    """Also serve a registered version under its bare model name, as `webtune chat --model NAME` takes it.

    Clients ask for the name they registered (``writer``), not the resolved label (``writer@2``);
    the alias is added only when one version of that name is served, so it is never ambiguous.
    """
    for name, served in names.items():
        if len(served) == 1 and name not in models:
            models[name] = served[0]


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
