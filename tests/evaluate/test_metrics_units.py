"""ROUGE-L over the text units of each language, chrF beside it, and the report naming the units."""

from __future__ import annotations

import pytest

from webtune.evaluate.metrics import METRICS
from webtune.evaluate.metrics.base import ModelResult
from webtune.evaluate.metrics.chrf import ChrFMetric
from webtune.evaluate.metrics.rouge_l import RougeLMetric, RougeLMetricConfig


def test_identical_chinese_strings_score_one():
    """rouge-score alone scores them 0 (its tokenizer keeps only ASCII letters and digits)."""
    from rouge_score import rouge_scorer

    text = "这款办公椅采用透气网布靠背，适合长时间工作。"
    assert rouge_scorer.RougeScorer(["rougeL"]).score(text, text)["rougeL"].fmeasure == 0
    assert RougeLMetric().score(text, text) == {"rouge_l": 1.0}
    assert RougeLMetric().score("東京は大きな都市です。", "東京は大きな都市です。") == {"rouge_l": 1.0}


@pytest.mark.parametrize("prediction,reference,expected", [
    # jieba: [今天天气, 不错] vs [今天天气, 很, 好]: LCS 1, P 1/2, R 1/3 -> F 0.4
    ("今天天气不错", "今天天气很好", 0.4),
    # [这 款 椅子 很 舒服 适合 长时间 办公] vs [这 款 办公椅 很 舒服 适合 长时间 工作]: LCS 6 of 8
    ("这款椅子很舒服，适合长时间办公。", "这款办公椅很舒服，适合长时间工作。", 0.75),
    # MeCab: [東京 は 小さな 町 です] vs [東京 は 大きな 都市 です]: LCS 3 of 5
    ("東京は小さな町です。", "東京は大きな都市です。", 0.6),
])
def test_rouge_l_on_chinese_and_japanese_pairs_with_known_scores(prediction, reference, expected):
    assert RougeLMetric().score(prediction, reference)["rouge_l"] == pytest.approx(expected)


def test_english_rouge_l_is_rouge_scores_own():
    from rouge_score import rouge_scorer

    pred, ref = "The quick brown foxes jumped over dogs", "A quick brown fox jumps over the lazy dog"
    expected = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True).score(ref, pred)["rougeL"].fmeasure
    metric = RougeLMetric()
    assert metric.score(pred, ref) == {"rouge_l": expected}
    assert metric.notes() == {"rouge_l": "units: words (rouge-score tokenizer)"}


def test_a_configured_language_and_the_notes_name_the_units():
    metric = RougeLMetric(RougeLMetricConfig(language="zh"))
    metric.aggregate(ModelResult(predictions=["今天天气不错"], references=["今天天气很好"]))
    assert metric.notes() == {"rouge_l": "units: jieba words (zh)"}
    both = RougeLMetric()
    both.aggregate(ModelResult(predictions=["今天天气不错", "東京は小さな町です。", "a b"],
                               references=["今天天气很好", "東京は大きな都市です。", "a b"]))
    assert both.notes()["rouge_l"] == ("units: MeCab (UniDic) words (ja), jieba words (zh), "
                                       "words (rouge-score tokenizer)")


def test_chrf_known_scores():
    chrf = ChrFMetric()
    assert chrf.score("今天天气很好", "今天天气很好") == {"chrf": 100.0}
    # character 1..6-grams matched: 4/6, 3/5, 2/4, 1/3, 0, 0 (precision = recall) -> mean 0.35
    assert chrf.score("今天天气不错", "今天天气很好")["chrf"] == pytest.approx(35.0)
    assert chrf.score("東京は大きな都市です。", "東京は大きな都市です。")["chrf"] == 100.0
    assert chrf.score("abc", "今天")["chrf"] == 0.0
    assert chrf.aggregate(ModelResult(predictions=["今天天气很好", "abc"], references=["今天天气很好", "今天"])) == {
        "chrf": 50.0}
    assert "characters" in chrf.notes()["chrf"]


def test_chrf_is_a_registered_metric_with_its_extra():
    assert METRICS.get("chrf") is ChrFMetric
    assert ChrFMetric.needs.extra == "evaluate" and ChrFMetric.needs.modules == ("sacrebleu",)


def test_the_report_says_which_units():
    from webtune.evaluate.report import render_markdown
    from webtune.handoffs import EvalCounts, EvalReport, EvalSettings

    report = EvalReport(created_at="2026-01-01T00:00:00+00:00", models={"base": "b", "tuned": "t"},
                        counts=EvalCounts(), settings=EvalSettings(notes={"rouge_l": "units: jieba words (zh)"}))
    assert "- rouge_l: units: jieba words (zh)" in render_markdown(report, [], 0)
    assert EvalReport.model_validate_json(report.model_dump_json()).settings.notes == {
        "rouge_l": "units: jieba words (zh)"}
