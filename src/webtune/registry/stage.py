"""The register stage: store the tuned model as a new registry version, promote it if it earns it."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from webtune import faults
from webtune.handoffs import EvalReport, GateResults, RegistryVersion, TrainResult
from webtune.registry.gates import check_gates
from webtune.registry.lineage import build_lineage
from webtune.registry.store import ModelRegistry
from webtune.stage import Counts, StageContext, StageResult


def artifact_of(train_dir: Path, train_result: TrainResult) -> tuple[str, Path | None, str | None]:
    """(kind, directory to copy, hosted model id) of what training produced."""
    if train_result.hosted:
        return "hosted", None, train_result.model_id
    kind, path = train_result.artifact(train_dir)
    return kind, path, None


def registry_for(ctx: StageContext) -> ModelRegistry:
    """The registry the config names, else ``$WEBTUNE_HOME/registry``."""
    return ModelRegistry(ctx.config.path)


def run_register(ctx: StageContext) -> StageResult:
    """Register one version (with lineage and a copy of the artifact), then apply the gates.

    Idempotent: the version's identity is the stage's fingerprint, so running it again on the
    same inputs and settings (after a kill, or with ``--force``) returns the version already
    registered, and promotes it only if it is not in production yet.

    The pipeline's name and description come from ``ctx.shared`` (see `webtune.pipeline`).
    """
    config = ctx.config
    train_dir = ctx.input("train")
    train_result = TrainResult.read(train_dir)
    report = EvalReport.read(ctx.input("evaluate")) if "evaluate" in ctx.inputs else None
    kind, artifact, model_id = artifact_of(train_dir, train_result)
    pipeline_name = ctx.shared.get("name")
    name = config.model_name or pipeline_name
    gates = check_gates(config.promote_if, report)
    passed = all(g.passed for g in gates)
    record = {
        "kind": kind,
        "model_id": model_id,
        "api": train_result.api if model_id else None,  # where a hosted model answers (no secret)
        "backend": train_result.backend,
        "method": train_result.method,
        "base_model": train_result.base_model,
        "base_model_path": train_result.base_model_path,
        "description": config.description or ctx.shared.get("description", ""),
        "pipeline": pipeline_name,
        "lineage": build_lineage(ctx.run_dir, ctx.inputs, train_result, report),
        "gates": GateResults(checks=gates, passed=passed),
        "refresh": refresh_record(ctx.shared.get("refresh"), report),
    }
    registry = registry_for(ctx)
    with ctx.console.status(f"registering {name} in {registry.root}"):
        # The fingerprint as identity: a rerun (after a kill at any point) finds its version.
        stored = registry.register(name, record, artifact, identity=ctx.fingerprint or None)
    version = stored.version
    if any(run.backend == "mlflow" for run in train_result.tracking):
        from webtune.tracking import tag_runs

        tag_runs(train_result.tracking, {"webtune.registry_version": stored.label,
                                         "webtune.registry": str(registry.root)})
    promoted = bool(config.promote and passed)
    faults.point("register.before_promote")
    if promoted and registry.production(name) != version:
        registry.promote(name, version, reason="gates passed" if gates else "no gates")
    faults.point("register.after_promote")
    out = stored.model_copy(update={"registry": str(registry.root), "promoted": promoted,
                                    "aliases": registry.get(name, version).aliases})
    out.write(ctx.output_dir / RegistryVersion.FILE)
    ctx.console.print(version_panel(out))
    return StageResult(counts=Counts(seen=1, kept=1, rejected=0), stats={
        "model": name, "version": version, "promoted": promoted, "registry": str(registry.root),
        "gates_passed": passed, "kind": kind})


def refresh_record(settings: dict | None, report: EvalReport | None) -> dict | None:
    """A refresh run's facts for the version: dataset version, training mode, the champion."""
    if not settings:
        return None
    champion = report.champion if report is not None else None
    return {"dataset_version": settings["version"], "history": settings["history"], "train": settings["train"],
            "champion": champion.champion if champion is not None else None}


def version_panel(version: RegistryVersion) -> Table:
    """A small table: the version, where it is, and each gate's verdict."""
    title = f"registered {version.label}"
    table = Table(title=title, show_header=True)
    table.add_column("gate")
    table.add_column("result")
    table.add_column("detail")
    for gate in version.gates.checks:
        table.add_row(gate.gate, "[green]pass[/green]" if gate.passed else "[red]fail[/red]", gate.detail)
    verdict = "[green]production[/green]" if version.promoted else "[yellow]not promoted[/yellow]"
    table.caption = f"{verdict} · {version.path}"
    return table
