"""The ``--fine-tuning-config`` file of `webtune serve --fine-tuning` (YAML).

Example::

    model_aliases:                      # OpenAI names a script may send -> webtune name or path
      gpt-4o-mini-2024-07-18: qwen2.5-0.5b-instruct
    train: {max_seq_len: 512, lora: {r: 8}}   # local trainer settings every job starts from
    organization: my-team               # the <org> in ft:<base>:<org>::<id> when no suffix is given
    max_upload_bytes: 536870912
    evaluate: {max_examples: 32, max_new_tokens: 64}   # how a job's validation file is evaluated
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from webtune.configbase import StrictModel
from webtune.errors import ConfigError


class FineTuningConfig(StrictModel):
    model_aliases: dict[str, str] = {}
    train: dict[str, Any] = {}
    organization: str = Field("webtune", min_length=1)
    max_upload_bytes: int = Field(512 * 1024 * 1024, ge=1024)
    # EvaluateConfig fields for evaluating base vs tuned on a job's validation file.
    evaluate: dict[str, Any] = {"max_examples": 32, "max_new_tokens": 64}


def load_fine_tuning_config(path: Path | None) -> FineTuningConfig:
    """The config in ``path`` (None: the defaults); a bad file is a one-line error naming it and the key."""
    if path is None:
        return FineTuningConfig()
    import yaml

    from webtune.train.backends.local_config import LocalTrainConfig

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read it: {exc}") from None
    try:
        config = FineTuningConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_first(exc)}") from None
    from webtune.evaluate.config import EvaluateConfig

    for key, model in (("train", LocalTrainConfig), ("evaluate", EvaluateConfig)):
        try:  # checked now rather than when the first job starts
            model.model_validate(getattr(config, key))
        except ValidationError as exc:
            raise ConfigError(f"{path}: {key}.{_first(exc)}") from None
    return config


def _first(exc: ValidationError) -> str:
    first = exc.errors()[0]
    return ".".join(str(p) for p in first["loc"]) + f": {first['msg']}"
