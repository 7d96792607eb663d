"""Backends by name: one shape for every pluggable kind, built-ins and plugins through one door.

Every pluggable kind (sources, clean steps, dataset generators, trainers, metrics, exporters,
judges) has the same shape, `Backend`: a class with a pydantic ``Config`` whose tag field
(``kind``, ``step``, ``backend`` ...) is a ``Literal`` of the backend's name, built as
``Backend(config)``, with ONE method that does the work (``collect``, ``apply``, ``train`` ...;
see `KINDS`). A `Registry` maps names to backends of one kind and checks that shape when a
class registers:

    STEPS = Registry("step", builtins=["webtune.clean.steps.length", ...])

    @STEPS.register("length")
    class Length: ...

Built-in backends and third-party plugins are loaded through the same function
(`Registry.load`, like simonw/llm's ``DEFAULT_PLUGINS`` that go through the same
``pm.register`` as entry points): each built-in module is an entry point of the kind's group
(``webtune.steps``) that webtune declares itself, and each installed distribution's entry
points in that group follow. An entry point names either a class (registered under the entry
point's name) or a module (whose ``@REGISTRY.register`` decorators run on import). A registry
loads on first use, and `validate_pipeline` calls `load_plugins` before it validates a file, so
a plugin's ``step: shout`` is known by then. A plugin that fails to load is one warning line
naming its distribution and entry point, and is skipped.

The pipeline file's backend lists (``sources``, ``clean.steps``, ``train``,
``evaluate.metrics``) are typed with `config_field`: each item is validated through the
registry at validation time, so plugin configs are accepted, errors keep their key path, and
``webtune schema`` includes every registered config.

Hand-written on purpose rather than on pluggy (which simonw/llm uses): a backend here is one
class per name, not a set of hooks, and ``importlib.metadata`` already does the discovery.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import sys
import typing
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Annotated, Any, Callable, ClassVar, Generic, Iterable, Protocol, TypeVar, Union

from pydantic import BaseModel, Field, TypeAdapter
from pydantic_core import PydanticCustomError, core_schema

from webtune.errors import ConfigError
from webtune.extras import check_needs

T = TypeVar("T")


class Backend(Protocol):
    """The shape of every backend: ``Backend(config)``, then its kind's one method (`Kind.method`)."""

    Config: ClassVar[type[BaseModel]]

    def __init__(self, config: Any) -> None: ...


@dataclass(frozen=True)
class Kind:
    """A pluggable kind: its name, the one method its backends have, and the config tag field."""

    name: str  # "step"
    method: str | None  # "apply"; None: not checked (ad-hoc kinds)
    tag: str  # the field naming the backend in the pipeline file: "step", "kind", "backend"
    home: str | None = None  # "module:ATTRIBUTE" of the kind's registry; None: made on demand
    # Whether each Config must carry the tag as ``Literal[name]`` (generators' configs do not yet:
    # ``dataset.generators`` items are validated by their own validator).
    tagged: bool = True

    @property
    def group(self) -> str:
        """The entry-point group of the kind's plugins (``webtune.steps``)."""
        return f"webtune.{self.name}s"


KINDS: dict[str, Kind] = {kind.name: kind for kind in (
    Kind("source", "collect", "kind", "webtune.collect.sources:SOURCES"),
    Kind("step", "apply", "step", "webtune.clean.steps:STEPS"),
    Kind("generator", "generate", "generator", "webtune.dataset.generators:GENERATORS", tagged=False),
    Kind("trainer", "train", "backend", "webtune.train.backends:TRAINERS"),
    Kind("metric", "aggregate", "metric", "webtune.evaluate.metrics:METRICS"),
    Kind("exporter", "export", "format", "webtune.export:EXPORTERS"),
    Kind("judge", "judge", "judge", "webtune.evaluate.judges:JUDGES"),
)}


@dataclass(frozen=True)
class Entry:
    """A registered backend and where it came from (a built-in module or a plugin's entry point)."""

    name: str
    cls: Any
    origin: str


