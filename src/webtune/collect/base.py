"""What the collect stage hands each source, and the shape of a source backend."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from rich.console import Console

from webtune.collect.documents import SourceSink


@dataclass
class SourceRun:
    """One source's run: where its documents and rejects go, and its private resume directory.

    ``keep`` names files of ``work_dir`` that outlive publishing (a Bright Data request's
    snapshot id, so a forced rerun reuses the snapshot instead of paying again).
    """

    sink: SourceSink
    work_dir: Path
    console: Console
    keep: list[str] = field(default_factory=list)
    # In a refresh run: what history knows (`webtune.refresh.tracker.RefreshTracker`), else None.
    refresh: Any = None


class Source(Protocol):
    """A source backend: built from its config, it collects into ``run.sink`` and returns stats."""

    Config: type

    def __init__(self, config: Any) -> None: ...

    def collect(self, run: SourceRun) -> dict[str, Any]: ...
