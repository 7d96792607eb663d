"""Per-language units and thresholds in the clean filters: the issue's measured failures, and a
labelled corpus (tests/clean/multilingual_corpus.py) of good and bad documents in seven languages."""

from __future__ import annotations

import pytest

from tests.clean.helpers import apply, doc, run
from tests.clean.multilingual_corpus import BAD, GOOD, LANGUAGES
from tests.core.test_text_units import ZH_DESCRIPTION
from webtune.records import Document

QUALITY = [{"step": "gopher_quality"}, {"step": "gopher_repetition"}, {"step": "c4", "rewrite": False},
           {"step": "fineweb"}]

# 492 characters of Chinese news prose: 42 `\w+` runs, which gopher_quality dropped as gopher_short_doc.
ZH_NEWS = (
    "据当地气象部门介绍，今年入夏以来，全省平均降雨量比往年同期偏多三成以上，部分地区出现了持续强降雨天气。"
    "受此影响，多条河流水位上涨，一些低洼地带的农田被淹，交通也受到了不同程度的影响。"
    "省防汛指挥部已经启动了应急响应，组织各地干部群众加固堤坝、转移受威胁地区的居民，并调集了大量救灾物资。"
    "气象专家表示，未来一周内仍将有较强降雨过程，提醒市民尽量减少外出，注意防范山洪和地质灾害。"
    "与此同时，农业部门也派出了技术人员深入田间地头，指导农民及时排水、补种作物，尽可能减少损失。"
    "一位种了二十多年水稻的农民告诉记者，今年的雨水来得又急又多，幸亏村里提前疏通了水渠，自家的稻田受灾并不严重。"
    "他说，只要天气好转，再过一个多月就能收割了。"
    "当地政府还宣布，将为受灾家庭提供临时住所和生活补助，学校也会在开学前完成校舍的安全检查。"
    "许多志愿者自发来到安置点，为转移群众送去饮用水、食品和药品，帮助老人和孩子解决生活上的困难。"
    "有关部门提醒，洪水退去后要做好环境消毒工作，防止出现传染病。"
    "专家还建议，今后各地应进一步加强城市排水设施建设，提高应对各种极端天气的能力，让广大人民群众的生命财产安全得到更加有力的保障。"
)


def test_a_64_character_chinese_description_is_not_too_short():
    """The demo's length step (min_words 12) dropped every Chinese product: 5 "words"."""
    product = doc(fields={"description": ZH_DESCRIPTION})
    assert apply({"step": "length", "field": "description", "min_words": 12, "max_words": 300}, product)[0] is None
    drop, _ = apply({"step": "length", "field": "description", "min_words": 100}, product)
    assert drop.reason == "too_few_words" and 25 <= drop.value <= 45 and drop.extra == {"units": "jieba words"}


def test_length_counts_characters_when_configured_and_says_so(monkeypatch):
    from webtune import extras, text_units

    real = extras.is_available
    monkeypatch.setattr(extras, "is_available", lambda m: False if m == "rjieba" else real(m))
    text_units.tokens.cache_clear()
    product = doc(fields={"description": ZH_DESCRIPTION})
    drop, _ = apply({"step": "length", "field": "description", "min_words": 100, "units_fallback": "chars"}, product)
    assert (drop.reason, drop.extra) == ("too_few_words", {"units": "characters"})
    assert drop.value == sum(c.isalnum() for c in ZH_DESCRIPTION)
    with pytest.raises(Exception, match=r"pip install 'webtune\[cjk\]'"):
        apply({"step": "length", "field": "description", "min_words": 12}, product)
    text_units.tokens.cache_clear()


def test_length_counts_base_model_tokens(tiny_model_dir):
    from transformers import AutoTokenizer

    words = " ".join(["word"] * 40)
    n = len(AutoTokenizer.from_pretrained(str(tiny_model_dir))(words, add_special_tokens=False)["input_ids"])
    text = doc(words)
    drop, _ = apply({"step": "length", "min_tokens": n + 1, "tokenizer": str(tiny_model_dir)}, text)
    assert (drop.reason, drop.value, drop.threshold) == ("too_few_tokens", n, n + 1) and n != 40
    assert drop.extra == {"units": f"tokens of {tiny_model_dir}"}
    assert apply({"step": "length", "min_tokens": n, "max_tokens": n, "tokenizer": str(tiny_model_dir)}, text)[0] is None
    with pytest.raises(Exception, match="set 'tokenizer'"):
        apply({"step": "length", "min_tokens": 5}, text)


