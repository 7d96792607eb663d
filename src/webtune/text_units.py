"""Text units by script: the one place that says what a "word" is, for every clean step and metric.

Most scripts separate words with spaces, and there a word is a run of letters and digits
(``\\w+`` with inner apostrophes and hyphens) exactly as before. Chinese and Japanese do not,
and a ``\\w+`` run there is a whole clause: a 64-character Chinese product description
counted 5 "words". For those, `units` asks a word segmenter:

* Chinese: rjieba, the Rust port of jieba (jieba's dictionary and HMM for unknown words).
  Chosen over pure-Python jieba because it is a 3.6 MB wheel, needs no build step and
  segments about ten times faster, which matters in a clean pass over millions of documents.
* Japanese: fugashi (a MeCab wrapper whose wheels bundle MeCab, so no system library) with
  unidic-lite (the UniDic dictionary as a PyPI package: 47 MB download, no separate
  download step at run time). Chosen over janome (pure Python, ~20x slower) and sudachipy
  (its dictionary package is larger) for speed with a self-contained install.

Both come with the ``cjk`` extra. Where a segmenter is not installed, `units` stops with
one line naming the extra, unless the caller asked for ``fallback="chars"``: then each
CJK character is a unit (Latin words inside stay words). Thai, Lao, Khmer and Burmese have
no segmenter here and always use characters.

The language is the caller's: a configured ISO 639-1 code, the ``language`` step's result
(``meta.lang``), or else `sniff_language`, which looks only at the script (cheap, and
enough to choose units). English and every spaced language give exactly the old units, so
their clean results do not change.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Literal

from webtune.extras import require

Fallback = Literal["error", "chars"]

# Languages written without spaces between words.
SEGMENTED = {"zh": "rjieba", "ja": "fugashi"}
CHARACTER_SCRIPTS = frozenset({"th", "lo", "km", "my", "bo"})
UNSPACED = frozenset(SEGMENTED) | CHARACTER_SCRIPTS

_WORD = re.compile(r"\w+(?:['’\-]\w+)*")
_TOKEN = re.compile(r"\w+(?:['’\-]\w+)*|[^\w\s]+")


def _mark_class() -> str:
    """A regex class body of the combining marks (Mn, Mc) of the Basic Multilingual Plane."""
    ranges: list[tuple[int, int]] = []
    for code in range(0x300, 0x10000):
        if unicodedata.category(chr(code)) in ("Mn", "Mc"):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    return "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges)


# Python's \w has no combining marks, so it cut Hindi "हिंदी" into "ह", "द": other languages'
# words take the vowel signs and diacritics in. English keeps the old patterns (same results).
_M = _mark_class()
_WORD_INTL = re.compile(rf"[\w{_M}]+(?:['’\-][\w{_M}]+)*")
_TOKEN_INTL = re.compile(rf"[\w{_M}]+(?:['’\-][\w{_M}]+)*|[^\w\s{_M}]+")
_CJK_RANGES = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u0f00-\u0fff"
# One unit per CJK (or other unspaced-script) character; other words and punctuation runs as usual.
_NON_CJK_WORD = rf"(?:(?![{_CJK_RANGES}])\w)+"
_CHAR_TOKEN = re.compile(rf"[{_CJK_RANGES}]|{_NON_CJK_WORD}(?:['’\-]{_NON_CJK_WORD})*|[^\w\s]+")

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]")
_SCRIPTS = {"th": re.compile(r"[\u0e00-\u0e7f]"), "lo": re.compile(r"[\u0e80-\u0eff]"),
            "km": re.compile(r"[\u1780-\u17ff]"), "my": re.compile(r"[\u1000-\u109f]"),
            "bo": re.compile(r"[\u0f00-\u0fff]"),
            # Indic scripts: spaced, but their words need the combining marks (`_WORD_INTL`).
            "hi": re.compile(r"[\u0900-\u097f]"), "bn": re.compile(r"[\u0980-\u09ff]"),
            "pa": re.compile(r"[\u0a00-\u0a7f]"), "gu": re.compile(r"[\u0a80-\u0aff]"),
            "ta": re.compile(r"[\u0b80-\u0bff]"), "te": re.compile(r"[\u0c00-\u0c7f]"),
            "kn": re.compile(r"[\u0c80-\u0cff]"), "ml": re.compile(r"[\u0d00-\u0d7f]")}


def sniff_language(text: str, sample: int = 2000) -> str | None:
    """"zh", "ja", "ko", an unspaced or Indic script's code when that script dominates; else None.

    Only the script is looked at (a share of the letters), not the words: this picks units,
    it is not language identification (that is the ``language`` step's job).
    """
    head = text[:sample]
    if head.isascii():  # no letter of any script sniffed here (a fast path: most web text)
        return None
    letters = sum(1 for c in head if c.isalpha())
    if not letters:
        return None
    han, kana = len(_HAN.findall(head)), len(_KANA.findall(head))
    if (han + kana) / letters >= 0.3:
        # Japanese mixes kana into nearly every sentence; Chinese has none.
        return "ja" if kana >= 0.05 * (han + kana) else "zh"
    if len(_HANGUL.findall(head)) / letters >= 0.3:
        return "ko"
    for code, pattern in _SCRIPTS.items():
        if len(pattern.findall(head)) / letters >= 0.3:
            return code
    return None


def resolve_language(text: str, configured: str | None = None, detected: str | None = None) -> str | None:
    """The language whose units to use: the configured one, the detected one, else the script's."""
    lang = configured or detected
    if lang:
        return lang.lower().split("-")[0].split("_")[0]
    return sniff_language(text)


def unit_kind(lang: str | None, fallback: Fallback = "error") -> str:
    """What a unit is for ``lang``: "words", "jieba words", "MeCab (UniDic) words" or "characters"."""
    if lang in SEGMENTED:
        from webtune.extras import is_available

        if is_available(SEGMENTED[lang]) and (lang != "ja" or is_available("unidic_lite")):
            return "jieba words" if lang == "zh" else "MeCab (UniDic) words"
        if fallback == "chars":
            return "characters"
        _require_segmenter(lang)
    if lang in CHARACTER_SCRIPTS:
        return "characters"
    return "words"


def _require_segmenter(lang: str) -> None:
    modules = ("rjieba",) if lang == "zh" else ("fugashi", "unidic_lite")
    require(f"word units for '{lang}' text", "cjk", *modules)


@lru_cache(maxsize=1)
def _mecab():
    import fugashi
    import unidic_lite

    return fugashi.Tagger(f'-d "{unidic_lite.DICDIR}"')


def segment(text: str, lang: str) -> list[str]:
    """The segmenter's words of ``text`` (punctuation included, spaces not)."""
    if lang == "zh":
        import rjieba

        pieces = rjieba.cut(text)
    else:
        pieces = [w.surface for w in _mecab()(text)]
    return [p for p in pieces if p.strip()]


@lru_cache(maxsize=8)
def tokens(text: str, lang: str | None = None, fallback: Fallback = "error") -> tuple[str, ...]:
    """Words and runs of punctuation of ``text`` in the units of ``lang`` (see the module doc).

    Cached: consecutive filters measure the same text."""
    kind = unit_kind(lang, fallback)
    if kind == "words":
        return tuple((_TOKEN if lang in (None, "en") else _TOKEN_INTL).findall(text))
    if kind == "characters":
        return tuple(_CHAR_TOKEN.findall(text))
    out: list[str] = []
    for piece in segment(text, lang):  # type: ignore[arg-type]
        # Segmenters keep "Wi-Fi" or "3.5mm" whole or split them; punctuation runs stay separate
        # tokens as in the spaced case, so the Gopher symbol ratios mean the same thing.
        out.extend(_TOKEN.findall(piece) if not any(c.isalnum() for c in piece) else [piece])
    return tuple(out)


def words(text: str, lang: str | None = None, fallback: Fallback = "error") -> list[str]:
    """Words of ``text``: ``\\w+`` runs in spaced scripts, segmenter words or characters otherwise."""
    if unit_kind(lang, fallback) == "words":
        return (_WORD if lang in (None, "en") else _WORD_INTL).findall(text)
    return [t for t in tokens(text, lang, fallback) if any(c.isalnum() for c in t)]


def joiner(lang: str | None) -> str:
    """How units of ``lang`` are written together: a space, or nothing for unspaced scripts."""
    return "" if lang in UNSPACED else " "


def char_shingle_units(text: str) -> list[str]:
    """Units for character n-gram shingles: each CJK character, other words whole."""
    return _CHAR_TOKEN.findall(text)
