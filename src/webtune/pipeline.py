"""Run the stages of a pipeline in order, each through the stage contract (`webtune.stage`).

The CLI and the YAML runner only call `run_pipeline` and `run_one_stage`; each stage's
work lives in ``webtune.<stage>.stage``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from rich.console import Console
from rich.table import Table

from webtune.config import PipelineConfig
from webtune.errors import ConfigError, InputError
from webtune.handoffs import Manifest
from webtune.stage import StageFn, read_manifest, run_stage


@dataclass(frozen=True)
class StageSpec:
    """How the runner calls a stage: its function, the stages it reads, its config section.

    ``section`` and ``shared`` are all the settings the stage function gets (``ctx.config``
    and ``ctx.shared``) and both are fingerprinted: a setting a stage uses but does not
    declare here would not rerun it when changed.
    """

    name: str
    target: str  # "module:function", imported only when the stage runs (torch is slow to import)
    inputs: tuple[str, ...] = ()
    section: Callable[[PipelineConfig], Any] = lambda p: None
    shared: Callable[[PipelineConfig], dict[str, Any]] = lambda p: {}
    external_inputs: Callable[[PipelineConfig], list[Path]] = field(default=lambda p: [])
    optional: bool = False  # skipped by `run_pipeline` when the pipeline has no section for it

    def function(self) -> StageFn:
        module, func = self.target.split(":")
        return getattr(importlib.import_module(module), func)


def _source_files(p: PipelineConfig) -> list[Path]:
    """Local files a pipeline's sources read, so a changed file reruns collect."""
    found: list[Path] = []
    for source in p.sources:
        getter = getattr(source, "input_paths", None)
        if getter is not None:
            found.extend(getter())
    return found


def _train_shared(p: PipelineConfig) -> dict[str, Any]:
    """Base model and seed; a hosted job also names itself after the pipeline and prices its cost
    with ``dataset.hosted.prices`` (so changing them reruns train, which reattaches to its job)."""
    shared: dict[str, Any] = {"base_model": p.base_model, "seed": p.seed}
    if getattr(p.train, "backend", "local") == "openai":
        shared.update(name=p.name, prices=dict(p.dataset.hosted.prices))
    return shared


def _evaluate_shared(p: PipelineConfig) -> dict[str, Any]:
    """The base model, and the general sets mixed into training (the forgetting check scores them);
    in a refresh run with a model in production, that model and the frozen benchmark."""
    shared: dict[str, Any] = {"base_model": p.base_model}
    if p.dataset.mix:  # only when there are some: other pipelines keep their fingerprints
        shared["general_sets"] = [str(m.path) for m in p.dataset.mix]
    if p.refresh is not None:
        from webtune.refresh.settings import champion_settings

        champion = champion_settings(p)
        if champion is not None:
            shared["champion"] = champion
    return shared


def _refresh_shared(p: PipelineConfig) -> dict[str, Any]:
    """In a refresh run: the history store and the version being made (nothing otherwise, so
    other pipelines keep their fingerprints)."""
    if p.refresh is None:
        return {}
    from webtune.refresh.settings import refresh_settings

    return {"refresh": refresh_settings(p)}


def _register_shared(p: PipelineConfig) -> dict[str, Any]:
    """The registry's resolved location is part of the fingerprint: a moved registry re-registers."""
    from webtune.registry.store import ModelRegistry

    return {"name": p.name, "description": p.description, "base_model": p.base_model,
            "registry": str(ModelRegistry(p.register_.path).root), **_refresh_shared(p)}


