"""Config of the clean stage (skeleton, deepened by the clean issue)."""

from __future__ import annotations

from typing import Any

from webtune.configbase import StrictModel


class CleanConfig(StrictModel):
    steps: list[dict[str, Any]] = []
