"""From a model reference to a chat model.

A reference is one of:

* ``NAME`` or ``NAME@VERSION`` (a number, an alias such as ``production``, or ``latest``):
  a version in the model registry; ``NAME`` alone means its ``production`` version;
* ``ft:...`` (any id with a colon and no such path): a hosted model, answered at the endpoint
  recorded when it was trained (a registry version of that id carries it), else the one
  ``OPENAI_BASE_URL`` names (see ``webtune.openai_client``);
* a path: a registry version directory (with ``version.json``), a LoRA adapter directory
  (with ``adapter_config.json``, loaded on the base model it names), a transformers model
  directory (with ``config.json``), or a base model name from ``webtune models list``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from webtune.errors import InputError
from webtune.extras import require
from webtune.handoffs import ApiEndpoint, RegistryVersion
from webtune.registry.store import VERSION_FILE, ModelRegistry, parse_reference

TOKENIZER_FILES = ("tokenizer_config.json", "tokenizer.json")
# What running a local model (a base, an adapter on it, or a full fine-tune) imports.
LOCAL_MODEL_MODULES = ("torch", "transformers", "peft")


@dataclass
class ModelRef:
    """A resolved reference: what to load, and a label to show."""

    label: str
    model_path: Path | None = None  # a full model, or the base the adapter goes on
    adapter_path: Path | None = None
    model_id: str | None = None  # hosted
    endpoint: ApiEndpoint | None = None  # hosted: the recorded base URL and key variable
    version: RegistryVersion | None = None  # the registry record, when from the registry

    @property
    def hosted(self) -> bool:
        return self.model_id is not None


def ref_from_version(record: RegistryVersion) -> ModelRef:
    """The reference of a registry version record (as returned by `ModelRegistry.get`)."""
    if record.kind == "hosted":
        return ModelRef(label=record.label, model_id=record.model_id, endpoint=record.api, version=record)
    artifact = Path(record.path or ".") / (record.artifact or "artifact")
    if record.kind == "adapter":
        base = _base_path(record.base_model, record.base_model_path, record.path)
        return ModelRef(label=record.label, model_path=base, adapter_path=artifact, version=record)
    return ModelRef(label=record.label, model_path=artifact, version=record)


def _base_path(base_model: str | None, base_model_path: str | None, where: str | Path | None) -> Path:
    """The base model an adapter was trained on: its recorded path, else its name."""
    from webtune.models import resolve_model

    if base_model_path and (Path(base_model_path) / "config.json").is_file():
        return Path(base_model_path)
    if not base_model:
        raise InputError(f"{where}: version names no base model")
    return resolve_model(base_model)


def resolve_ref(text: str, registry: ModelRegistry | None = None) -> ModelRef:
    """Turn a ``--model`` value into a `ModelRef` (see the module docstring)."""
    registry = registry or ModelRegistry()
    path = Path(text).expanduser()
    if path.is_dir():
        return _ref_from_dir(path)
    if text.startswith("ft:") or (":" in text and "/" not in text):
        local = local_version(registry, text)  # trained here by `webtune serve --fine-tuning`
        if local is not None:
            return ref_from_version(local)
        return ModelRef(label=text, model_id=text, endpoint=recorded_endpoint(registry, text))
    from webtune.models.hub import parse_hub_ref

    if parse_hub_ref(text) is not None:  # a Hugging Face Hub id: the base model itself
        from webtune.models import resolve_model

        return ModelRef(label=text, model_path=resolve_model(text))
    if "/" in text or text.startswith("."):
        raise InputError(f"model {text!r}: no such directory")
    name, selector = parse_reference(text)
    if registry.version_numbers(name):
        return ref_from_version(registry.get(name, selector))
    if selector is None:
        from webtune.models import resolve_model

        try:
            return ModelRef(label=text, model_path=resolve_model(text, auto_prepare=False))
        except Exception:
            pass
    known = ", ".join(registry.names()) or "none"
    raise InputError(f"model {text!r}: not a directory, not an ft: id, and not in the registry "
                     f"{registry.root} (registered: {known})")


def local_version(registry: ModelRegistry, model_id: str) -> RegistryVersion | None:
    """The newest registered local (adapter or model) version recorded under ``model_id``, if any."""
    for name in registry.names():
        for record in reversed(registry.versions(name)):
            if record.model_id == model_id and record.kind != "hosted":
                return record
    return None


def recorded_endpoint(registry: ModelRegistry, model_id: str) -> ApiEndpoint | None:
    """The endpoint recorded for hosted ``model_id`` by its newest registry version, if any."""
    for name in registry.names():
        for record in reversed(registry.versions(name)):
            if record.model_id == model_id and record.api is not None:
                return record.api
    return None


def _ref_from_dir(path: Path) -> ModelRef:
    """A reference to a version, adapter or model directory."""
    if (path / VERSION_FILE).is_file():
        record = RegistryVersion.read(path / VERSION_FILE)
        if not record.path or not Path(record.path).is_dir():
            record = record.model_copy(update={"path": str(path)})
        return ref_from_version(record)
    if (path / "adapter_config.json").is_file():
        config = json.loads((path / "adapter_config.json").read_text(encoding="utf-8"))
        base = config.get("base_model_name_or_path")
        if not base:
            raise InputError(f"{path}/adapter_config.json: base_model_name_or_path is not set")
        return ModelRef(label=str(path), model_path=_base_path(base, base, path), adapter_path=path)
    if (path / "config.json").is_file():
        return ModelRef(label=str(path), model_path=path)
    raise InputError(f"{path}: not a model, adapter or registry version directory")


def tokenizer_dir(ref: ModelRef) -> Path:
    """Where the tokenizer is: beside the adapter or model when saved there, else the base."""
    for candidate in (ref.adapter_path, ref.model_path):
        if candidate is not None and any((candidate / f).is_file() for f in TOKENIZER_FILES):
            return candidate
    assert ref.model_path is not None
    return ref.model_path


def load_weights(model_path: Path, adapter_path: Path | None = None, base_model: Any = None) -> Any:
    """The causal LM at ``model_path`` (or ``base_model``, already loaded), with the adapter merged.

    Merging the LoRA weights into the base makes the tuned model exactly as fast as the base.
    """
    import warnings

    from webtune.models import load_causal_lm
    from webtune.models.prepare import progress_bars

    with progress_bars(False):
        model = base_model if base_model is not None else load_causal_lm(model_path)
    if adapter_path is None:
        return model
    from peft import PeftModel

    try:
        with warnings.catch_warnings():  # peft calls a transformers API deprecated in v5
            warnings.simplefilter("ignore", FutureWarning)
            return PeftModel.from_pretrained(model, str(adapter_path)).merge_and_unload()
    except (ValueError, OSError, RuntimeError) as exc:
        raise InputError(f"{adapter_path}: cannot load the adapter on {model_path}: {exc}") from None


def load_chat_model(ref: ModelRef, device: str = "auto", engine: str = "transformers") -> Any:
    """A `LocalChatModel` or `HostedChatModel` for ``ref`` (a `VllmChatModel` with ``engine="vllm"``)."""
    from webtune.models import load_tokenizer, pick_device
    from webtune.serve.models import HostedChatModel, LocalChatModel

    if ref.hosted:
        require(f"the hosted model {ref.label}", "hosted", "openai")
        return HostedChatModel(ref.model_id, name=ref.label, endpoint=ref.endpoint)
    assert ref.model_path is not None
    require(f"the local model {ref.label}", "train", *LOCAL_MODEL_MODULES)
    tokenizer = load_tokenizer(tokenizer_dir(ref))
    if engine == "vllm":
        from webtune.serve.vllm_engine import VllmChatModel

        return VllmChatModel(ref.model_path, tokenizer, ref.adapter_path, name=ref.label)
    model = load_weights(ref.model_path, ref.adapter_path)
    return LocalChatModel(model, tokenizer, name=ref.label, device=pick_device(device))
