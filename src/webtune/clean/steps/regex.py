"""regex: custom regular expressions that drop, require or strip text."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field

from webtune.clean.steps import STEPS
from webtune.clean.steps.base import Drop, TargetConfig, TextStep, bump
from webtune.configbase import PatternList
from webtune.records import Document


class RegexConfig(TargetConfig):
    step: Literal["regex"] = "regex"
    patterns: PatternList = Field(min_length=1)
    # drop: drop a document matching any pattern; keep: drop one matching none;
    # strip: delete the matches from the text.
    mode: Literal["drop", "keep", "strip"] = "drop"
    ignore_case: bool = True
    reason: str = "regex"


@STEPS.register("regex")
class Regex(TextStep):
    """Reason codes: <reason>_match (mode drop), <reason>_no_match (mode keep)."""

    Config = RegexConfig

    def __init__(self, config: RegexConfig):
        super().__init__(config)
        flags = re.IGNORECASE if config.ignore_case else 0
        self.patterns = [re.compile(p, flags | re.MULTILINE) for p in config.patterns]

    def apply(self, doc: Document, stats: dict[str, Any]) -> Drop | None:
        cfg = self.config
        if cfg.mode == "strip":
            def strip(value: str) -> str:
                for pattern in self.patterns:
                    value, n = pattern.subn("", value)
                    if n:
                        bump(stats, "stripped", n)
                return value

            self.transform_targets(doc, strip)
            return None
        text = self.measured_text(doc)
        hit = next((p for p in self.patterns if p.search(text)), None)
        if cfg.mode == "drop" and hit is not None:
            return Drop(f"{cfg.reason}_match", hit.search(text).group(0)[:200], hit.pattern)
        if cfg.mode == "keep" and hit is None:
            return Drop(f"{cfg.reason}_no_match", None, cfg.patterns)
        return None
