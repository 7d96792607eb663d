"""Run webtune as if only its core dependencies were installed.

    python tests/core/core_only.py cli --help            # the `webtune` command
    python tests/core/core_only.py code "import webtune.config; ..."

A meta-path finder makes every module of an installed distribution fail to import unless
that distribution is webtune itself or in the closure of ``[project.dependencies]`` (read
from pyproject.toml and each installed distribution's own requirements), exactly as
``ModuleNotFoundError`` would in a virtualenv made with a plain ``pip install webtune``.
Building such a virtualenv would need the network; this needs nothing.
"""

from __future__ import annotations

import importlib.abc
import importlib.metadata as md
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def core_distributions(pyproject: Path = PYPROJECT) -> set[str]:
    """The canonical names of the core dependencies and everything they require (no extras)."""
    todo = [Requirement(d) for d in tomllib.loads(pyproject.read_text())["project"]["dependencies"]]
    seen: set[str] = set()
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = md.distribution(req.name).requires or []
        except md.PackageNotFoundError:
            continue
        for text in requires:
            sub = Requirement(text)
            if sub.marker is None or sub.marker.evaluate({"extra": ""}):
                todo.append(sub)
    return seen


def blocked_modules(pyproject: Path = PYPROJECT) -> set[str]:
    """Top-level modules of installed distributions a core-only install would not have."""
    core = core_distributions(pyproject) | {"webtune"}
    return {module for module, dists in md.packages_distributions().items()
            if not any(canonicalize_name(d) in core for d in dists)}


class CoreOnly(importlib.abc.MetaPathFinder):
    """Refuse to find any module of a distribution outside the core install."""

    def __init__(self, blocked: set[str]):
        self.blocked = blocked

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.blocked:
            raise ModuleNotFoundError(f"No module named '{name}' (not a core dependency)", name=name)
        return None


def install(blocked: set[str]) -> None:
    """Forget what is already imported of the blocked modules and block them from now on."""
    for name in list(sys.modules):
        if name.split(".")[0] in blocked:
            del sys.modules[name]
    sys.meta_path.insert(0, CoreOnly(blocked))


def main(argv: list[str]) -> None:
    mode, rest = argv[0], argv[1:]
    install(blocked_modules())
    if mode == "cli":
        from webtune.cli.main import main as webtune_main

        sys.argv = ["webtune", *rest]
        webtune_main()
    elif mode == "code":
        exec(compile(rest[0], "<core-only>", "exec"), {"__name__": "__main__"})
    else:
        raise SystemExit(f"unknown mode {mode!r}: give cli or code")


if __name__ == "__main__":
    main(sys.argv[1:])
