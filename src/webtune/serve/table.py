"""What the server serves: model ids, each with its loaded model, its engine and its exact version.

A model given by a registry alias (``writer``, ``writer@production``, ``writer@latest``)
*follows* that alias: between requests `ModelTable.refresh` compares the registry's state
file and version folder with what it saw last (two ``stat`` calls), and when the alias now
names another version it loads that version, swaps it in for new requests, and lets the old
engine finish what it had started. SIGHUP forces the same check (see `webtune.serve.server`).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

log = logging.getLogger("webtune.serve")


@dataclass
class Follow:
    """A registry alias a served model follows."""

    registry: Any  # ModelRegistry
    name: str
    selector: str | None  # an alias, ``latest``, or None (production, else latest)
    seen: tuple[int, int] = (0, 0)

    def signature(self) -> tuple[int, int]:
        """The mtimes of the model's state file and version folder (both change on every move)."""
        from webtune.registry.store import STATE_FILE

        folder = self.registry.model_dir(self.name)
        stamps = []
        for path in (folder / STATE_FILE, folder):
            try:
                stamps.append(path.stat().st_mtime_ns)
            except OSError:
                stamps.append(0)
        return stamps[0], stamps[1]


@dataclass
class Served:
    """One loaded model as served: the chat model, its engine, and which version it is."""

    model: Any
    engine: Any
    info: dict[str, Any] = field(default_factory=dict)
    follow: Follow | None = None

    @property
    def label(self) -> str:
        return str(self.info.get("label", ""))

    @property
    def context(self) -> int | None:
        """The model's context length in tokens (local models), else None."""
        config = getattr(getattr(self.model, "model", None), "config", None)
        value = getattr(config, "max_position_embeddings", None)
        return value if isinstance(value, int) else None

    @property
    def local(self) -> bool:
        return hasattr(self.model, "tokenizer")


def make_engine(model: Any, max_batch: int = 8) -> Any:
    """A `Batcher` for a local model, a `HostedEngine` for a hosted one, a `VllmEngine` for vLLM's."""
    from webtune.serve.engine import Batcher, HostedEngine

    if getattr(model, "engine_name", None) == "vllm":
        from webtune.serve.vllm_engine import VllmEngine

        return VllmEngine(model)
    return Batcher(model, max_batch=max_batch) if hasattr(model, "tokenizer") else HostedEngine(model)


def version_info(ref: Any, selector: str | None = None) -> dict[str, Any]:
    """What `/v1/models` says about a served reference: label, and name/version/aliases when registered."""
    info: dict[str, Any] = {"label": ref.label}
    record = getattr(ref, "version", None)  # a RegistryVersion
    if record is not None:
        info.update(name=record.name, version=record.version, aliases=sorted(record.aliases))
        info["follows"] = selector
    return info


class ModelTable:
    """Model ids -> `Served`; swaps in new versions when a followed alias moves."""

    def __init__(self, max_batch: int = 8, loader: Callable[[Any], Any] | None = None):
        self.max_batch = max_batch
        self._loader = loader
        self._ids: dict[str, Served] = {}
        self._refreshing = threading.Lock()

    @classmethod
    def of_models(cls, models: dict[str, Any], max_batch: int = 8) -> "ModelTable":
        """A table serving already loaded chat models under the given ids (one engine per model)."""
        table = cls(max_batch=max_batch)
        engines: dict[int, Served] = {}
        for model_id, model in models.items():
            served = engines.get(id(model))
            if served is None:
                served = engines[id(model)] = Served(model, make_engine(model, max_batch),
                                                     {"label": getattr(model, "name", model_id)})
            table.add(model_id, served)
        return table

    def add(self, model_id: str, served: Served) -> None:
        """Serve ``served`` under ``model_id`` too."""
        self._ids[model_id] = served

    def get(self, model_id: str) -> Served | None:
        """The model served under ``model_id``, if any."""
        return self._ids.get(model_id)

    def ids(self) -> list[str]:
        """Every id served, sorted."""
        return sorted(self._ids)

    def entries(self) -> list[tuple[str, Served]]:
        """``(id, served)`` pairs, sorted by id."""
        return sorted(self._ids.items())

    def engines(self) -> list[Any]:
        """Each distinct engine once."""
        seen: dict[int, Any] = {}
        for served in self._ids.values():
            seen.setdefault(id(served.engine), served.engine)
        return list(seen.values())

    # ------------------------------------------------------------------ following aliases
    def refresh(self, force: bool = False) -> list[str]:
        """Reload every followed alias that moved (``force``: look even if the files did not change).

        Returns what changed, one line each. A refresh already running is not waited for: the
        current versions keep answering until the new one is loaded.
        """
        if not self._refreshing.acquire(blocking=False):
            return []
        try:
            changes = []
            for served in {id(s): s for s in self._ids.values() if s.follow}.values():
                change = self._refresh_one(served, force)
                if change:
                    changes.append(change)
            return changes
        finally:
            self._refreshing.release()

    def _refresh_one(self, served: Served, force: bool) -> str | None:
        follow = served.follow
        assert follow is not None
        signature = follow.signature()
        if signature == follow.seen and not force:
            return None
        follow.seen = signature
        try:
            number = follow.registry.resolve(follow.name, follow.selector)
        except Exception as exc:  # a registry mid-change or broken: keep serving what is loaded
            log.warning("cannot follow %s@%s: %s", follow.name, follow.selector or "production", exc)
            return None
        if number == served.info.get("version"):
            return None
        return self._swap(served, number)

    def _swap(self, served: Served, number: int) -> str | None:
        """Load version ``number`` and serve it in place of ``served``'s current one."""
        from webtune.serve.loader import load_chat_model, ref_from_version

        follow = served.follow
        assert follow is not None
        try:
            ref = ref_from_version(follow.registry.get(follow.name, number))
            model = (self._loader or load_chat_model)(ref)
        except Exception as exc:  # a broken version must not take the server down: keep the loaded one
            log.warning("cannot load %s@%s for %s@%s, still serving %s: %s", follow.name, number, follow.name,
                        follow.selector or "production", served.label, exc)
            return None
        old_label, old_engine = served.label, served.engine
        served.model, served.engine = model, make_engine(model, self.max_batch)
        served.info = version_info(ref, follow.selector)
        if old_label in self._ids and self._ids[old_label] is served:  # the exact-version id moves too
            del self._ids[old_label]
            self._ids[served.label] = served
        old_engine.close()  # finishes the requests it already has
        line = f"now serving {served.label} (was {old_label}; {follow.name}@{follow.selector or 'production'} moved)"
        log.warning(line)
        return line

    def close(self) -> None:
        """Cancel every request and stop every engine (shutdown)."""
        for engine in self.engines():
            engine.cancel_all()