STAGES: tuple[StageSpec, ...] = (
    StageSpec("collect", "webtune.collect.stage:run_collect", (),
              section=lambda p: p.collect_config(), external_inputs=_source_files, shared=_refresh_shared),
    StageSpec("clean", "webtune.clean.stage:run_clean", ("collect",), section=lambda p: p.clean,
              shared=_refresh_shared),
    StageSpec("dataset", "webtune.dataset.stage:run_dataset", ("clean",), section=lambda p: p.dataset,
              shared=lambda p: {"base_model": p.base_model, "seed": p.seed, **_refresh_shared(p)},
              external_inputs=lambda p: p.dataset.input_paths()),
    StageSpec("train", "webtune.train.stage:run_train", ("dataset",), section=lambda p: p.train,
              shared=_train_shared),
    StageSpec("evaluate", "webtune.evaluate.stage:run_evaluate", ("dataset", "train"),
              section=lambda p: p.evaluate, shared=_evaluate_shared),
    StageSpec("register", "webtune.registry.stage:run_register", ("dataset", "train", "evaluate"),
              section=lambda p: p.register_, shared=_register_shared),
    StageSpec("export", "webtune.export.stage:run_export", ("register",), section=lambda p: p.export,
              shared=_register_shared, optional=True),
)
STAGE_NAMES = tuple(spec.name for spec in STAGES)


def stage_spec(name: str) -> StageSpec:
    """The spec of stage ``name``; a ConfigError lists the stage names otherwise."""
    for spec in STAGES:
        if spec.name == name:
            return spec
    raise ConfigError(f"unknown stage '{name}'; stages are: {', '.join(STAGE_NAMES)}")


def run_one_stage(
    spec: StageSpec,
    pipeline: PipelineConfig,
    run_dir: Path,
    *,
    inputs: dict[str, Path] | None = None,
    output_dir: Path | None = None,
    force: bool = False,
    console: Console | None = None,
) -> Manifest:
    """Run a single stage; inputs default to the published outputs of earlier stages in ``run_dir``."""
    resolved = {name: run_dir / name for name in spec.inputs}
    resolved.update(inputs or {})
    for name, path in resolved.items():
        if read_manifest(path) is None and not (inputs and name in inputs):
            raise InputError(
                f"{spec.name}: input '{name}' has no complete output at {path}; "
                f"run `webtune {name}` (or `webtune run`) first"
            )
    config = spec.section(pipeline)
    if spec.optional and config is None:
        raise ConfigError(f"{spec.name}: the pipeline has no `{spec.name}:` section")
    return run_stage(
        spec.name, spec.function(), run_dir=run_dir, config=config, inputs=resolved,
        external_inputs=spec.external_inputs(pipeline),
        output_dir=output_dir, force=force, console=console, shared=spec.shared(pipeline),
    )


def run_pipeline(
    pipeline: PipelineConfig,
    run_dir: Path,
    *,
    force: bool = False,
    from_stage: str | None = None,
    to_stage: str | None = None,
    console: Console | None = None,
) -> list[Manifest]:
    """Run every stage in order; ``from_stage`` forces that stage and the ones after it to rerun."""
    console = console or Console(stderr=True)
    names = list(STAGE_NAMES)
    start = names.index(stage_spec(from_stage).name) if from_stage else 0
    stop = names.index(stage_spec(to_stage).name) if to_stage else len(names) - 1
    manifests = []
    for index, spec in enumerate(STAGES):
        if index > stop:
            break
        if spec.optional and spec.section(pipeline) is None:
            continue  # e.g. no `export:` section: nothing to export
        rerun = force or (from_stage is not None and index >= start)
        console.rule(f"[bold]{spec.name}")
        manifest = run_one_stage(spec, pipeline, run_dir, force=rerun, console=console)
        console.print(stage_summary(manifest))
        manifests.append(manifest)
    return manifests


def stage_summary(manifest: Manifest) -> str:
    """One line: the stage, its counts and time, or that it was skipped."""
    counts = manifest.counts
    state = "[dim]skipped (unchanged)[/dim]" if manifest.skipped else f"{manifest.duration_s:.1f}s"
    return (f"[green]✓[/green] [bold]{manifest.stage}[/bold]  in {counts.seen} · "
            f"kept {counts.kept} · rejected {counts.rejected}  {state}")


def summary_table(manifests: list[Manifest]) -> Table:
    """A table of all stages of a run: counts, time and where the output is."""
    table = Table(title="webtune run")
    for column in ("stage", "in", "kept", "rejected", "time", "status"):
        table.add_column(column, justify="right" if column in ("in", "kept", "rejected", "time") else "left")
    for m in manifests:
        c = m.counts
        table.add_row(m.stage, str(c.seen), str(c.kept), str(c.rejected),
                      f"{m.duration_s:.1f}s", "skipped" if m.skipped else "done")
    return table
