"""Champion vs challenger figures: token-weighted losses, the paired interval, the report section."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from webtune.evaluate.champion import compare_set, items_digest
from webtune.evaluate.report import champion_markdown
from webtune.evaluate.runner import EvalItem
from webtune.handoffs import ChampionReport, EvalReport

CONFIG = SimpleNamespace(bootstrap_resamples=500, seed=0)


def items(n):
    return [EvalItem(line=i, id=str(i), messages=[{"role": "user", "content": f"q{i}"}], prompt=[], reference="")
            for i in range(n)]


def test_a_better_challenger_has_a_negative_delta_with_an_interval_below_zero():
    champion = ([2.0 * t for t in (10, 20, 30, 40)], [10, 20, 30, 40])     # 2.0 nats per token
    challenger = ([1.5 * t for t in (10, 20, 30, 40)], [10, 20, 30, 40])   # 1.5
    result = compare_set("new", items(4), champion, challenger, CONFIG)
    assert (result.champion_loss, result.challenger_loss, result.delta) == (2.0, 1.5, -0.5)
    assert result.delta_ci95[1] < 0 and (result.wins, result.losses) == (4, 0)
    assert result.sha256 == items_digest(items(4)) != items_digest(items(3))


def test_examples_without_tokens_are_left_out_and_weights_are_tokens():
    champion = ([0.0, 10.0, 100.0], [0, 10, 50])   # 1.0 and 2.0 per token, weighted 10:50
    challenger = ([0.0, 10.0, 50.0], [0, 10, 50])  # 1.0 and 1.0
    result = compare_set("benchmark", items(3), champion, challenger, CONFIG)
    assert result.examples == 2
    assert result.champion_loss == pytest.approx((10 + 100) / 60, abs=1e-4)
    assert result.challenger_loss == pytest.approx(1.0)


def test_the_report_shows_the_comparison():
    result = compare_set("new", items(2), ([2.0, 2.0], [1, 1]), ([1.0, 3.0], [1, 1]), CONFIG)
    report = EvalReport(champion=ChampionReport(champion="m@3", sets=[result]))
    text = champion_markdown(report)
    assert "Production `m@3`" in text and "| new | 2 | 2.0 | 2.0 | 0.0 |" in text and "1/0/1" in text
    assert champion_markdown(EvalReport()) is None