def test_a_492_character_chinese_paragraph_is_not_a_short_doc():
    assert len(ZH_NEWS) == 492
    assert apply({"step": "gopher_quality"}, doc(ZH_NEWS))[0] is None
    # the old units (English, no per-language thresholds) dropped it
    drop, _ = apply({"step": "gopher_quality", "language": "en"}, doc(ZH_NEWS))
    assert (drop.reason, drop.value) == ("gopher_short_doc", 42)


def _verdicts(text: str, lang: str, **options) -> list[tuple[str, str]]:
    d = Document.model_validate({**doc(text).model_dump(), "meta": {"lang": lang}})
    out = []
    for config in QUALITY:
        drop, _ = apply({**config, **options}, d)
        if drop is not None:
            out.append((config["step"], drop.reason))
    return out


@pytest.mark.parametrize("lang", LANGUAGES)
def test_good_text_in_each_language_passes_every_quality_filter(lang):
    for text in GOOD[lang]:
        assert _verdicts(text, lang) == [], text[:40]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_boilerplate_in_each_language_is_dropped(lang):
    for text in BAD[lang]:
        assert _verdicts(text, lang), text[:40]


@pytest.mark.parametrize("lang", ["zh", "ja", "ko", "hi"])
def test_without_the_per_language_adaptation_good_text_was_dropped(lang):
    """The English units and thresholds reject these languages' good prose (why the tables exist)."""
    assert any(_verdicts(text, lang, language="en") for text in GOOD[lang])


def test_a_threshold_set_in_the_pipeline_wins_over_the_language_table():
    d = Document.model_validate({**doc(GOOD["zh"][0]).model_dump(), "meta": {"lang": "zh"}})
    assert apply({"step": "gopher_quality"}, d)[0] is None
    assert apply({"step": "gopher_quality", "min_avg_word_length": 2.5}, d)[0].reason == "gopher_below_avg_threshold"
    assert apply({"step": "gopher_quality", "per_language": False}, d)[0].reason == "gopher_below_avg_threshold"


def test_the_language_step_result_chooses_units_and_thresholds_in_the_stage(tmp_path):
    """language → filters through the stage: every good document kept, every bad one rejected."""
    docs, good_ids = [], set()
    for lang in LANGUAGES:
        for i, text in enumerate(GOOD[lang] + BAD[lang]):
            d = doc(text, line=len(docs) + 1)
            docs.append(d)
            if i < len(GOOD[lang]):
                good_ids.add(d.id)
    steps = [{"step": "language", "keep": list(LANGUAGES), "candidates": list(LANGUAGES) + ["en"]}] + QUALITY
    manifest, kept, rejects = run(tmp_path, docs, steps, workers=1)
    assert {k["id"] for k in kept} == good_ids
    assert {k["meta"]["lang"] for k in kept} == set(LANGUAGES)
    assert len(rejects) == len(docs) - len(good_ids)
    assert manifest.counts.to_json() == {"in": len(docs), "kept": len(kept), "rejected": len(rejects)}


def test_a_configured_language_without_its_segmenter_stops_the_stage_with_one_line(tmp_path, monkeypatch):
    from webtune import extras, text_units
    from webtune.extras import MissingExtraError

    real = extras.is_available
    monkeypatch.setattr(extras, "is_available", lambda m: False if m == "fugashi" else real(m))
    text_units.tokens.cache_clear()
    with pytest.raises(MissingExtraError) as err:
        run(tmp_path, [doc(GOOD["ja"][0])], [{"step": "gopher_quality", "language": "ja"}], workers=1)
    assert str(err.value) == "word units for 'ja' text needs fugashi: pip install 'webtune[cjk]'"
    # configured to fall back: characters, and the document is judged
    text_units.tokens.cache_clear()
    _, kept, _ = run(tmp_path / "chars", [doc(GOOD["ja"][0])],
                     [{"step": "length", "language": "ja", "units_fallback": "chars", "min_words": 50}], workers=1)
    assert len(kept) == 1
    text_units.tokens.cache_clear()


def test_normalize_keeps_chinese_full_width_punctuation():
    d = doc("不少，安居：好（的）“优惠”")
    apply({"step": "normalize"}, d)
    assert d.text == '不少，安居：好（的）"优惠"'
    english = doc("Ｆｕｌｌ－ｗｉｄｔｈ ＡＢＣ， fixed.")
    apply({"step": "normalize"}, english)
    assert english.text == "Full-width ABC, fixed."
