"""Per-language thresholds and stop words for the Gopher, FineWeb and C4 filters.

The English defaults (datatrove's) reject good text in other languages: Chinese words average
under 3 characters, Hindi lines end with "।", Spanish has its own stop words. The values below
are FineWeb-2's per-language adaptations, copied from its published configs
(https://github.com/huggingface/fineweb-2, ``configs/<iso3>_<script>.yml``, commit d0defb2),
where each threshold was tuned per language on ablation models (Penedo et al. 2025,
"FineWeb2: One Pipeline to Scale Them All"). FineWeb-2 measures words with a word
tokenizer per language, as `webtune.text_units` does here.

A step uses a language's value only for a setting left at its (English) default in the
pipeline file (a changed setting always wins), and only with ``per_language: true`` (the
default; ``false`` keeps the English defaults for every language). "Left at its default" is
judged by value, not by whether the key was written: step configs travel to the workers as
JSON with every field filled in. A language not listed keeps the English defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class LanguageThresholds:
    """FineWeb-2's values for one language (names as in the step configs)."""

    min_avg_word_length: float
    max_avg_word_length: float
    max_non_alpha_words_ratio: float
    line_punct_thr: float
    new_line_ratio: float
    dup_line_frac: float
    top_n_grams: list[tuple[int, float]]
    dup_n_grams: list[tuple[int, float]]
    stop_words: list[str]


LANGUAGE_THRESHOLDS: dict[str, LanguageThresholds] = {
    # configs/cmn_Hani.yml
    'zh': LanguageThresholds(
        min_avg_word_length=1, max_avg_word_length=5,
        max_non_alpha_words_ratio=0.735, line_punct_thr=0.106,
        new_line_ratio=0.178, dup_line_frac=0.287,
        top_n_grams=[(2, 0.256), (3, 0.201), (4, 0.171)],
        dup_n_grams=[(5, 0.198), (6, 0.182), (7, 0.167), (8, 0.154), (9, 0.14), (10, 0.127)],
        stop_words=['的', '年', '在', '月', '是', '和', '日', '了', '於', '·', '為', '有', '被', '人', '中', '为', '他', '與', '後', '也', '而', '由']),
    # configs/jpn_Jpan.yml
    'ja': LanguageThresholds(
        min_avg_word_length=1, max_avg_word_length=6,
        max_non_alpha_words_ratio=0.759, line_punct_thr=0.096,
        new_line_ratio=0.13, dup_line_frac=0.328,
        top_n_grams=[(2, 0.239), (3, 0.196), (4, 0.172)],
        dup_n_grams=[(5, 0.243), (6, 0.225), (7, 0.207), (8, 0.19), (9, 0.175), (10, 0.159)],
        stop_words=['の', 'に', 'を', 'は', 'た', 'て', 'が', 'と', 'で', '年', 'し', '・', '月', 'れ', 'さ']),
    # configs/kor_Hang.yml
    'ko': LanguageThresholds(
        min_avg_word_length=1, max_avg_word_length=6,
        max_non_alpha_words_ratio=0.791, line_punct_thr=0.062,
        new_line_ratio=0.196, dup_line_frac=0.374,
        top_n_grams=[(2, 0.282), (3, 0.228), (4, 0.185)],
        dup_n_grams=[(5, 0.201), (6, 0.184), (7, 0.168), (8, 0.154), (9, 0.14), (10, 0.127)],
        stop_words=['의', '다', '이', '는', '에', '을', '한', '년', '하', '은', '를', '했', '고', '에서', '가', '있', '으로', '인', '월', '로', '되']),
    # configs/arb_Arab.yml
    'ar': LanguageThresholds(
        min_avg_word_length=2, max_avg_word_length=9,
        max_non_alpha_words_ratio=0.787, line_punct_thr=0.143,
        new_line_ratio=0.189, dup_line_frac=0.304,
        top_n_grams=[(2, 0.197), (3, 0.172), (4, 0.146)],
        dup_n_grams=[(5, 0.165), (6, 0.153), (7, 0.142), (8, 0.131), (9, 0.12), (10, 0.109)],
        stop_words=['،', 'في', 'من', 'على', 'إلى', 'عام', 'أن', 'مع', 'أو', 'هو', 'عن', 'التي', 'كان', 'بين', 'ما', 'كانت', 'هي', 'المتحدة', 'بعد']),
    # configs/rus_Cyrl.yml
    'ru': LanguageThresholds(
        min_avg_word_length=3, max_avg_word_length=11,
        max_non_alpha_words_ratio=0.713, line_punct_thr=0.231,
        new_line_ratio=0.139, dup_line_frac=0.322,
        top_n_grams=[(2, 0.184), (3, 0.164), (4, 0.146)],
        dup_n_grams=[(5, 0.168), (6, 0.156), (7, 0.145), (8, 0.133), (9, 0.121), (10, 0.109)],
        stop_words=['в', 'и', 'на', 'с', 'года', 'по', 'году', 'из', 'был', 'к', 'не', 'от', 'что', 'за', 'для', 'его', 'как', 'а', 'он', 'также', 'до', 'после']),
    # configs/hin_Deva.yml
    'hi': LanguageThresholds(
        min_avg_word_length=2, max_avg_word_length=21,
        max_non_alpha_words_ratio=0.837, line_punct_thr=0.091,
        new_line_ratio=0.316, dup_line_frac=0.206,
        top_n_grams=[(2, 0.208), (3, 0.198), (4, 0.161)],
        dup_n_grams=[(5, 0.135), (6, 0.125), (7, 0.116), (8, 0.108), (9, 0.099), (10, 0.09)],
        stop_words=['के', 'में', 'है', 'की', 'और', 'से', 'का', 'को', 'एक', 'हैं', 'पर']),
    # configs/spa_Latn.yml
    'es': LanguageThresholds(
        min_avg_word_length=3, max_avg_word_length=14,
        max_non_alpha_words_ratio=0.825, line_punct_thr=0.182,
        new_line_ratio=0.138, dup_line_frac=0.252,
        top_n_grams=[(2, 0.156), (3, 0.14), (4, 0.125)],
        dup_n_grams=[(5, 0.145), (6, 0.136), (7, 0.127), (8, 0.117), (9, 0.108), (10, 0.099)],
        stop_words=['de', 'la', 'en', 'el', 'y', 'a', 'que', 'del', 'los', 'se', 'por', 'un', 'con', 'una', 'las', 'su']),
}

