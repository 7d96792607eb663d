"""length: documents (or a field) between a minimum and maximum number of words, characters or tokens.

Words are counted in the document's language (`webtune.text_units`): spaces in most scripts,
jieba / MeCab words in Chinese / Japanese. Tokens are the base model's (``tokenizer``: a local
model folder or a Hub id already in the local cache). A reject names the unit it counted in
(``units``), so "too_few_words: 5 < 12" can be told apart from a segmentation problem.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

from pydantic import Field, model_validator

from webtune import text_units
from webtune.clean.steps import STEPS
from webtune.clean.steps.base import Drop, TextStep, UnitsConfig
from webtune.extras import require
from webtune.records import Document


class LengthConfig(UnitsConfig):
    step: Literal["length"] = "length"
    min_words: int | None = Field(None, ge=0)
    max_words: int | None = Field(None, ge=1)
    min_chars: int | None = Field(None, ge=0)
    max_chars: int | None = Field(None, ge=1)
    min_tokens: int | None = Field(None, ge=0)
    max_tokens: int | None = Field(None, ge=1)
    # The base model's tokenizer for min/max_tokens: a model folder or a cached Hub id.
    tokenizer: str | None = None

    @model_validator(mode="after")
    def _ranges(self) -> "LengthConfig":
        for low, high in (("min_words", "max_words"), ("min_chars", "max_chars"), ("min_tokens", "max_tokens")):
            lo, hi = getattr(self, low), getattr(self, high)
            if lo is not None and hi is not None and lo > hi:
                raise ValueError(f"{low} ({lo}) is larger than {high} ({hi})")
        if (self.min_tokens is not None or self.max_tokens is not None) and not self.tokenizer:
            raise ValueError("min_tokens / max_tokens count the base model's tokens: set 'tokenizer' "
                             "(a model folder or Hub id)")
        return self


@lru_cache(maxsize=2)
def load_tokenizer(name: str):
    """The base model's tokenizer (transformers), loaded once per process."""
    require(f"clean step 'length' (tokenizer {name})", "train", "transformers")
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(name)


@STEPS.register("length")
class Length(TextStep):
    """Reason codes: too_few_words, too_many_words, too_few_chars, too_many_chars,
    too_few_tokens, too_many_tokens."""

    Config = LengthConfig

    def apply(self, doc: Document, stats: dict[str, Any]) -> Drop | None:
        cfg = self.config
        text = self.measured_text(doc)
        if cfg.min_chars is not None or cfg.max_chars is not None:
            drop = _check("chars", len(text), cfg.min_chars, cfg.max_chars, "characters")
            if drop:
                return drop
        if cfg.min_words is not None or cfg.max_words is not None:
            lang = self.language_of(doc, text)
            kind = text_units.unit_kind(lang, cfg.units_fallback)
            n = len(text_units.words(text, lang, cfg.units_fallback))
            drop = _check("words", n, cfg.min_words, cfg.max_words, kind)
            if drop:
                return drop
        if cfg.min_tokens is not None or cfg.max_tokens is not None:
            n = len(load_tokenizer(cfg.tokenizer)(text, add_special_tokens=False)["input_ids"])
            return _check("tokens", n, cfg.min_tokens, cfg.max_tokens, f"tokens of {cfg.tokenizer}")
        return None


def _check(unit: str, n: int, low: int | None, high: int | None, kind: str) -> Drop | None:
    # The reason code names the unit; ``units`` says more where it is not plain words or
    # characters (segmenter words, characters counted as words, a tokenizer's tokens).
    extra = {"units": kind} if kind not in ("words", "characters") or unit == "words" and kind != "words" else None
    if low is not None and n < low:
        return Drop(f"too_few_{unit}", n, low, extra=extra)
    if high is not None and n > high:
        return Drop(f"too_many_{unit}", n, high, extra=extra)
    return None
