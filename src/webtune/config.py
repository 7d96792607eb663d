"""The pipeline file: one YAML document that describes a whole run, validated by pydantic.

    name: office-products
    base_model: smollm2-135m-instruct
    sources: [...]        # collect
    clean: {...}
    dataset: {...}
    train: {...}
    evaluate: {...}
    register: {...}
    chat: {...}

Errors name the file, the line and the key path (``pipeline.yaml:12: train.lora.r:
expected an integer``) and are raised before any stage starts.
"""

from __future__ import annotations

import difflib
import os

from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from webtune.dataset.config import DatasetConfig
from webtune.clean.config import CleanConfig
from webtune.collect.config import CollectConfig, SourceConfig
from webtune.configbase import RelPath, StrictModel
from webtune.errors import ConfigError
from webtune.evaluate.config import EvaluateConfig
from webtune.registry.config import RegisterConfig
from webtune.serve.config import ChatConfig
from webtune.train.config import LocalTrainConfig, TrainConfig

DEFAULT_BASE_MODEL = "smollm2-135m-instruct"


def warn_deprecated(message: str) -> None:
    """Say once, on stderr, that a config spelling is deprecated (a one-line notice, not a traceback)."""
    import sys

    print(f"webtune: deprecated: {message}", file=sys.stderr)


class PipelineConfig(StrictModel):
    """A whole run: where the data comes from and what happens to it, stage by stage."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    description: str = ""
    run_dir: RelPath | None = None
    base_model: str = DEFAULT_BASE_MODEL
    seed: int = 0
    sources: list[SourceConfig] = []
    clean: CleanConfig = CleanConfig()
    dataset: DatasetConfig = DatasetConfig()
    train: TrainConfig = LocalTrainConfig()
    evaluate: EvaluateConfig = EvaluateConfig()
    # `register` is a pydantic BaseModel attribute, hence the trailing underscore.
    register_: RegisterConfig = Field(default=RegisterConfig(), alias="register")
    chat: ChatConfig = ChatConfig()

    @field_validator("base_model")
    @classmethod
    def _base_model_path_relative_to_file(cls, value: str, info: ValidationInfo) -> str:
        """A base model given as a path is relative to the pipeline file, like every other path."""
        base = (info.context or {}).get("base_dir")
        looks_like_path = value.startswith((".", "~", "/")) or os.sep in value
        if base is not None and looks_like_path:
            return str((Path(base) / Path(value).expanduser()).resolve())
        return value

    @model_validator(mode="before")
    @classmethod
    def _renamed_build_section(cls, data: Any) -> Any:
        return renamed_sections(data)

    @model_validator(mode="before")
    @classmethod
    def _default_train_backend(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("train"), dict):
            data = {**data, "train": {"backend": "local", **data["train"]}}
        return data

    def collect_config(self) -> CollectConfig:
        return CollectConfig(sources=self.sources)

    def resolved_run_dir(self, runs_root: Path | None = None) -> Path:
        """``run_dir`` when set, else ``runs/<name>`` under ``runs_root`` (default: cwd)."""
        if self.run_dir is not None:
            return Path(self.run_dir)
        return Path(runs_root or Path.cwd()) / "runs" / self.name


# ---------------------------------------------------------------- loading and errors

_FRIENDLY = {
    "missing": "required field missing",
    "int_parsing": "expected an integer",
    "int_type": "expected an integer",
    "int_from_float": "expected an integer",
    "float_parsing": "expected a number",
    "float_type": "expected a number",
    "bool_parsing": "expected true or false",
    "bool_type": "expected true or false",
    "string_type": "expected a string",
    "list_type": "expected a list",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
}


def load_pipeline(path: str | Path, overrides: dict[str, Any] | None = None) -> PipelineConfig:
    """Read and validate a pipeline file; raise ConfigError naming the file, line and key."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: pipeline file not found")
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: invalid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    if overrides:
        data = deep_merge(data, overrides)
    return validate_pipeline(data, source=str(path), base_dir=path.parent.resolve(), yaml_root=root)