class Registry(Generic[T]):
    """A name -> backend mapping of one kind, with helpful errors for unknown names.

    ``builtins`` are webtune's own modules of this kind; they and the installed plugins of the
    kind's entry-point group are loaded on first use (`load`).
    """

    def __init__(self, kind: str, builtins: Iterable[str] = (), *, method: str | None = None,
                 tag: str | None = None, label: str | None = None):
        known = KINDS.get(kind)
        self.spec = Kind(kind, method or (known.method if known else None), tag or (known.tag if known else kind),
                         known.home if known else None, known.tagged if known else True)
        self.kind = kind
        self.label = label or kind  # how messages name one: "clean step 'dedup'"
        self.builtins = tuple(builtins)
        self.problems: list[str] = []  # plugins that failed to load, one line each
        self._entries: dict[str, Entry] = {}
        self._loaded = False
        self._loading_origin: str | None = None

    # ------------------------------------------------------------ registering

    def register(self, name: str, origin: str | None = None) -> Callable[[T], T]:
        """Class decorator: register the decorated backend under ``name`` (its shape is checked)."""

        def decorate(cls: T) -> T:
            check_backend(self.spec, name, cls)
            where = origin or self._loading_origin or default_origin(cls)
            existing = self._entries.get(name)
            if existing is not None and existing.cls is not cls:
                raise ValueError(f"{self.kind} '{name}' is registered twice: by {existing.origin} and by {where}")
            if existing is None:
                self._entries[name] = Entry(name, cls, where)
            setattr(cls, "registered_name", name)
            return cls

        return decorate

    # ------------------------------------------------------------ looking up

    def get(self, name: str) -> T:
        """Return the backend called ``name``, ready to run.

        Raises a ConfigError listing the choices for an unknown name, and a one-line
        MissingExtraError when the backend's declared `Needs` are not installed.
        """
        backend = self.backend(name)
        check_needs(backend, f"{self.label} '{name}'")
        return backend

    def backend(self, name: str) -> T:
        """The class registered as ``name`` (ConfigError listing the choices if there is none)."""
        self.load()
        if name not in self._entries:
            raise ConfigError(self.unknown_message(name))
        return self._entries[name].cls

    def unknown_message(self, name: str) -> str:
        """``unknown step 'lenght' (did you mean 'length'?); choose one of: ...``"""
        close = difflib.get_close_matches(name, self.names(), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return f"unknown {self.kind} '{name}'{hint}; choose one of: {', '.join(self.names())}"

    def names(self) -> list[str]:
        """Every registered name, sorted."""
        self.load()
        return sorted(self._entries)

    def items(self) -> list[tuple[str, T]]:
        """(name, backend) pairs, sorted by name."""
        self.load()
        return [(name, self._entries[name].cls) for name in sorted(self._entries)]

    def entries(self) -> list[Entry]:
        """Every registered backend with its origin, sorted by name."""
        self.load()
        return [self._entries[name] for name in sorted(self._entries)]

    def configs(self) -> list[type[BaseModel]]:
        """The ``Config`` models of every registered backend, sorted by name."""
        return [cls.Config for _, cls in self.items()]

    def __contains__(self, name: object) -> bool:
        self.load()
        return name in self._entries

    # ------------------------------------------------------------ loading

    def load_builtins(self) -> "Registry[T]":
        """Load the registry (built-ins, then installed plugins: one path); return it."""
        self.load()
        return self

    def load(self) -> None:
        """Register the built-in modules, then every installed plugin of this kind (once)."""
        if self._loaded:
            return
        self._loaded = True  # first: a module being loaded may use the registry
        for module in self.builtins:
            self._load_entry_point(EntryPoint(module.rpartition(".")[2], module, self.spec.group), builtin=True)
        for ep in entry_points(group=self.spec.group):
            self._load_entry_point(ep, builtin=False)

    def _load_entry_point(self, ep: EntryPoint, *, builtin: bool) -> None:
        """Load one entry point: a class registers under ``ep.name``, a module registers itself.

        A built-in that fails is a bug and raises; a plugin that fails is a
        warning line and is skipped, so one broken plugin does not stop every command.
        """
        origin = f"built-in ({ep.value})" if builtin else plugin_origin(ep, ep.dist)
        self._loading_origin = origin
        try:
            loaded = ep.load()
            if inspect.isclass(loaded):
                self.register(ep.name)(loaded)
        except Exception as exc:  # noqa: BLE001 - any failure of third-party code is reported, not raised
            if builtin:
                raise
            problem = (f"plugin {origin} failed to load and is skipped: "
                       f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": "))
            self.problems.append(problem)
            print(f"webtune: warning: {problem}", file=sys.stderr)
        finally:
            self._loading_origin = None


def check_backend(kind: Kind, name: str, cls: Any) -> None:
    """Raise TypeError saying what ``cls`` lacks to be a backend of ``kind`` called ``name``."""
    label = f"{kind.name} '{name}' ({getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', cls)!s})"
    if not inspect.isclass(cls):
        raise TypeError(f"{label} cannot be registered: it is not a class")
    missing = []
    config = getattr(cls, "Config", None)
    if not (inspect.isclass(config) and issubclass(config, BaseModel)):
        missing.append("a `Config` class (a pydantic model of its options)")
    elif kind.tagged and name not in _literal_values(config, kind.tag):
        missing.append(f"a `{kind.tag}: Literal['{name}']` field in its Config")
    if kind.method and not callable(getattr(cls, kind.method, None)):
        missing.append(f"a `{kind.method}` method")
    if missing:
        raise TypeError(f"{label} cannot be registered: it needs {' and '.join(missing)}")


