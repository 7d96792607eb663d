"""fineweb: the FineWeb quality rules, with datatrove's FineWebQualityFilter default thresholds.

Words are the document language's units (`webtune.text_units`). For a language FineWeb-2
adapted (`webtune.clean.languages`), the line-punctuation and newline ratios not set in the
pipeline file are that language's, and its sentence-final marks ("।", "؟", "」", ...) count as
terminal punctuation."""

from __future__ import annotations

from typing import Any, Literal

from webtune import text_units
from webtune.clean import languages
from webtune.clean.steps import STEPS
from webtune.clean.steps.base import Drop, TextStep, UnitsConfig
from webtune.clean.steps.gopher_repetition import find_duplicates
from webtune.records import Document

STOP_CHARS = (".", "'", '"', "!", "?", "。", "！", "？", "…")


class FineWebConfig(UnitsConfig):
    step: Literal["fineweb"] = "fineweb"
    line_punct_thr: float = 0.12
    line_punct_exclude_zero: bool = False
    short_line_thr: float = 0.67
    short_line_length: int = 30
    char_duplicates_ratio: float = 0.01
    new_line_ratio: float = 0.3


@STEPS.register("fineweb")
class FineWeb(TextStep):
    """Reason codes: empty, line_punct_ratio, short_line_ratio, char_dup_ratio, list_ratio."""

    Config = FineWebConfig

    def apply(self, doc: Document, stats: dict[str, Any]) -> Drop | None:
        text = self.measured_text(doc)
        lang = self.language_of(doc, text)
        cfg, stop_chars = self.config, STOP_CHARS
        if languages.is_adapted(lang) and cfg.per_language:
            cfg = cfg.model_copy(update={name: languages.setting(cfg, name, lang)
                                         for name in ("line_punct_thr", "new_line_ratio")})
            stop_chars = STOP_CHARS + languages.EXTRA_END_PUNCTUATION
        return fineweb(text, cfg, self.units(text, lang) if text.strip() else (), stop_chars)


def fineweb(text: str, cfg: FineWebConfig, units: tuple[str, ...] | None = None,
            stop_chars: tuple[str, ...] = STOP_CHARS) -> Drop | None:
    """The first FineWeb rule ``text`` (as units ``units``) fails, or None."""
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines:
        return Drop("empty", 0, 1)
    ratio = sum(line.endswith(stop_chars) for line in lines) / len(lines)
    if ratio < cfg.line_punct_thr and not (ratio == 0 and cfg.line_punct_exclude_zero):
        return Drop("line_punct_ratio", round(ratio, 4), cfg.line_punct_thr)
    ratio = sum(len(line) <= cfg.short_line_length for line in lines) / len(lines)
    if ratio > cfg.short_line_thr:
        return Drop("short_line_ratio", round(ratio, 4), cfg.short_line_thr)
    ratio = find_duplicates(lines)[1] / max(1, len(text.replace("\n", "")))
    if ratio > cfg.char_duplicates_ratio:
        return Drop("char_dup_ratio", round(ratio, 4), cfg.char_duplicates_ratio)
    n_words = len(units if units is not None else text_units.tokens(text))
    ratio = text.count("\n") / max(1, n_words)
    if ratio > cfg.new_line_ratio:
        return Drop("list_ratio", round(ratio, 4), cfg.new_line_ratio)
    return None
