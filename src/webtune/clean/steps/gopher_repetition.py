"""gopher_repetition: repeated lines, paragraphs and n-grams (Gopher table A1, datatrove defaults).

N-grams are of the document language's units (`webtune.text_units`), written together as
the language writes them (no spaces in Chinese or Japanese); FineWeb-2's per-language
fractions apply where not set in the pipeline file (`webtune.clean.languages`)."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, Literal

from webtune import text_units
from webtune.clean import languages
from webtune.clean.steps import STEPS
from webtune.clean.steps.base import Drop, TextStep, UnitsConfig
from webtune.records import Document

_PARAGRAPHS = re.compile(r"\n{2,}")
_LINES = re.compile(r"\n+")


class GopherRepetitionConfig(UnitsConfig):
    step: Literal["gopher_repetition"] = "gopher_repetition"
    # Defaults: datatrove GopherRepetitionFilter (Gopher paper, table A1).
    dup_line_frac: float | None = 0.3
    dup_para_frac: float | None = 0.3
    dup_line_char_frac: float | None = 0.2
    dup_para_char_frac: float | None = 0.2
    top_n_grams: list[tuple[int, float]] = [(2, 0.2), (3, 0.18), (4, 0.16)]
    dup_n_grams: list[tuple[int, float]] = [(5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10)]


def find_duplicates(items: list[str]) -> tuple[int, int]:
    """(number of repeated items, characters in repeated items) after each item's first copy."""
    seen: set[str] = set()
    dup_items = dup_chars = 0
    for item in items:
        if item in seen:
            dup_items += 1
            dup_chars += len(item)
        else:
            seen.add(item)
    return dup_items, dup_chars


def top_ngram_chars(words: list[str], n: int, sep: str = " ") -> int:
    """Characters covered by the most frequent n-gram (its length times its count)."""
    if sep and n > 1:
        # Count word tuples rather than joined strings (no string built per n-gram): with a
        # separator no unit contains, equal tuples are exactly equal strings, and ties go to
        # the first seen either way.
        tuples = Counter(zip(*(words[k:] for k in range(n))))
        if not tuples:
            return 0
        top, count = tuples.most_common(1)[0]
        return (sum(map(len, top)) + len(sep) * (n - 1)) * count
    grams = Counter(sep.join(words[i:i + n]) for i in range(len(words) - n + 1))
    if not grams:
        return 0
    gram, count = grams.most_common(1)[0]
    return len(gram) * count


def duplicate_ngram_chars(words: list[str], n: int) -> int:
    """Characters in n-grams that repeat an earlier n-gram (non-overlapping, as in Gopher)."""
    grams = list(zip(*(words[k:] for k in range(n))))
    if len(set(grams)) == len(grams):
        return 0  # no n-gram occurs twice: the scan below would find nothing (most pages, at C speed)
    seen: set[tuple[str, ...]] = set()
    chars = i = 0
    while i < len(grams):
        gram = grams[i]
        if gram in seen:
            chars += sum(map(len, gram))
            i += n  # the n-grams inside a repeat are skipped, not remembered
        else:
            seen.add(gram)
            i += 1
    return chars


@STEPS.register("gopher_repetition")
class GopherRepetition(TextStep):
    """Reason codes: dup_para_frac, dup_para_char_frac, dup_line_frac, dup_line_char_frac,
    top_<n>_gram, duplicated_<n>_n_grams."""

    Config = GopherRepetitionConfig

    def apply(self, doc: Document, stats: dict[str, Any]) -> Drop | None:
        text = self.measured_text(doc)
        lang = self.language_of(doc, text)
        cfg = self.config
        if languages.is_adapted(lang) and cfg.per_language:
            cfg = cfg.model_copy(update={name: languages.setting(cfg, name, lang) for name in (
                "dup_line_frac", "top_n_grams", "dup_n_grams")})
        return gopher_repetition(text, cfg, self.units(text, lang), text_units.joiner(lang))


def gopher_repetition(text: str, cfg: GopherRepetitionConfig, word_list: tuple[str, ...] | None = None,
                      sep: str = " ") -> Drop | None:
    """The first repetition rule ``text`` (as units ``word_list``) fails, or None."""
    if not text.strip():
        return Drop("empty", 0, 1)
    size = len(text)
    for unit, parts, frac_limit, char_limit in (
            ("para", _PARAGRAPHS.split(text.strip()), cfg.dup_para_frac, cfg.dup_para_char_frac),
            ("line", _LINES.split(text), cfg.dup_line_frac, cfg.dup_line_char_frac)):
        n_dup, chars = find_duplicates(parts)
        if frac_limit is not None and n_dup / len(parts) > frac_limit:
            return Drop(f"dup_{unit}_frac", round(n_dup / len(parts), 4), frac_limit)
        if char_limit is not None and chars / size > char_limit:
            return Drop(f"dup_{unit}_char_frac", round(chars / size, 4), char_limit)
    if word_list is None:
        word_list = text_units.tokens(text)
    for n, limit in cfg.top_n_grams:
        ratio = top_ngram_chars(word_list, n, sep) / size
        if ratio > limit:
            return Drop(f"top_{n}_gram", round(ratio, 4), limit)
    for n, limit in sorted(cfg.dup_n_grams):
        chars = duplicate_ngram_chars(word_list, n)
        if chars / size > limit:
            return Drop(f"duplicated_{n}_n_grams", round(chars / size, 4), limit)
        if chars == 0:
            break  # no repeated n-gram means no repeated longer n-gram either
    return None
