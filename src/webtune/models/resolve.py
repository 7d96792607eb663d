"""Finding base models: by path, by catalog name, by prepared name under $WEBTUNE_HOME, or by
Hugging Face Hub id (``org/repo[@revision][:file.gguf]``, downloaded once into the Hugging Face
cache by `webtune.models.hub`).

Heavy libraries (torch, transformers) are imported only inside the loaders, so importing this
module stays cheap for the CLI.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from webtune.errors import ConfigError, InputError, WebtuneError
from webtune.models.catalog import CATALOG, catalog_names
from webtune.models.home import MARKER, is_model_dir, is_prepared, models_dir
from webtune.models import hub, prepare

DTYPES = ("float32", "bfloat16", "float16")


def _local_names(home: str | os.PathLike | None = None) -> list[str]:
    """Names of non-catalog model directories under the models directory."""
    root = models_dir(home)
    if not root.is_dir():
        return []
    return sorted(
        p.name for p in root.iterdir()
        if not p.name.startswith(".") and p.name not in CATALOG and is_model_dir(p)
    )


def resolve_model(
    name_or_path: str | os.PathLike,
    auto_prepare: bool = True,
    home: str | os.PathLike | None = None,
) -> Path:
    """The checkpoint directory for a model given by path or by name.

    A directory containing config.json is used as is. A catalog name resolves to its prepared
    directory, preparing it first if `auto_prepare`. A name of a model directory under
    `<home>/models` resolves to it. A Hub id (``org/repo[@revision][:file.gguf]``) that is not a
    local directory resolves to its snapshot in the Hugging Face cache, downloaded first if
    `auto_prepare` (else from the cache only). Anything else is a WebtuneError.
    """
    text = str(name_or_path)
    path = Path(text).expanduser()
    if is_model_dir(path):
        return path.resolve()
    if text in CATALOG:
        return _resolve_catalog(text, auto_prepare, home)
    local = models_dir(home) / text
    if "/" not in text and not text.startswith(".") and is_model_dir(local):
        return local
    if path.is_dir():
        raise WebtuneError(f"model directory {path} has no config.json")
    ref = hub.parse_hub_ref(text)
    if ref is not None:
        return hub.resolve_hub(ref, download=auto_prepare)
    known = ", ".join(sorted({*catalog_names(), *_local_names(home)}))
    raise WebtuneError(
        f"unknown model {text!r}: not a directory with config.json, not a Hub id "
        f"(org/repo[@revision][:file.gguf]) and not one of: {known}"
    )


def _resolve_catalog(name: str, auto_prepare: bool, home: str | os.PathLike | None) -> Path:
    """The prepared directory of catalog model `name`, preparing it if allowed."""
    target = models_dir(home) / name
    if is_prepared(target):
        return target
    if not auto_prepare:
        raise WebtuneError(
            f"model {name!r} is not prepared yet (no {target / MARKER}); prepare it first"
        )
    return prepare.prepare_model(name, home=home)


def dir_size(path: Path) -> int:
    """Total size in bytes of the regular files under `path` (0 if it does not exist)."""
    if not path.exists():
        return 0
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def list_models(home: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """All catalog models plus any other model directories under `<home>/models`.

    Each row: name, source ("catalog" or "local"), prepared, path, size_bytes, description.
    """
    root = models_dir(home)
    rows = []
    for name in catalog_names():
        path = root / name
        prepared = is_prepared(path)
        rows.append(_row(name, "catalog", prepared, path, CATALOG[name].description))
    for name in _local_names(home):
        rows.append(_row(name, "local", True, root / name, ""))
    return rows


def _row(name: str, source: str, prepared: bool, path: Path, description: str) -> dict[str, Any]:
    """One `list_models` row."""
    return {
        "name": name,
        "source": source,
        "prepared": prepared,
        "path": str(path),
        "size_bytes": dir_size(path) if prepared else 0,
        "description": description,
    }


def _torch_dtype(dtype: Any):
    """A torch dtype from None (float32), a torch.dtype, or one of DTYPES as a string."""
    import torch

    if dtype is None:
        return torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    if str(dtype) not in DTYPES:
        raise WebtuneError(f"unknown dtype {dtype!r}: expected one of: {', '.join(DTYPES)}")
    return getattr(torch, str(dtype))


def load_tokenizer(name_or_path: str | os.PathLike) -> Any:
    """The tokenizer of a model name or directory, or of any directory holding tokenizer files
    (an adapter saves one beside itself), from local files only.

    A tokenizer without a pad token gets its eos token as one, as batching and generation need.
    """
    import transformers

    path = Path(name_or_path).expanduser()
    where = path if path.is_dir() and not is_model_dir(path) else resolve_model(name_or_path)
    # The class tokenizer_config.json names, when transformers has it: the tokenizer AutoTokenizer
    # would make, without AutoTokenizer's import of torch (about 300 MB that counting tokens in
    # the dataset stage does not need).
    try:
        cls = getattr(transformers, _tokenizer_class(where) or "AutoTokenizer")
    except Exception:  # noqa: BLE001 - an unknown or broken class name: let AutoTokenizer decide
        cls = None
    if not hasattr(cls, "from_pretrained"):
        cls = transformers.AutoTokenizer
    try:
        tokenizer = cls.from_pretrained(str(where), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise InputError(f"{where}: cannot load its tokenizer: {exc}") from None
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _tokenizer_class(directory: Path) -> str | None:
    """The ``tokenizer_class`` of a checkpoint's tokenizer_config.json, if it names one."""
    import json

    try:
        name = json.loads((Path(directory) / "tokenizer_config.json").read_text(encoding="utf-8")).get("tokenizer_class")
    except (OSError, ValueError, AttributeError):
        return None
    return name if isinstance(name, str) and name.isidentifier() else None


def pick_device(requested: str = "auto", setting: str = "device") -> str:
    """``cpu`` or ``cuda``: ``auto`` takes CUDA when torch sees a GPU; asking for an absent
    GPU is a ConfigError naming ``setting`` (``train.device``, ``--device``, ...)."""
    import torch

    has_cuda = torch.cuda.is_available()
    if requested == "auto":
        return "cuda" if has_cuda else "cpu"
    if requested == "cuda" and not has_cuda:
        raise ConfigError(f"{setting}: cuda was asked for, but torch sees no CUDA GPU")
    return requested


def load_causal_lm(path: str | os.PathLike, dtype: Any = None, device: Any = None):
    """A causal LM given by path or name, from local files only, in `dtype` (default float32).

    `device` (e.g. "cpu", "cuda") moves the model there after loading; None leaves it on CPU.
    """
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(
        str(resolve_model(path)), dtype=_torch_dtype(dtype), local_files_only=True
    )
    return model.to(device) if device is not None else model
