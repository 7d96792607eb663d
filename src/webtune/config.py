"""The pipeline file: one YAML document that describes a whole run, validated by pydantic.

    name: office-products
    base_model: smollm2-135m-instruct
    sources: [...]        # collect
    clean: {...}
    dataset: {...}
    train: {...}
    evaluate: {...}
    register: {...}
    export: {...}         # optional: GGUF / Ollama / HF files of the registered version
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
from webtune.export.config import ExportConfig
from webtune.refresh.config import RefreshConfig
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
    export: ExportConfig | None = None  # no section: the export stage is skipped
    chat: ChatConfig = ChatConfig()
    # Present (or `webtune run --refresh`): each run collects what is new since the last one,
    # dedups against history and promotes only a model better than production (docs/pipeline.md).
    refresh: RefreshConfig | None = None

    @field_validator("base_model")
    @classmethod
    def _base_model_path_relative_to_file(cls, value: str, info: ValidationInfo) -> str:
        """A base model given as a path is relative to the pipeline file, like every other path.

        ``org/repo`` is a Hub id (`webtune.models.hub`) unless such a directory exists there."""
        from webtune.models.hub import parse_hub_ref

        base = (info.context or {}).get("base_dir")
        looks_like_path = value.startswith((".", "~", "/")) or os.sep in value
        if looks_like_path and parse_hub_ref(value) is not None and base is not None:
            looks_like_path = (Path(base) / value).exists()
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
    data, root = parse_pipeline_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    if overrides:
        data = deep_merge(data, overrides)
    config = validate_pipeline(data, source=str(path), base_dir=path.parent.resolve(), yaml_root=root)
    check_model_bounds(config, str(path), root)
    return config


# Limits on a pipeline file, so a hostile or broken one is a one-line error, not a
# RecursionError traceback or a process eating memory until it is killed.
MAX_PIPELINE_BYTES = 10 * 1024 * 1024
MAX_YAML_DEPTH = 64
MAX_YAML_VALUES = 500_000  # values after aliases are expanded (a billion-laughs file has 10^9)
# YAML 1.1 reads these plain words as booleans; as *keys* they are always meant as names
# (the documented `yes: true` of the OpenAI backend), so keys keep them as strings.
_WORD_BOOLEANS = {"yes", "no", "on", "off", "y", "n"}
_BOOL_TAG, _STR_TAG, _FLOAT_TAG = "tag:yaml.org,2002:bool", "tag:yaml.org,2002:str", "tag:yaml.org,2002:float"


class _LimitedLoader(yaml.SafeLoader):
    """PyYAML's safe loader with a nesting limit, and `yes:`/`no:`/`on:`/`off:` keys read as strings."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.depth >= MAX_YAML_DEPTH:
            mark = self.peek_event().start_mark
            raise _YamlLimit(mark.line + 1, f"nested more than {MAX_YAML_DEPTH} levels deep")
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        for key_node, _ in node.value:
            if (isinstance(key_node, yaml.ScalarNode) and key_node.tag == _BOOL_TAG and key_node.style is None
                    and key_node.value.lower() in _WORD_BOOLEANS):
                key_node.tag = _STR_TAG
        return super().construct_mapping(node, deep)


class _YamlLimit(Exception):
    """A pipeline file over a limit, at a line: turned into a ConfigError naming the file."""

    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line = line


def parse_pipeline_yaml(path: Path) -> tuple[Any, Any]:
    """``(data, root node)`` of a pipeline file, within the limits above; ConfigError otherwise."""
    size = path.stat().st_size
    if size > MAX_PIPELINE_BYTES:
        raise ConfigError(f"{path}: the pipeline file is {size:,} bytes, over the {MAX_PIPELINE_BYTES:,}-byte "
                          "limit; keep long lists (inputs, URLs) in their own files")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"{path}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); "
                          "save the file as UTF-8") from None
    try:
        loader = _LimitedLoader(text)
    except yaml.reader.ReaderError as exc:  # a control character (NUL, ...) YAML does not allow
        line = text.count("\n", 0, exc.position) + 1
        raise ConfigError(f"{path}:{line}: invalid YAML: character #x{exc.character:04x} is not allowed") from None
    try:
        root = loader.get_single_node()
        if root is None:
            return None, None
        check_yaml_nodes(root)
        return loader.construct_document(root), root
    except _YamlLimit as exc:
        raise ConfigError(f"{path}:{exc.line}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: invalid YAML: {problem}") from None
    finally:
        loader.dispose()


def check_yaml_nodes(root: Any) -> None:
    """Refuse duplicate keys, non-finite numbers, recursive aliases and alias bombs; `_YamlLimit` names the line."""
    sizes: dict[int, int] = {}
    in_progress: set[int] = set()
    total = [0]

    def visit(node: Any, keys: list[Any]) -> int:
        ident = id(node)
        if ident in sizes:  # an alias of a node already counted: its values count again
            total[0] += sizes[ident]
            _check_total(total[0], node, keys)
            return sizes[ident]
        if ident in in_progress:
            raise _YamlLimit(node.start_mark.line + 1, f"{_dotted(keys)}: an alias refers to a value that holds it")
        in_progress.add(ident)
        total[0] += 1
        size = 1
        if isinstance(node, yaml.MappingNode):
            _check_duplicate_keys(node, keys)
            for key_node, value_node in node.value:
                size += visit(value_node, keys + [getattr(key_node, "value", "?")])
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                size += visit(item, keys + [index])
        elif node.tag == _FLOAT_TAG and node.value.lower().lstrip("+-") in (".inf", ".nan"):
            raise _YamlLimit(node.start_mark.line + 1, f"{_dotted(keys)}: must be a finite number (got {node.value})")
        in_progress.discard(ident)
        sizes[ident] = size
        _check_total(total[0], node, keys)
        return size

    visit(root, [])


def _check_total(total: int, node: Any, keys: list[Any]) -> None:
    if total > MAX_YAML_VALUES:
        raise _YamlLimit(node.start_mark.line + 1, f"{_dotted(keys)}: the file expands to more than "
                         f"{MAX_YAML_VALUES:,} values (through aliases, *name?)")


def _check_duplicate_keys(node: Any, keys: list[Any]) -> None:
    seen: dict[str, int] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
            continue
        line = key_node.start_mark.line + 1
        if key_node.value in seen:
            raise _YamlLimit(line, f"{_dotted(keys + [key_node.value])}: duplicate key "
                                   f"(also on line {seen[key_node.value]})")
        seen[key_node.value] = line


def _dotted(keys: list[Any]) -> str:
    return ".".join(_printable(k) for k in keys) or "(top level)"


def _printable(key: Any) -> str:
    """A key as text for a one-line message: quoted when it holds line breaks or other control characters."""
    text = str(key)
    return text if text.isprintable() else repr(text)


def check_model_bounds(config: PipelineConfig, source: str, root: Any = None) -> None:
    """Token counts the base model cannot hold are refused here, not after minutes of generating."""
    from webtune.models.catalog import CATALOG

    entry = CATALOG.get(config.base_model)
    if entry is None:  # a local checkpoint: its context is known only once loaded
        return
    wanted = config.evaluate.max_new_tokens
    if wanted > entry.context_length:
        line = _yaml_line(root, ["evaluate", "max_new_tokens"])
        where = f"{source}:{line}" if line else source
        raise ConfigError(f"{where}: evaluate.max_new_tokens: {wanted} is more than the {entry.context_length} "
                          f"tokens of {config.base_model}'s context")


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
    dotted = _dotted(keys)
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