def renamed_sections(data: Any, source: str = "<config>") -> Any:
    """``build:`` is the old name of ``dataset:``; accept it with a one-line deprecation notice."""
    if isinstance(data, dict) and "build" in data:
        if "dataset" in data:
            raise ConfigError(f"{source}: give `dataset:` only; `build:` is its old name")
        warn_deprecated("the pipeline key `build:` is now `dataset:`; rename it (the old name still works)")
        data = {("dataset" if key == "build" else key): value for key, value in data.items()}
    return data


def validate_pipeline(
    data: dict[str, Any], *, source: str = "<config>", base_dir: Path | None = None, yaml_root: Any = None
) -> PipelineConfig:
    """Validate a pipeline dict; errors name ``source`` and the key path.

    Every backend (built-in or installed plugin) is registered first, so a plugin's
    ``step: shout`` is validated by its own config like a built-in one.
    """
    from webtune.plugins import load_plugins

    load_plugins()
    data = renamed_sections(data, source)
    try:
        return PipelineConfig.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        lines = [format_error(err, data, source, yaml_root) for err in exc.errors()]
        raise ConfigError("\n".join(lines)) from None


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``extra``, merging nested mappings instead of replacing them."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def format_error(err: dict[str, Any], data: Any, source: str, yaml_root: Any = None) -> str:
    """One line for one pydantic error: ``file:line: key.path: message``."""
    keys = _data_path(err["loc"], data)
    dotted = ".".join(str(k) for k in keys) or "(top level)"
    line = _yaml_line(yaml_root, keys)
    where = f"{source}:{line}" if line else source
    # Our own validators' ValueErrors: their text, without pydantic's "Value error, " label.
    message = _FRIENDLY.get(err["type"], err["msg"].removeprefix("Value error, "))
    if err["type"] == "extra_forbidden":
        message = "unknown key"
    elif err["type"] == "union_tag_not_found":
        field = str(err.get("ctx", {}).get("discriminator", "kind")).strip("'")
        message = f"missing `{field}`: say which one"
    elif err["type"] == "union_tag_invalid":
        message = _unknown_tag_message(err.get("ctx", {}))
    elif err["type"] not in ("missing",) and not isinstance(err.get("input"), (dict, list)):
        message += f" (got {err.get('input')!r})"
    return f"{where}: {dotted}: {message}"


def _unknown_tag_message(ctx: dict[str, Any]) -> str:
    """``unknown step 'lenght' (did you mean 'length'?); choose one of: ...``"""
    field = str(ctx.get("discriminator", "kind")).strip("'")
    tag = str(ctx.get("tag", ""))
    choices = [t.strip().strip("'") for t in str(ctx.get("expected_tags", "")).split(",") if t.strip()]
    close = difflib.get_close_matches(tag, choices, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown {field} '{tag}'{hint}; choose one of: {', '.join(choices)}"


def _data_path(loc: tuple, data: Any) -> list[Any]:
    """The key path of an error in the user's data, without pydantic's union tags."""
    keys, node = [], data
    for index, part in enumerate(loc):
        is_last = index == len(loc) - 1
        if isinstance(node, dict) and part in node:
            keys.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            keys.append(part)
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, str) and not is_last:
            continue  # a discriminated-union tag (the source kind, the train backend)
        else:
            keys.append(part)
            node = None
    return keys


def _yaml_line(root: Any, keys: list[Any]) -> int | None:
    """The 1-based line of the YAML node at ``keys`` (or of its nearest parent)."""
    node, line = root, (root.start_mark.line + 1 if root is not None else None)
    for key in keys:
        if isinstance(node, yaml.MappingNode):
            names = (str(key), "build") if key == "dataset" else (str(key),)  # `build:` is the old `dataset:`
            match = next(((k, v) for k, v in node.value if k.value in names), None)
            if match is None:
                break
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            break
    return line
