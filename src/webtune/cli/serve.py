"""`webtune serve`: an OpenAI-compatible chat server for registered, local or hosted models."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, List, Optional

import typer

from webtune.cli.common import err_console
from webtune.errors import InputError
from webtune.extras import require

API_KEY_ENV = "WEBTUNE_API_KEY"


def serve_command(
    model: Optional[List[str]] = typer.Option(None, "--model", help="Model to serve (repeatable): NAME[@VERSION], "
                                              "a directory or an ft: id (default: the only registered model). "
                                              "NAME and NAME@ALIAS follow the alias when it moves."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (off loopback an API key "
                             "is required)."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    registry: Optional[Path] = typer.Option(None, "--registry", help="Registry directory "
                                            "(default: $WEBTUNE_HOME/registry)."),
    api_key_file: Optional[Path] = typer.Option(None, "--api-key-file", help=f"File holding the API key clients "
                                                f"must send, or several, one per line (default: ${API_KEY_ENV}, "
                                                "if set)."),
    max_body_bytes: int = typer.Option(1_048_576, "--max-body-bytes", min=1024, help="Largest request body "
                                       "(bigger: 413)."),
    max_prompt_tokens: Optional[int] = typer.Option(None, "--max-prompt-tokens", min=1, help="Longest prompt "
                                                    "in tokens (default: the model's context)."),
    max_batch: int = typer.Option(8, "--max-batch", min=1, help="Most requests decoded together."),
    engine: str = typer.Option("transformers", "--engine", help="What decodes local models: transformers "
                               "(webtune's dynamic batching, CPU or GPU) or vllm (continuous batching; needs vLLM "
                               "and a CUDA GPU)."),
    shutdown_s: float = typer.Option(10.0, "--shutdown-timeout", min=1, help="On SIGTERM, seconds running "
                                     "requests get to finish."),
    fine_tuning: bool = typer.Option(False, "--fine-tuning", help="Also serve OpenAI's Files and Fine-tuning "
                                     "APIs: jobs train here with webtune's trainer."),
    fine_tuning_config: Optional[Path] = typer.Option(None, "--fine-tuning-config", help="YAML: model_aliases, "
                                                      "train, organization, max_upload_bytes, evaluate."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Where uploads and jobs are kept "
                                            "(default: $WEBTUNE_HOME/fine-tuning)."),
) -> None:
    """Serve /v1/models and /v1/chat/completions (streaming too) for any OpenAI client."""
    from webtune.registry.store import ModelRegistry
    from webtune.serve.server import ServeOptions, serve

    require("webtune serve", "serve", "fastapi", "uvicorn")
    check_engine(engine)
    key = read_api_key(api_key_file)
    check_exposure(host, key)
    check_port(host, port)  # before loading models, which can take minutes
    finetune = _fine_tuning_options(fine_tuning_config, data_dir, ModelRegistry(registry)) if fine_tuning else None
    if finetune is not None and not model:
        from webtune.serve.table import ModelTable

        table = ModelTable(max_batch=max_batch)  # fine-tuned models join as their jobs finish
    else:
        table = load_table(model, ModelRegistry(registry), max_batch, engine)
    for model_id, served in table.entries():
        err_console.print(f"serving {served.label} as {model_id}" + _version_note(served.info), soft_wrap=True,
                          markup=False)
    if finetune is not None:
        err_console.print(f"fine-tuning API on (jobs and uploads in {finetune.data_dir})", markup=False)
    err_console.print(f"listening on http://{host}:{port}/v1" + (" (API key required)" if key else ""),
                      markup=False)
    serve(table, host=host, port=port, options=ServeOptions(
        api_key=key, max_body_bytes=max_body_bytes, max_prompt_tokens=max_prompt_tokens, max_batch=max_batch,
        shutdown_s=shutdown_s, fine_tuning=finetune))


def _fine_tuning_options(config_file: Path | None, data_dir: Path | None, registry: Any) -> Any:
    from webtune.models.home import webtune_home
    from webtune.serve.finetune.config import load_fine_tuning_config
    from webtune.serve.finetune.jobs import FineTuneOptions

    config = load_fine_tuning_config(config_file)
    return FineTuneOptions(data_dir=data_dir or webtune_home() / "fine-tuning", registry=registry,
                           model_aliases=config.model_aliases, train=config.train,
                           organization=config.organization, max_upload_bytes=config.max_upload_bytes,
                           evaluate=config.evaluate)


def _version_note(info: dict[str, Any]) -> str:
    if info.get("version") is None:
        return ""
    follows = f", follows {info['name']}@{info['follows'] or 'production'}" if "follows" in info else ""
    return f" (version {info['version']}{follows})"


def check_engine(engine: str) -> None:
    """A one-line error for an unknown ``--engine``, or for vllm where it cannot run."""
    from webtune.serve.vllm_engine import ENGINES, check_vllm

    if engine not in ENGINES:
        raise InputError(f"--engine {engine}: use one of {', '.join(ENGINES)}")
    if engine == "vllm":
        check_vllm("webtune serve")


def load_table(texts: list[str] | None, registry: Any, max_batch: int, engine: str = "transformers") -> Any:
    """Load each ``--model`` into a `ModelTable`; registry aliases are followed."""
    from functools import partial

    from webtune.registry.store import parse_reference
    from webtune.serve.chat import pick_ref
    from webtune.serve.loader import load_chat_model
    from webtune.serve.table import Follow, ModelTable, Served, make_engine, version_info

    load = partial(load_chat_model, engine=engine)
    table = ModelTable(max_batch=max_batch, loader=load)  # versions an alias moves to load the same way
    names: dict[str, list[Served]] = {}
    for text in texts or [None]:
        ref = pick_ref(text, registry)
        follow = None
        if ref.version and not (text and Path(text).expanduser().is_dir()):
            name, selector = parse_reference(text) if text else (ref.version.name, None)
            if not str(selector or "").lstrip("v").isdigit():
                follow = Follow(registry, name, selector)
                follow.seen = follow.signature()
        with err_console.status(f"loading {ref.label}"):
            chat_model = load(ref)
        served = Served(chat_model, make_engine(chat_model, max_batch),
                        version_info(ref, follow.selector if follow else None), follow)
        if follow is None:
            served.info.pop("follows", None)
        table.add(text or ref.label, served)
        if text and follow and text != ref.label:
            table.add(ref.label, served)  # the exact version's id too; it moves with the alias
        if ref.version:
            names.setdefault(ref.version.name, []).append(served)
    add_name_aliases(table, names)
    return table


def read_api_key(path: Path | None) -> str | None:
    """The API key from ``--api-key-file``, else from $WEBTUNE_API_KEY; None when neither is set."""
    if path is not None:
        try:
            key = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"--api-key-file {path}: cannot read it: {exc}") from None
        if not key:
            raise InputError(f"--api-key-file {path}: the file is empty")
        return key
    return os.environ.get(API_KEY_ENV, "").strip() or None


def is_loopback(host: str) -> bool:
    """Whether every address ``host`` names is a loopback address (only this machine can connect)."""
    import ipaddress
    import socket

    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    try:
        return bool(addresses) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses)
    except ValueError:
        return False


def check_exposure(host: str, key: str | None) -> None:
    """Refuse to listen beyond this machine without an API key."""
    if key is None and not is_loopback(host):
        raise InputError(f"--host {host}: not a loopback address, so clients must send an API key: set "
                         f"${API_KEY_ENV} or pass --api-key-file")


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


def add_name_aliases(table: Any, names: dict) -> None:
    """Also serve a registered version under its bare model name, as `webtune chat --model NAME` takes it.

    Clients ask for the name they registered (``writer``), not the resolved label (``writer@2``);
    the alias is added only when one version of that name is served, so it is never ambiguous.
    """
    for name, served in names.items():
        if len(served) == 1 and table.get(name) is None:
            table.add(name, served[0])


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
