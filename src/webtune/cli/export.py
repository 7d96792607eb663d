"""`webtune export MODEL --format gguf|ollama|hf -o DIR`: the model where models run, with a round-trip proof."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

import typer

from webtune.cli.common import console, err_console


def export_command(
    model: str = typer.Argument(..., help="Model reference: NAME, NAME@N, NAME@alias, or a directory "
                                "(a registry version, an adapter or a model)."),
    formats: List[str] = typer.Option(..., "--format", "-f", help="gguf, ollama or hf (repeatable; "
                                      "gguf,ollama also works)."),
    output: Path = typer.Option(..., "--output", "-o", help="Directory to write (one sub-directory per format "
                                "when several are given)."),
    quantizations: Optional[List[str]] = typer.Option(None, "--quant", "-q", help="GGUF quantization (repeatable): "
                                                      "f16, q8_0 (default: both)."),
    max_prompts: int = typer.Option(8, "--max-prompts", min=1, help="Test prompts the round trip answers."),
    max_new_tokens: int = typer.Option(32, "--max-new-tokens", min=1, help="Greedy tokens per round-trip answer."),
    registry: Optional[Path] = typer.Option(None, "--registry", help="Registry directory "
                                            "(default: $WEBTUNE_HOME/registry)."),
) -> None:
    """Export merged weights as GGUF (f16, q8_0), an Ollama Modelfile or a transformers directory with a
    model card; every GGUF is reloaded by an independent reader and must answer like the merged model."""
    from webtune.export.runner import files_table, record_exports, run_exports
    from webtune.export.source import ExportSource
    from webtune.registry.store import ModelRegistry

    from webtune.errors import ConfigError
    from webtune.export import EXPORTERS

    names = [name.strip() for text in formats for name in text.split(",") if name.strip()]
    for name in names:
        try:
            EXPORTERS.backend(name)  # an unknown name: one line with the choices (and a close match)
        except ConfigError as exc:
            raise ConfigError(f"--format: {exc}") from None
    items = []
    for name in dict.fromkeys(names):
        item = {"format": name}
        if name == "gguf" and quantizations:
            item["quantizations"] = list(quantizations)
        if name == "ollama" and quantizations:
            item["quantization"] = quantizations[-1]
        items.append(item)
    config = _validated(items)
    source = ExportSource.open(model, ModelRegistry(registry), max_prompts=max_prompts,
                               max_new_tokens=max_new_tokens)
    single = len(config.formats) == 1
    outputs = run_exports(source, config.formats, lambda fmt: output if single else output / fmt, err_console)
    console.print(files_table(outputs))
    if record_exports(source, outputs):
        err_console.print(f"recorded on {source.label} (webtune registry show {source.label} --json)")


def _validated(items: list[dict]) -> Any:
    """The formats as an `ExportConfig`; a bad name or option is a one-line ConfigError naming it."""
    from pydantic import ValidationError

    from webtune.errors import ConfigError
    from webtune.export.config import ExportConfig
    from webtune.handoffs import validation_summary

    try:
        return ExportConfig(formats=items)
    except ValidationError as exc:
        raise ConfigError(f"--format/--quant: {validation_summary(exc)}") from None


def register(app: typer.Typer) -> None:
    app.command("export")(export_command)
