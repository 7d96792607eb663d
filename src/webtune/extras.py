"""Optional dependencies: say in one line which extra to install, instead of a traceback.

`pip install webtune` brings only the core libraries (see ``[project.dependencies]``);
everything heavy comes with an extra (``webtune[clean]``, ``webtune[train]``, ...). Modelled
on datatrove's ``_requires_dependencies``: a backend declares what it imports,

    @STEPS.register("dedup")
    class Dedup(GlobalStep):
        needs = Needs("clean", "numpy", "datasketch")

and the registry checks it when the backend is fetched to run (`plugins.Registry.get`), so
loading a pipeline file never needs the extra, and running the step without it stops with

    clean step 'dedup' needs numpy, datasketch: pip install 'webtune[clean]'

Code that needs a library only on some paths (a parquet file, a local model) calls
`require` there. Anything that still slips through as a `ModuleNotFoundError` for a module
of `OPTIONAL_MODULES` is turned into the same one line by the CLI (`missing_extra_error`).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from webtune.errors import WebtuneError

# Import name -> (pip distribution, the webtune extra that brings it). A test checks each
# against pyproject.toml's [project.optional-dependencies].
OPTIONAL_MODULES: dict[str, tuple[str, str]] = {
    "lxml": ("lxml", "collect"),
    "protego": ("protego", "collect"),
    "warcio": ("warcio", "collect"),
    "zstandard": ("zstandard", "collect"),
    "pyarrow": ("pyarrow", "collect"),
    "charset_normalizer": ("charset-normalizer", "collect"),
    "trafilatura": ("trafilatura", "clean"),
    "extruct": ("extruct", "clean"),
    "lxml_html_clean": ("lxml_html_clean", "clean"),
    "datasketch": ("datasketch", "clean"),
    "numpy": ("numpy", "clean"),
    "ftfy": ("ftfy", "clean"),
    "lingua": ("lingua-language-detector", "clean"),
    "torch": ("torch", "train"),
    "transformers": ("transformers", "train"),
    "peft": ("peft", "train"),
    "accelerate": ("accelerate", "train"),
    "gguf": ("gguf", "train"),
    "safetensors": ("safetensors", "train"),
    "sentencepiece": ("sentencepiece", "train"),
    "tensorboard": ("tensorboard", "train"),
    "matplotlib": ("matplotlib", "train"),
    "rouge_score": ("rouge-score", "evaluate"),
    "sacrebleu": ("sacrebleu", "evaluate"),
    "rjieba": ("rjieba", "cjk"),
    "fugashi": ("fugashi", "cjk"),
    "unidic_lite": ("unidic-lite", "cjk"),
    "openai": ("openai", "hosted"),
    "datasets": ("datasets", "dataset"),
    "fastapi": ("fastapi", "serve"),
    "uvicorn": ("uvicorn", "serve"),
    "werkzeug": ("werkzeug", "serve"),
    "ray": ("ray", "ray"),
    "mlflow": ("mlflow-skinny", "track"),
    "wandb": ("wandb", "track"),
    "fsspec": ("fsspec", "storage"),
    "s3fs": ("s3fs", "storage"),
}


class MissingExtraError(WebtuneError):
    """A stage or backend needs a library of an extra that is not installed."""


def is_available(module: str) -> bool:
    """Whether ``module`` can be imported, without importing it (find_spec only)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package is missing, or a broken install
        return False


def missing_message(what: str, modules: list[str], extra: str) -> str:
    """The one line: ``<what> needs <modules>: pip install 'webtune[<extra>]'``."""
    return f"{what} needs {', '.join(modules)}: pip install 'webtune[{extra}]'"


def require(what: str, extra: str, *modules: str) -> None:
    """Raise `MissingExtraError` naming ``what`` and the extra when any of ``modules`` is missing."""
    missing = [m for m in modules if not is_available(m)]
    if missing:
        raise MissingExtraError(missing_message(what, missing, extra))


@dataclass(frozen=True)
class Needs:
    """What a backend imports beyond the core install: the extra and its module names."""

    extra: str
    modules: tuple[str, ...]

    def __init__(self, extra: str, *modules: str):
        object.__setattr__(self, "extra", extra)
        object.__setattr__(self, "modules", modules)

    def check(self, what: str) -> None:
        """Raise `MissingExtraError` for ``what`` (e.g. "clean step 'dedup'") if a module is missing."""
        require(what, self.extra, *self.modules)


def check_needs(backend: object, what: str) -> None:
    """Check the `Needs` a backend class declares as ``needs`` (if any)."""
    needs = getattr(backend, "needs", None)
    if isinstance(needs, Needs):
        needs.check(what)


def missing_extra_error(exc: ModuleNotFoundError, what: str) -> MissingExtraError | None:
    """The one-line error for an optional module that failed to import, or None for any other."""
    top = (exc.name or "").split(".")[0]
    if top not in OPTIONAL_MODULES:
        return None
    _, extra = OPTIONAL_MODULES[top]
    return MissingExtraError(missing_message(what, [top], extra))
