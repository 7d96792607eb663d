"""Building blocks for config models: strict models, paths relative to the pipeline file, and
lists of regular expressions checked when the config is read."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationInfo


class StrictModel(BaseModel):
    """A config section: unknown keys are errors, so typos never pass silently."""

    model_config = ConfigDict(extra="forbid", validate_default=True)


def _resolve_path(value: Path, info: ValidationInfo) -> Path:
    """Resolve a relative path against the directory of the pipeline file (when known)."""
    value = Path(value).expanduser()
    base = (info.context or {}).get("base_dir")
    if base is not None and not value.is_absolute():
        return Path(base) / value
    return value


# A path that is relative to the pipeline file's directory, not to the current directory.
RelPath = Annotated[Path, AfterValidator(_resolve_path)]


def _compile_all(patterns: list[str]) -> list[str]:
    """Fail at config time, naming the pattern, rather than mid-run on the first record."""
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None
    return patterns


# A list of regular expressions, each checked to compile.
PatternList = Annotated[list[str], AfterValidator(_compile_all)]
