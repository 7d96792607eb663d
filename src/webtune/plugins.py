"""Registries of named backends: sources, clean steps, trainer backends, metrics.

A backend is a class in its own file that registers itself by name:

    SOURCES = Registry("source")

    @SOURCES.register("files")
    class FilesSource: ...

Third-party packages can add backends through the entry-point group
``webtune.<kind>s`` (for example ``webtune.sources``); they are loaded the first time
the registry is asked for a name it does not know.
"""

from __future__ import annotations

import difflib
import importlib
from importlib.metadata import entry_points
from typing import Annotated, Any, Callable, Generic, Iterable, TypeVar, Union

from pydantic import Field

from webtune.errors import ConfigError
from webtune.extras import check_needs

T = TypeVar("T")


class Registry(Generic[T]):
    """A name -> backend mapping with helpful errors for unknown names."""

    def __init__(self, kind: str, label: str | None = None, builtins: Iterable[str] = ()):
        self.kind = kind
        self.label = label or kind  # how errors name it: "clean step 'dedup'"
        self._items: dict[str, T] = {}
        self._plugins_loaded = False
        # Modules whose import registers the built-in backends, imported on first use: the
        # package holding the registry never imports its backends (which import the registry).
        self._builtins = tuple(builtins)

    def register(self, name: str) -> Callable[[T], T]:
        """Class decorator: register the decorated backend under ``name``."""

        def decorate(obj: T) -> T:
            if name in self._items and self._items[name] is not obj:
                raise ValueError(f"{self.kind} '{name}' is registered twice")
            self._items[name] = obj
            try:
                setattr(obj, "registered_name", name)
            except (AttributeError, TypeError):  # functions and builtins may refuse
                pass
            return obj

        return decorate

    def load_builtins(self) -> "Registry[T]":
        """Import the built-in backend modules (once); return the registry."""
        modules, self._builtins = self._builtins, ()
        for module in modules:
            importlib.import_module(module)
        return self

    def get(self, name: str) -> T:
        """Return the backend called ``name``, ready to run.

        Raises a ConfigError listing the choices for an unknown name, and a one-line
        MissingExtraError when the backend's declared `Needs` are not installed.
        """
        self.load_builtins()
        if name not in self._items:
            self._load_plugins()
        if name not in self._items:
            raise ConfigError(self.unknown_message(name))
        check_needs(self._items[name], f"{self.label} '{name}'")
        return self._items[name]

    def unknown_message(self, name: str) -> str:
        close = difflib.get_close_matches(name, self.names(), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return f"unknown {self.kind} '{name}'{hint}; choose one of: {', '.join(self.names())}"

    def names(self) -> list[str]:
        return sorted(self.load_builtins()._items)

    def items(self) -> list[tuple[str, T]]:
        return sorted(self.load_builtins()._items.items())

    def __contains__(self, name: object) -> bool:
        return name in self.load_builtins()._items

    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for ep in entry_points(group=f"webtune.{self.kind}s"):
            if ep.name not in self._items:
                self._items[ep.name] = ep.load()


def config_union(configs: list[type], discriminator: str) -> Any:
    """A pydantic type accepting any of ``configs``, chosen by the ``discriminator`` field.

    Each config model declares ``<discriminator>: Literal["name"]``; pydantic then reports
    an unknown name with the list of valid ones, and errors inside the chosen model
    carry the right key path.
    """
    if len(configs) == 1:
        return configs[0]
    return Annotated[Union[tuple(configs)], Field(discriminator=discriminator)]
