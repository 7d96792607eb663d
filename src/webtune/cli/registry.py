"""`webtune register` (the stage) and `webtune registry list|show|promote|rollback|diff`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from webtune.cli.common import (
    ForceOption, OutputOption, PipelineOption, RunDirOption, console, err_console, new_app, pipeline_for,
    run_stage_command,
)
from webtune.handoffs import Manifest, RegistryVersion

RegistryOption = typer.Option(None, "--registry", help="Registry directory (default: $WEBTUNE_HOME/registry).")


def _registry(path: Optional[Path]):
    from webtune.registry.store import ModelRegistry

    return ModelRegistry(path)


def register_command(
    pipeline: Optional[Path] = PipelineOption,
    run_dir: Optional[Path] = RunDirOption,
    train_dir: Optional[Path] = typer.Option(None, "--train", help="Train output (default: <run-dir>/train)."),
    evaluate_dir: Optional[Path] = typer.Option(None, "--evaluate", help="Evaluate output "
                                                "(default: <run-dir>/evaluate)."),
    output: Optional[Path] = OutputOption,
    model_name: Optional[str] = typer.Option(None, "--name", help="Model name (default: the pipeline name)."),
    registry: Optional[Path] = RegistryOption,
    force: bool = ForceOption,
) -> None:
    """Register the tuned model as a new version (with lineage); promote it if the gates pass."""
    section: dict[str, Any] = {}
    if model_name:
        section["model_name"] = model_name
    if registry:
        section["path"] = str(registry.resolve())
    extra = {k: v for k, v in (("train", train_dir), ("evaluate", evaluate_dir)) if v is not None}
    overrides = {"register": section} if section else None
    manifest = run_stage_command("register", pipeline_path=pipeline, run_dir=run_dir, output_dir=output,
                                 force=force, overrides=overrides, extra_inputs=extra)
    if manifest.skipped and not _still_registered(manifest, pipeline, overrides):
        err_console.print("[yellow]register[/yellow]: the version of the earlier, unchanged run is not in this "
                          "registry (another $WEBTUNE_HOME, or it was deleted); registering it again")
        run_stage_command("register", pipeline_path=pipeline, run_dir=run_dir, output_dir=output, force=True,
                          overrides=overrides, extra_inputs=extra)


def _still_registered(manifest: Manifest, pipeline: Optional[Path], overrides: Optional[dict]) -> bool:
    """Whether a skipped register run's version is in the registry this command would write to.

    The registry lives outside the run directory, so the stage fingerprint cannot see it move
    ($WEBTUNE_HOME) or lose the version; skipping then would register nothing.
    """
    stats = manifest.stats
    if not stats.get("model") or not stats.get("version"):
        return True
    config = pipeline_for(pipeline, overrides).register_
    registry = _registry(config.path)
    return (Path(stats.get("registry", "")).resolve() == registry.root.resolve()
            and int(stats["version"]) in registry.version_numbers(stats["model"]))


def _metric(version: RegistryVersion, model: str, key: str) -> str:
    value = version.lineage.eval_figure(model, key)
    return "—" if value is None else f"{value:.4f}"


def list_command(name: Optional[str] = typer.Argument(None, help="A model name (default: all)."),
                 registry: Optional[Path] = RegistryOption) -> None:
    """Registered models, or the versions of one model."""
    reg = _registry(registry)
    if name is None:
        table = Table(title=f"models · {reg.root}")
        for column in ("name", "versions", "production", "latest", "created"):
            table.add_column(column)
        for model in reg.names():
            latest = reg.get(model, "latest")
            table.add_row(model, str(len(reg.version_numbers(model))), str(reg.production(model) or "—"),
                          str(latest.version), str(latest.created_at))
        console.print(table)
        return
    reg.resolve(name)  # an unknown name is an error naming the registered ones
    table = Table(title=f"{name} · {reg.root}")
    for column in ("version", "aliases", "kind", "base model", "created", "loss base→tuned", "rouge_l tuned",
                   "gates"):
        table.add_column(column)
    for v in reg.versions(name):
        gates = "[green]pass[/green]" if v.gates.passed else "[red]fail[/red]"
        table.add_row(str(v.version), ", ".join(v.aliases), v.kind, str(v.base_model),
                      str(v.created_at), f"{_metric(v, 'base', 'loss')} → {_metric(v, 'tuned', 'loss')}",
                      _metric(v, "tuned", "rouge_l"), gates)
    console.print(table)


def show_command(ref: str = typer.Argument(..., help="NAME or NAME@VERSION."),
                 registry: Optional[Path] = RegistryOption,
                 as_json: bool = typer.Option(False, "--json", help="Print the version record as JSON.")) -> None:
    """One version: where it is, what it was made from, its figures and gates."""
    from webtune.registry.store import parse_reference

    name, selector = parse_reference(ref)
    version = _registry(registry).get(name, selector)
    if as_json:
        console.print_json(json.dumps(version.to_json(), default=str))
        return
    lineage = version.lineage
    table = Table(title=version.label, show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    rows = [("aliases", ", ".join(version.aliases) or "—"), ("kind", version.kind),
            ("created", version.created_at), ("path", version.path),
            ("model id", version.model_id or "—"), ("base model", version.base_model),
            ("weights sha256", version.weights_sha256 or "—"), ("run", lineage.run_dir)]
    for stage, info in lineage.stages.items():
        rows.append((f"stage {stage}", f"{(info.fingerprint or '')[:16]} · {info.finished_at}"))
    for split, digest in lineage.data.get("dataset", {}).items():
        rows.append((f"data {split}", digest[:16]))
    for key, value in lineage.train_metrics.items():
        rows.append((f"train {key}", str(value)))
    for key in sorted({*lineage.eval_metrics.get("base", {}), *lineage.eval_metrics.get("tuned", {})}):
        rows.append((f"eval {key}", f"base {_metric(version, 'base', key)} · tuned {_metric(version, 'tuned', key)}"))
    for gate in version.gates.checks:
        mark = "[green]pass[/green]" if gate.passed else "[red]fail[/red]"
        rows.append((f"gate {gate.gate}", f"{mark} {gate.detail}"))
    for export in version.exports:
        proof = ", ".join(f"{q} {'pass' if r.get('passed') else 'FAIL'}" for q, r in export.roundtrip.items())
        rows.append((f"export {export.format}", f"{export.path}" + (f" · round trip {proof}" if proof else "")))
    for field, value in rows:
        table.add_row(field, str(value))
    console.print(table)


def promote_command(ref: str = typer.Argument(..., help="NAME@VERSION to make production."),
                    registry: Optional[Path] = RegistryOption,
                    force: bool = typer.Option(False, "--force", help="Promote even a version whose gates "
                                               "failed.")) -> None:
    """Point `production` at a version; one whose gates failed needs --force."""
    from webtune.errors import ConfigError
    from webtune.registry.store import parse_reference

    name, selector = parse_reference(ref)
    if selector is None:
        raise ConfigError(f"{ref!r}: say which version, e.g. {name}@3")
    state = _registry(registry).promote(name, selector, reason="manual (forced)" if force else "manual",
                                        force=force)
    forced = " [yellow](forced past failed gates)[/yellow]" if state["events"][-1].get("forced") else ""
    console.print(f"[green]✓[/green] {name}: production → v{state['aliases']['production']}{forced}")


def rollback_command(name: str = typer.Argument(..., help="Model name."),
                     registry: Optional[Path] = RegistryOption) -> None:
    """Move `production` back to the version promoted before the current one."""
    state = _registry(registry).rollback(name)
    event = state["events"][-1]
    console.print(f"[green]✓[/green] {name}: production v{event['from']} → v{event['version']}")


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` → ``{"a.b": 1}`` (lists kept whole), for diffs."""
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for key, value in obj.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: obj}


