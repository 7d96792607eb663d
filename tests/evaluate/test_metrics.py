"""The always-recorded generation checks: end-of-turn fraction and repetition rate."""

from __future__ import annotations

import pytest

from webtune.evaluate.config import EvaluateConfig
from webtune.evaluate.metrics.base import ModelResult
from webtune.evaluate.metrics.repetition import RepetitionMetric, repetition_rate
from webtune.evaluate.metrics.stops import StopsMetric
from webtune.evaluate.stage import make_metrics


def test_eot_fraction_counts_answers_that_stopped_by_themselves():
    result = ModelResult(predictions=["a", "b", "c", "d"], references=["x"] * 4,
                         finish_reasons=["stop", "length", "stop", "stop"])
    metric = StopsMetric()
    assert metric.aggregate(result) == {"eot_fraction": 0.75}
    assert metric.per_example(result)["eot_fraction"].values == [1.0, 0.0, 1.0, 1.0]
    assert metric.aggregate(ModelResult()) == {}  # no answers: no figure


def test_repetition_rate_is_the_share_of_repeated_word_ngrams():
    assert repetition_rate("one two three four five six") == 0.0
    looping = "the pen is blue the pen is blue the pen is blue"  # 9 4-grams, 4 unique
    assert repetition_rate(looping) == pytest.approx(1 - 4 / 9)
    assert repetition_rate("too short") == 0.0
    assert RepetitionMetric().aggregate(ModelResult(predictions=[looping, "a b c d e"], references=["", ""])) == {
        "repetition_rate": pytest.approx((1 - 4 / 9) / 2)}


def test_both_are_recorded_whatever_the_config_lists():
    names = [m.registered_name for m in make_metrics(EvaluateConfig(metrics=["rouge_l"]))]
    assert names == ["rouge_l", "stops", "repetition"]
    names = [m.registered_name for m in make_metrics(EvaluateConfig(metrics=[{"metric": "repetition", "n": 2}]))]
    assert names == ["repetition", "stops"]
