"""The register stage: store the tuned model as a new registry version, promote it if it earns it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table

from webtune.errors import InputError
from webtune.jsonl import atomic_write_json, read_json_object
from webtune.registry.gates import check_gates
from webtune.registry.lineage import build_lineage
from webtune.registry.store import ModelRegistry
from webtune.stage import Counts, StageContext, StageResult


def read_json(path: Path, what: str) -> dict[str, Any]:
    """A JSON object from ``path``; an InputError names the file otherwise."""
    return read_json_object(path, f"{what} not found")


def artifact_of(train_dir: Path, train_result: dict[str, Any]) -> tuple[str, Path | None, str | None]:
    """(kind, directory to copy, hosted model id) of what training produced."""
    where = train_dir / "train_result.json"
    if train_result.get("model_id"):
        return "hosted", None, str(train_result["model_id"])
    for key, kind in (("adapter_dir", "adapter"), ("model_dir", "model")):
        if train_result.get(key):
            path = train_dir / train_result[key]
            if not path.is_dir():
                raise InputError(f"{where}: {key}: {path} is not a directory")
            return kind, path, None
    raise InputError(f"{where}: none of adapter_dir, model_dir, model_id is set")


def registry_for(ctx: StageContext) -> ModelRegistry:
    """The registry the config names, else ``$WEBTUNE_HOME/registry``."""
    return ModelRegistry(ctx.config.path)


def run_register(ctx: StageContext) -> StageResult:
    """Register one version (with lineage and a copy of the artifact), then apply the gates."""
    config = ctx.config
    train_dir = ctx.input("train")
    train_result = read_json(train_dir / "train_result.json", "train result")
    report = read_json(ctx.input("evaluate") / "report.json", "evaluation report") \
        if "evaluate" in ctx.inputs else None
    kind, artifact, model_id = artifact_of(train_dir, train_result)
    name = config.model_name or ctx.pipeline.name
    metrics = (report or {}).get("metrics") or {}
    gates = check_gates(config.promote_if, metrics)
    passed = all(g["passed"] for g in gates)
    record = {
        "kind": kind,
        "model_id": model_id,
        "api": train_result.get("api") if model_id else None,  # where a hosted model answers (no secret)
        "backend": train_result.get("backend"),
        "method": train_result.get("method"),
        "base_model": train_result.get("base_model"),
        "base_model_path": train_result.get("base_model_path"),
        "description": config.description or getattr(ctx.pipeline, "description", ""),
        "pipeline": ctx.pipeline.name,
        "lineage": build_lineage(ctx.run_dir, ctx.inputs, train_result, report),
        "gates": {"checks": gates, "passed": passed},
    }
    registry = registry_for(ctx)
    with ctx.console.status(f"registering {name} in {registry.root}"):
        stored = registry.register(name, record, artifact)
    version = stored["version"]
    promoted = bool(config.promote and passed)
    if promoted:
        registry.promote(name, version, reason="gates passed" if gates else "no gates")
    out = {**stored, "registry": str(registry.root), "promoted": promoted,
           "aliases": registry.get(name, version)["aliases"]}
    atomic_write_json(ctx.output_dir / "version.json", out)
    ctx.console.print(version_panel(out))
    return StageResult(counts=Counts(seen=1, kept=1, rejected=0), stats={
        "model": name, "version": version, "promoted": promoted, "registry": str(registry.root),
        "gates_passed": passed, "kind": kind})


def version_panel(version: dict[str, Any]) -> Table:
    """A small table: the version, where it is, and each gate's verdict."""
    title = f"registered {version['name']}@{version['version']}"
    table = Table(title=title, show_header=True)
    table.add_column("gate")
    table.add_column("result")
    table.add_column("detail")
    for gate in version["gates"]["checks"]:
        table.add_row(gate["gate"], "[green]pass[/green]" if gate["passed"] else "[red]fail[/red]",
                      gate["detail"])
    verdict = "[green]production[/green]" if version.get("promoted") else "[yellow]not promoted[/yellow]"
    table.caption = f"{verdict} · {version['path']}"
    return table
