"""fineweb: the FineWeb quality rules, with datatrove's FineWebQualityFilter default thresholds."""

from __future__ import annotations

from typing import Any, Literal

from webtune.clean import text as textlib
from webtune.clean.steps import STEPS
from webtune.clean.steps.base import Drop, TargetConfig, TextStep
from webtune.clean.steps.gopher_repetition import find_duplicates
from webtune.records import Document

STOP_CHARS = (".", "'", '"', "!", "?", "。", "！", "？", "…")


class FineWebConfig(TargetConfig):
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
        return fineweb(self.measured_text(doc), self.config)


def fineweb(text: str, cfg: FineWebConfig) -> Drop | None:
    """The first FineWeb rule ``text`` fails, or None."""
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines:
        return Drop("empty", 0, 1)
    ratio = sum(line.endswith(STOP_CHARS) for line in lines) / len(lines)
    if ratio < cfg.line_punct_thr and not (ratio == 0 and cfg.line_punct_exclude_zero):
        return Drop("line_punct_ratio", round(ratio, 4), cfg.line_punct_thr)
    ratio = sum(len(line) <= cfg.short_line_length for line in lines) / len(lines)
    if ratio > cfg.short_line_thr:
        return Drop("short_line_ratio", round(ratio, 4), cfg.short_line_thr)
    ratio = find_duplicates(lines)[1] / max(1, len(text.replace("\n", "")))
    if ratio > cfg.char_duplicates_ratio:
        return Drop("char_dup_ratio", round(ratio, 4), cfg.char_duplicates_ratio)
    n_words = len(textlib.tokens(text))
    ratio = text.count("\n") / max(1, n_words)
    if ratio > cfg.new_line_ratio:
        return Drop("list_ratio", round(ratio, 4), cfg.new_line_ratio)
    return None
