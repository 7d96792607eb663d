"""gopher_quality: the Gopher quality rules (Rae et al. 2021), datatrove's default thresholds.

Words are the document language's units (`webtune.text_units`); for a language FineWeb-2
adapted (`webtune.clean.languages`) the average word length, alphabetic ratio and stop words
not set in the pipeline file are that language's."""

from __future__ import annotations

import re

from typing import Any, Literal

from webtune.clean import languages
from webtune.clean.steps import STEPS
from webtune.clean.steps.base import Drop, TextStep, UnitsConfig
from webtune.records import Document

GOPHER_STOP_WORDS = ["the", "be", "to", "of", "and", "that", "have", "with"]


class GopherQualityConfig(UnitsConfig):
    step: Literal["gopher_quality"] = "gopher_quality"
    # Defaults: datatrove GopherQualityFilter.
    min_doc_words: int | None = 50
    max_doc_words: int | None = 100_000
    min_avg_word_length: float | None = 3
    max_avg_word_length: float | None = 10
    max_symbol_word_ratio: float | None = 0.1
    max_bullet_lines_ratio: float | None = 0.9
    max_ellipsis_lines_ratio: float | None = 0.3
    max_non_alpha_words_ratio: float | None = 0.8
    min_stop_words: int | None = 2
    stop_words: list[str] = GOPHER_STOP_WORDS


@STEPS.register("gopher_quality")
class GopherQuality(TextStep):
    """Reason codes follow datatrove's: gopher_short_doc, gopher_long_doc, ..."""

    Config = GopherQualityConfig

    def __init__(self, config: GopherQualityConfig):
        super().__init__(config)
        self.stop_words = frozenset(config.stop_words)

    def apply(self, doc: Document, stats: dict[str, Any]) -> Drop | None:
        text = self.measured_text(doc)
        lang = self.language_of(doc, text)
        cfg = self.config
        if languages.is_adapted(lang) and cfg.per_language:
            cfg = cfg.model_copy(update={name: languages.setting(cfg, name, lang) for name in (
                "min_avg_word_length", "max_avg_word_length", "max_non_alpha_words_ratio", "stop_words")})
            stop_words = frozenset(cfg.stop_words)
        else:
            stop_words = self.stop_words
        return gopher_quality(text, cfg, stop_words, self.units(text, lang))


_ALNUM = re.compile(r"[^\W_]").search


def gopher_quality(text: str, cfg: GopherQualityConfig, stop_words: frozenset[str],
                   toks: tuple[str, ...]) -> Drop | None:
    """The first Gopher quality rule ``text`` (as units ``toks``) fails, or None."""
    n_tokens = len(toks)
    # [^\W_] is exactly str.isalnum's characters (Python's \w is isalnum plus "_")
    word_list = [t for t in toks if _ALNUM(t)]
    n_words = len(word_list)
    if cfg.min_doc_words is not None and n_words < cfg.min_doc_words:
        return Drop("gopher_short_doc", n_words, cfg.min_doc_words)
    if cfg.max_doc_words is not None and n_words > cfg.max_doc_words:
        return Drop("gopher_long_doc", n_words, cfg.max_doc_words)
    if n_words == 0:
        return Drop("gopher_short_doc", 0, cfg.min_doc_words)
    avg = sum(len(w) for w in word_list) / n_words
    if cfg.min_avg_word_length is not None and avg < cfg.min_avg_word_length:
        return Drop("gopher_below_avg_threshold", round(avg, 3), cfg.min_avg_word_length)
    if cfg.max_avg_word_length is not None and avg > cfg.max_avg_word_length:
        return Drop("gopher_above_avg_threshold", round(avg, 3), cfg.max_avg_word_length)
    if cfg.max_symbol_word_ratio is not None:
        ratio = text.count("#") / n_tokens
        if ratio > cfg.max_symbol_word_ratio:
            return Drop("gopher_too_many_hashes", round(ratio, 4), cfg.max_symbol_word_ratio)
        ratio = (text.count("...") + text.count("…")) / n_tokens
        if ratio > cfg.max_symbol_word_ratio:
            return Drop("gopher_too_many_ellipsis", round(ratio, 4), cfg.max_symbol_word_ratio)
    lines = text.splitlines() or [""]
    if cfg.max_bullet_lines_ratio is not None:
        ratio = sum(l.lstrip().startswith(("•", "-", "*")) for l in lines) / len(lines)
        if ratio > cfg.max_bullet_lines_ratio:
            return Drop("gopher_too_many_bullets", round(ratio, 4), cfg.max_bullet_lines_ratio)
    if cfg.max_ellipsis_lines_ratio is not None:
        ratio = sum(l.rstrip().endswith(("...", "…")) for l in lines) / len(lines)
        if ratio > cfg.max_ellipsis_lines_ratio:
            return Drop("gopher_too_many_end_ellipsis", round(ratio, 4), cfg.max_ellipsis_lines_ratio)
    if cfg.max_non_alpha_words_ratio is not None:
        ratio = sum(1 for t in toks if t.isalpha() or any(c.isalpha() for c in t)) / n_tokens
        if ratio < cfg.max_non_alpha_words_ratio:
            return Drop("gopher_below_alpha_threshold", round(ratio, 4), cfg.max_non_alpha_words_ratio)
    if cfg.min_stop_words is not None:
        found = len(stop_words.intersection(t.lower() for t in toks))
        if found < cfg.min_stop_words:
            return Drop("gopher_enough_stop_words", found, cfg.min_stop_words)
    return None
