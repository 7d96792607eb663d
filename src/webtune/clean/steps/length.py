"""length: documents (or a field) between a minimum and maximum number of words / characters."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from webtune.clean import text as textlib
from webtune.clean.steps import STEPS
from webtune.clean.steps.base import Drop, TargetConfig, TextStep
from webtune.records import Document


class LengthConfig(TargetConfig):
    step: Literal["length"] = "length"
    min_words: int | None = Field(None, ge=0)
    max_words: int | None = Field(None, ge=1)
    min_chars: int | None = Field(None, ge=0)
    max_chars: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _ranges(self) -> "LengthConfig":
        for low, high in (("min_words", "max_words"), ("min_chars", "max_chars")):
            lo, hi = getattr(self, low), getattr(self, high)
            if lo is not None and hi is not None and lo > hi:
                raise ValueError(f"{low} ({lo}) is larger than {high} ({hi})")
        return self


@STEPS.register("length")
class Length(TextStep):
    """Reason codes: too_few_words, too_many_words, too_few_chars, too_many_chars."""

    Config = LengthConfig

    def apply(self, doc: Document, stats: dict[str, Any]) -> Drop | None:
        cfg = self.config
        text = self.measured_text(doc)
        if cfg.min_chars is not None or cfg.max_chars is not None:
            n = len(text)
            if cfg.min_chars is not None and n < cfg.min_chars:
                return Drop("too_few_chars", n, cfg.min_chars)
            if cfg.max_chars is not None and n > cfg.max_chars:
                return Drop("too_many_chars", n, cfg.max_chars)
        if cfg.min_words is not None or cfg.max_words is not None:
            n = len(textlib.words(text))
            if cfg.min_words is not None and n < cfg.min_words:
                return Drop("too_few_words", n, cfg.min_words)
            if cfg.max_words is not None and n > cfg.max_words:
                return Drop("too_many_words", n, cfg.max_words)
        return None
