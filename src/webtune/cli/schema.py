"""`webtune schema`: the JSON Schema of the pipeline file, for editors that validate YAML.

    webtune schema -o pipeline.schema.json

then, on the first line of a pipeline file (yaml-language-server, used by VS Code's YAML
extension, Neovim, Helix...):

    # yaml-language-server: $schema=pipeline.schema.json

The schema is generated from the same pydantic models that validate the file at run time
(`webtune.config.PipelineConfig`), so it never disagrees with `webtune run` on key names or
types. Checks that only code can make (a Jinja template's syntax, one of several keys
required together) are still made by webtune when it loads the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer
from rich.markup import escape

from webtune.cli.common import err_console
from webtune.errors import WebtuneError

JSON_SCHEMA_DRAFT = "https://json-schema.org/draft/2020-12/schema"


def pipeline_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a pipeline file, keys spelled as in YAML (``register``)."""
    from webtune.config import PipelineConfig

    schema = PipelineConfig.model_json_schema(by_alias=True)
    _require_tags(schema)
    _accept_metric_names(schema)
    # `$schema` first, so editors and validators know the draft; a title people recognise.
    return {"$schema": JSON_SCHEMA_DRAFT, **schema, "title": "webtune pipeline",
            "description": "A webtune pipeline file; reference: docs/pipeline.md"}


def _require_tags(schema: dict[str, Any]) -> None:
    """Make each union's tag (``kind``, ``step``, ``metric``) required, as pydantic does.

    The generated schema marks the tag optional because each model gives it a default;
    pydantic still needs it in the file to pick the model. The one exception is
    ``train.backend``: `PipelineConfig` fills in ``local`` when it is left out.
    """
    defs = schema.get("$defs", {})
    train = schema.get("properties", {}).get("train", {})
    for node in list(_walk(schema)):  # a list: the loop adds keys to the dicts it walks
        tag = node.get("discriminator", {}).get("propertyName") if isinstance(node, dict) else None
        if tag is None or node is train:
            continue
        for ref in node["discriminator"].get("mapping", {}).values():
            target = defs.get(ref.rsplit("/", 1)[-1])
            if target is not None and tag not in target.setdefault("required", []):
                target["required"].insert(0, tag)


def _accept_metric_names(schema: dict[str, Any]) -> None:
    """``evaluate.metrics`` items may be a bare name (``rouge_l``) as well as a mapping."""
    from webtune.evaluate.metrics import METRICS

    metrics = schema.get("$defs", {}).get("EvaluateConfig", {}).get("properties", {}).get("metrics")
    if metrics and "items" in metrics:
        metrics["items"] = {"anyOf": [{"type": "string", "enum": METRICS.names()}, metrics["items"]]}


def _walk(node: Any):
    """Every dict and list inside a JSON document, depth first."""
    yield node
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    for child in children:
        if isinstance(child, (dict, list)):
            yield from _walk(child)


def schema_command(
    output: Optional[Path] = typer.Option(None, "--output", "-o",
                                          help="Write the schema to this file instead of printing it."),
) -> None:
    """Print the JSON Schema of the pipeline file (or write it with -o), for editor validation."""
    text = json.dumps(pipeline_schema(), indent=2, ensure_ascii=False) + "\n"
    if output is None:
        typer.echo(text, nl=False)
        return
    from webtune.jsonl import atomic_write_text

    try:
        atomic_write_text(output, text)
    except OSError as exc:
        raise WebtuneError(f"{output}: cannot write the schema: {exc.strerror or exc}") from None
    shown = escape(str(output))
    err_console.print(f"[green]✓[/green] wrote the pipeline schema to {shown}; put "
                      f"`# yaml-language-server: $schema={shown}` (a path relative to the pipeline file) "
                      "on its first line to have your editor check it", soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("schema")(schema_command)