def diff_refs(reg: Any, a: str, b: str) -> tuple[tuple[str, str], tuple[str, str]]:
    """(name, selector) of both sides of a diff: ``NAME@1 NAME@2``, ``NAME@1 2``, or ``1 2``.

    A bare version takes the other side's name, else the only registered model's name.
    """
    from webtune.errors import ConfigError
    from webtune.registry.store import parse_reference

    def named(text: str) -> tuple[str, str] | None:
        if text.lstrip("v").isdigit():
            return None
        name, selector = parse_reference(text)
        return name, selector or str(reg.resolve(name))

    left, right = named(a), named(b)
    default = (left or right or (None,))[0]
    if default is None:
        names = reg.names()
        if len(names) != 1:
            raise ConfigError(f"diff {a} {b}: bare version numbers need exactly one model in the registry "
                              f"{reg.root} (found: {', '.join(names) or 'none'}); write NAME@{a} NAME@{b}")
        default = names[0]
    return left or (default, a), right or (default, b)


# Sections of a diff, in the order shown: the first whose prefix matches a field names its row.
DIFF_SECTIONS = (("weights", ("weights_sha256", "kind", "base_model", "artifact", "model_id")),
                 ("data", ("lineage.data.",)), ("metrics", ("lineage.eval_metrics.", "lineage.train_metrics.")),
                 ("gates", ("gates.",)), ("config", ("lineage.stages.",)), ("exports", ("exports",)))


