"""webtune.text_units: words by script, the language choice, and one line when a segmenter is missing."""

from __future__ import annotations

import re

import pytest

from webtune import extras, text_units
from webtune.extras import MissingExtraError

# 64 characters: a Chinese product description the demo's `length` step (min_words 12) used to drop.
ZH_DESCRIPTION = "这款人体工学办公椅采用透气网布靠背，支持腰部调节和扶手升降，适合长时间伏案工作的上班族使用，座垫采用高回弹海绵，久坐也不感到累。"
JA_SENTENCE = "このオフィスチェアは人間工学に基づいて設計されており、長時間のデスクワークでも疲れにくいです。"


def test_the_measured_chinese_description_has_64_characters_and_five_old_words():
    assert len(ZH_DESCRIPTION) == 64
    assert len(re.findall(r"\w+(?:['’\-]\w+)*", ZH_DESCRIPTION)) == 5  # the measurement


def test_chinese_and_japanese_are_segmented_into_words():
    zh = text_units.words(ZH_DESCRIPTION, "zh")
    assert 25 <= len(zh) <= 45 and "办公椅" in zh and "透气" in zh
    assert "，" not in zh and "，" in text_units.tokens(ZH_DESCRIPTION, "zh")
    ja = text_units.words(JA_SENTENCE, "ja")
    assert {"オフィス", "チェア", "人間", "設計"} <= set(ja) and len(ja) >= 20


def test_the_script_picks_the_units_when_no_language_is_given():
    assert text_units.sniff_language(ZH_DESCRIPTION) == "zh"
    assert text_units.sniff_language(JA_SENTENCE) == "ja"
    assert text_units.sniff_language("서울의 한강 공원은 시민들이 즐겨 찾는 곳입니다.") == "ko"
    assert text_units.sniff_language("भारत में हिंदी बोली जाती है।") == "hi"
    assert text_units.sniff_language("ร้านกาแฟเปิดทุกวัน") == "th"
    for spaced in ("The quick brown fox.", "Привет, мир!", "مرحبا بكم", "¿Dónde está la biblioteca?", ""):
        assert text_units.sniff_language(spaced) is None
    # configured beats detected beats the script
    assert text_units.resolve_language(ZH_DESCRIPTION, "ja", "zh") == "ja"
    assert text_units.resolve_language(ZH_DESCRIPTION, None, "zh-Hant") == "zh"
    assert text_units.resolve_language(ZH_DESCRIPTION) == "zh"


def test_english_units_are_the_old_ones():
    text = "Don't stop: it's a well-known 3.5mm jack... #1 (50% off) — naïve café, e-mail & co."
    assert text_units.words(text) == re.findall(r"\w+(?:['’\-]\w+)*", text)
    assert text_units.tokens(text) == tuple(re.findall(r"\w+(?:['’\-]\w+)*|[^\w\s]+", text))
    assert text_units.words(text, "en") == text_units.words(text)


def test_hindi_words_keep_their_vowel_signs():
    text = "भारत में हिंदी सबसे ज़्यादा बोली जाने वाली भाषा है।"
    assert text_units.words(text, "hi") == ["भारत", "में", "हिंदी", "सबसे", "ज़्यादा", "बोली", "जाने", "वाली", "भाषा", "है"]


def test_thai_counts_characters():
    assert text_units.words("ร้านกาแฟ", "th") == [c for c in "ร้านกาแฟ" if c.isalnum()]
    assert text_units.unit_kind("th") == "characters"


def test_a_missing_segmenter_is_one_line_naming_the_extra(monkeypatch):
    real = extras.is_available
    monkeypatch.setattr(extras, "is_available", lambda m: False if m in ("rjieba", "fugashi") else real(m))
    text_units.tokens.cache_clear()
    with pytest.raises(MissingExtraError) as err:
        text_units.words(ZH_DESCRIPTION, "zh")
    assert str(err.value) == "word units for 'zh' text needs rjieba: pip install 'webtune[cjk]'"
    with pytest.raises(MissingExtraError, match=r"fugashi.*webtune\[cjk\]"):
        text_units.words(JA_SENTENCE, "ja")
    # only when configured: characters instead
    chars = text_units.words(ZH_DESCRIPTION + " USB-C", "zh", fallback="chars")
    assert chars[:4] == ["这", "款", "人", "体"] and chars[-1] == "USB-C"
    assert text_units.unit_kind("zh", "chars") == "characters"
    text_units.tokens.cache_clear()