# Sentence-final punctuation beyond the Latin ". ! ?": CJK full stops, the Devanagari danda,
# the Arabic question mark and closing quotes/brackets that follow a final stop.
EXTRA_END_PUNCTUATION = ("。", "！", "？", "…", "」", "』", "”", "।", "॥", "؟", "؛", "»", "）")


# FineWeb-2 splits Korean into morphemes, so its stop words are particles ("의", "는", "을")
# that a space-separated eojeol ("서울의") never equals. Korean words here are eojeols, so
# the list gets Korean's most frequent free-standing function words as well.
LANGUAGE_THRESHOLDS["ko"] = replace(LANGUAGE_THRESHOLDS["ko"], stop_words=LANGUAGE_THRESHOLDS["ko"].stop_words + [
    "수", "것", "등", "그", "및", "또한", "그리고", "더", "있는", "있다", "있습니다", "하는", "한다", "이", "그러나",
    "하지만", "때", "중", "위해", "대한", "통해", "있고", "없는", "많은"])


def setting(config: Any, name: str, lang: str | None) -> Any:
    """``config.name``, or the language's FineWeb-2 value when the setting is at its default."""
    value = getattr(config, name)
    default = type(config).model_fields[name].get_default(call_default_factory=True)
    if value != default or not getattr(config, "per_language", True):
        return value
    table = LANGUAGE_THRESHOLDS.get(lang or "")
    return getattr(table, name) if table is not None and hasattr(table, name) else value


def is_adapted(lang: str | None) -> bool:
    """Whether ``lang`` has its own thresholds (otherwise the English defaults apply)."""
    return lang in LANGUAGE_THRESHOLDS
