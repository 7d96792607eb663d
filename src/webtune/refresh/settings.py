"""What a refresh run's stages get through ``ctx.shared``: the history store, the version being
made, and the production model to compare with (read from the pipeline and the registry)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from webtune.handoffs import RegistryVersion
from webtune.refresh.history import History, default_history_dir


def history_of(pipeline: Any) -> History:
    """The pipeline's history store (``refresh.history``, else ``<registry>/history/<name>``)."""
    from webtune.registry.store import ModelRegistry

    if pipeline.refresh is not None and pipeline.refresh.history is not None:
        return History(Path(pipeline.refresh.history))
    return History(default_history_dir(ModelRegistry(pipeline.register_.path).root, pipeline.name))


def model_name(pipeline: Any) -> str:
    return pipeline.register_.model_name or pipeline.name


def production_version(pipeline: Any) -> RegistryVersion | None:
    """The registry's production version of the pipeline's model, if any."""
    from webtune.registry.store import ModelRegistry

    registry = ModelRegistry(pipeline.register_.path)
    name = model_name(pipeline)
    number = registry.production(name) if registry.version_numbers(name) else None
    return registry.get(name, number) if number is not None else None


def refresh_settings(pipeline: Any) -> dict[str, Any]:
    """What collect, clean, dataset and register get as ``ctx.shared["refresh"]``."""
    history = history_of(pipeline)
    return {"history": str(history.root.resolve()), "version": history.next_version(),
            "key": pipeline.refresh.key, "train": pipeline.refresh.train}


def champion_settings(pipeline: Any) -> dict[str, Any] | None:
    """The production model and the frozen benchmark, for evaluate; None without a local production model."""
    production = production_version(pipeline)
    if production is None or production.kind not in ("adapter", "model") or not production.path:
        return None
    return {"label": production.label, "kind": production.kind,
            "artifact": str(Path(production.path) / (production.artifact or "artifact")),
            "benchmark": [str(p.resolve()) for p in history_of(pipeline).benchmark_files()]}
