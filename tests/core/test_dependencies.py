"""Every dependency pyproject.toml declares for webtune itself is imported by it (or says why not)."""

from __future__ import annotations

import ast
import importlib.metadata as md
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
# Extras that are not webtune's runtime: tests, benchmarks (their own scripts), and aliases.
NOT_RUNTIME = {"dev", "bench", "all"}
# Declared, used, but never imported by name in src/webtune.
USED_WITHOUT_IMPORT = {
    "lxml-html-clean": "trafilatura imports lxml.html.clean from it (split out of lxml 5.2)",
    "safetensors": "transformers and peft save and load the weights with it",
    "sentencepiece": "transformers converts SentencePiece (Llama-style) tokenizers with it",
    "tensorboard": "torch.utils.tensorboard writes the training events through it",
    "s3fs": "fsspec loads it for s3:// URLs (Bright Data delivery read back from S3)",
}


def declared_runtime_distributions() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra, items in project["optional-dependencies"].items():
        if extra not in NOT_RUNTIME:
            requirements += items
    return {canonicalize_name(Requirement(r).name) for r in requirements} - {"webtune"}


def imported_top_level_modules() -> set[str]:
    found = set()
    for path in (ROOT / "src" / "webtune").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
    return found


def test_no_declared_dependency_goes_unused():
    modules_of: dict[str, set[str]] = {}
    for module, dists in md.packages_distributions().items():
        for dist in dists:
            modules_of.setdefault(canonicalize_name(dist), set()).add(module)
    imported = imported_top_level_modules()
    declared = declared_runtime_distributions()
    unused = sorted(d for d in declared - set(USED_WITHOUT_IMPORT) if not modules_of.get(d, {d}) & imported)
    assert unused == [], "declared in pyproject.toml but imported nowhere in src/webtune"
    assert set(USED_WITHOUT_IMPORT) <= declared  # the exceptions stay declared