def _literal_values(config: type[BaseModel], tag: str) -> tuple[Any, ...]:
    """The values allowed by ``config``'s ``tag`` field when it is a Literal (else empty)."""
    field_info = config.model_fields.get(tag)
    if field_info is None or typing.get_origin(field_info.annotation) is not typing.Literal:
        return ()
    return typing.get_args(field_info.annotation)


def default_origin(cls: Any) -> str:
    """Where a backend registered in code (not through an entry point) came from: its module."""
    module = getattr(cls, "__module__", "?")
    return f"built-in ({module})" if module.startswith("webtune.") else f"module {module}"


def plugin_origin(ep: EntryPoint, dist: Any) -> str:
    """``webtune-hello 0.1 (webtune.steps: shout = webtune_hello:Shout)``"""
    where = f"{dist.metadata['Name']} {dist.version}" if dist is not None else "?"
    return f"{where} ({ep.group}: {ep.name} = {ep.value})"


# ---------------------------------------------------------------- every kind at once

_HOMELESS: dict[str, Registry] = {}


def registry_for(kind: str) -> Registry | None:
    """The registry of ``kind`` (importing its home module), or None if its home is not there yet."""
    spec = KINDS[kind]
    if spec.home is None:
        return _HOMELESS.setdefault(kind, Registry(kind))
    module_name, _, attribute = spec.home.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            return None  # e.g. a kind whose package a later change adds
        raise
    return getattr(module, attribute)


def load_plugins() -> dict[str, Registry]:
    """Load the built-ins and installed plugins of every kind; return kind -> registry."""
    registries = {}
    for kind in KINDS:
        registry = registry_for(kind)
        if registry is not None:
            registry.load()
            registries[kind] = registry
    return registries


# ---------------------------------------------------------------- pipeline-file fields


@dataclass(frozen=True, eq=False)
class RegistryConfig:
    """Pydantic metadata: validate a mapping as the ``Config`` of the backend its tag names.

    The registry is asked at validation time (after plugins are loaded), so a plugin's config
    is accepted like a built-in one; errors carry the same types as a discriminated union's
    (``union_tag_invalid``, ``union_tag_not_found``) and the key path inside the config.
    """

    registry: Registry

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> core_schema.CoreSchema:
        return core_schema.with_info_plain_validator_function(self.validate)

    def __get_pydantic_json_schema__(self, schema: Any, handler: Any) -> Any:
        """The discriminated union of every registered config (plugins included)."""
        union = config_union(self.registry.configs(), self.registry.spec.tag)
        return handler(TypeAdapter(union).core_schema)

    def validate(self, value: Any, info: Any) -> BaseModel:
        """The backend config of ``value`` (a mapping, or an already validated config)."""
        registry, tag = self.registry, self.registry.spec.tag
        if isinstance(value, BaseModel):
            name = getattr(value, tag, None)
            if isinstance(name, str) and name in registry and isinstance(value, registry.backend(name).Config):
                return value
            value = value.model_dump(by_alias=True)
        if not isinstance(value, dict):
            raise PydanticCustomError("model_type", "expected a mapping")
        if tag not in value:
            raise PydanticCustomError("union_tag_not_found", "missing `{discriminator}`",
                                      {"discriminator": f"'{tag}'"})
        name = value[tag]
        if not isinstance(name, str) or name not in registry:
            raise PydanticCustomError(
                "union_tag_invalid", "unknown {discriminator} {tag}; choose one of: {expected_tags}",
                {"discriminator": f"'{tag}'", "tag": str(name),
                 "expected_tags": ", ".join(f"'{n}'" for n in registry.names())})
        context = info.context if info is not None else None
        return registry.backend(name).Config.model_validate(value, context=context)


def config_field(registry: Registry) -> Any:
    """The type of one pipeline-file item naming a backend of ``registry`` by its tag."""
    return Annotated[Any, RegistryConfig(registry)]


def config_union(configs: list[type], discriminator: str) -> Any:
    """A pydantic type accepting any of ``configs``, chosen by the ``discriminator`` field.

    Each config model declares ``<discriminator>: Literal["name"]``. Prefer `config_field`
    for pipeline-file items: a union built at import time knows only the backends registered
    by then.
    """
    if len(configs) == 1:
        return configs[0]
    return Annotated[Union[tuple(configs)], Field(discriminator=discriminator)]
