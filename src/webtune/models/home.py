"""Where webtune keeps base models ($WEBTUNE_HOME/models) and how a prepared one is recognised.

`prepare` writes models there and `resolve` finds them; both build on this module, so
`resolve` can prepare a missing model without an import cycle.
"""

from __future__ import annotations

import os
from pathlib import Path

MARKER = "webtune_model.json"


def webtune_home() -> Path:
    """webtune's data directory: $WEBTUNE_HOME, or ~/.cache/webtune when unset or empty."""
    env = os.environ.get("WEBTUNE_HOME", "").strip()
    return Path(env).expanduser() if env else Path.home() / ".cache" / "webtune"


def models_dir(home: str | os.PathLike | None = None) -> Path:
    """Where prepared models live: `<home>/models` (home defaults to `webtune_home()`)."""
    return (Path(home).expanduser() if home is not None else webtune_home()) / "models"


def is_model_dir(path: Path) -> bool:
    """Whether `path` is a directory holding a transformers `config.json`."""
    return (path / "config.json").is_file()


def is_prepared(path: Path) -> bool:
    """Whether `path` is a complete prepared model (checkpoint plus webtune marker)."""
    return is_model_dir(path) and (path / MARKER).is_file()