def diff_section(key: str) -> str:
    """Which section (weights, data, metrics, gates, config, exports, other) a flattened field is in."""
    for section, prefixes in DIFF_SECTIONS:
        if any(key == p or key.startswith(p) for p in prefixes):
            return section
    return "other"


def version_differences(left: RegistryVersion, right: RegistryVersion) -> list[tuple[str, str, Any, Any]]:
    """(section, field, left value, right value) of every field that differs, by section."""
    skip = ("created_at", "path", "version", "aliases")
    flat_a, flat_b = flatten(left.to_json()), flatten(right.to_json())
    rows = [(diff_section(key), key, flat_a.get(key), flat_b.get(key))
            for key in set(flat_a) | set(flat_b)
            if not (key in skip or key.endswith("finished_at") or flat_a.get(key) == flat_b.get(key))]
    order = [name for name, _ in DIFF_SECTIONS] + ["other"]
    return sorted(rows, key=lambda row: (order.index(row[0]), row[1]))


def diff_command(a: str = typer.Argument(..., help="NAME@VERSION, or a bare number when one model exists."),
                 b: str = typer.Argument(..., help="NAME@VERSION, or a bare number."),
                 registry: Optional[Path] = RegistryOption) -> None:
    """What differs between two versions: weights hash, data, config, metrics."""
    reg = _registry(registry)
    (name_a, sel_a), (name_b, sel_b) = diff_refs(reg, a, b)
    left, right = reg.get(name_a, sel_a), reg.get(name_b, sel_b)
    rows = version_differences(left, right)
    table = Table(title=f"diff {left.label} ↔ {right.label}")
    for column in ("section", "field", left.label, right.label):
        table.add_column(column, overflow="fold")
    for section, key, value_a, value_b in rows:
        table.add_row(section, key, _short(value_a), _short(value_b))
    if left.weights_sha256 is None or right.weights_sha256 is None:
        same = "weights not comparable (a version without a recorded hash: hosted, or registered before hashes)"
    else:
        same = "same weights" if left.weights_sha256 == right.weights_sha256 else "different weights"
    console.print(table if rows else f"{left.label} and {right.label} have the same weights, lineage, config "
                  "and metrics")
    if rows:
        console.print(f"{same} (sha256 {str(left.weights_sha256)[:12]} vs {str(right.weights_sha256)[:12]})"
                      if "comparable" not in same else same)


def _short(value: Any) -> str:
    text = "—" if value is None else (f"{value:.4f}" if isinstance(value, float) else json.dumps(value, default=str)
                                      if not isinstance(value, str) else value)
    return text if len(text) <= 80 else text[:77] + "..."


def register(app: typer.Typer) -> None:
    app.command("register")(register_command)
    group = new_app("The model registry: versions with lineage, production alias, rollback.")
    group.command("list")(list_command)
    group.command("show")(show_command)
    group.command("promote")(promote_command)
    group.command("rollback")(rollback_command)
    group.command("diff")(diff_command)
    app.add_typer(group, name="registry")
