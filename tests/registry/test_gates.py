"""Promotion gates decide from the evaluation's figures; missing figures fail."""

from __future__ import annotations

from webtune.handoffs import EvalReport, GateCheck
from webtune.registry.config import PromotionGates
from webtune.registry.gates import check_gates

METRICS = {"base": {"loss": 2.0, "rouge_l": 0.20}, "tuned": {"loss": 1.5, "rouge_l": 0.30}}


def verdicts(gates, metrics=METRICS):
    return {row.gate: row.passed for row in check_gates(gates, EvalReport(metrics=metrics))}


def test_default_gate_is_tuned_loss_below_base():
    assert verdicts(PromotionGates()) == {"tuned_loss_below_base": True}
    worse = {"base": {"loss": 1.0}, "tuned": {"loss": 1.2}}
    assert verdicts(PromotionGates(), worse) == {"tuned_loss_below_base": False}


def test_thresholds_and_rouge_gates():
    gates = PromotionGates(tuned_rouge_l_above_base=True, max_loss=1.4, min_rouge_l=0.25)
    assert verdicts(gates) == {"tuned_loss_below_base": True, "tuned_rouge_l_above_base": True,
                               "max_loss": False, "min_rouge_l": True}


def test_missing_figures_fail_and_say_so():
    report = EvalReport(metrics={"base": {"rouge_l": 0.1}, "tuned": {"rouge_l": 0.2}})
    rows = check_gates(PromotionGates(min_rouge_l=0.1), report)
    assert rows[0] == GateCheck(gate="tuned_loss_below_base", passed=False, detail="no loss in the evaluation")
    assert rows[1].passed is True
    assert check_gates(PromotionGates(tuned_loss_below_base=False), None) == []
    assert not check_gates(PromotionGates(), None)[0].passed  # no evaluation: the loss gate fails


def report_with_intervals(rouge_ci, loss_ci, eot=0.9, repetition=0.05):
    from webtune.handoffs import MetricRow

    metrics = {"base": {"loss": 2.0, "rouge_l": 0.2, "eot_fraction": 1.0, "repetition_rate": 0.0},
               "tuned": {"loss": 1.5, "rouge_l": 0.3, "eot_fraction": eot, "repetition_rate": repetition}}
    rows = [MetricRow(metric="rouge_l", delta=0.1, delta_ci95=list(rouge_ci)),
            MetricRow(metric="loss", delta=-0.5, delta_ci95=list(loss_ci))]
    return EvalReport(metrics=metrics, rows=rows)


def test_interval_gates_use_the_bounds_not_the_point_estimate():
    gates = PromotionGates(tuned_loss_below_base=False, rouge_l_delta_lower=0.0, loss_delta_upper=0.0)
    sure = {r.gate: r.passed for r in check_gates(gates, report_with_intervals((0.02, 0.2), (-0.7, -0.3)))}
    assert sure == {"rouge_l_delta_lower": True, "loss_delta_upper": True}
    # Same point estimates, intervals that include 0: not promoted.
    unsure = check_gates(gates, report_with_intervals((-0.05, 0.25), (-0.9, 0.1)))
    assert [r.passed for r in unsure] == [False, False]
    assert "lower bound" in unsure[0].detail and "-0.0500" in unsure[0].detail
    # Any figure by name; a margin above 0 asks for a clear gain.
    by_name = PromotionGates(tuned_loss_below_base=False, delta_lower={"rouge_l": 0.05})
    assert [r.passed for r in check_gates(by_name, report_with_intervals((0.02, 0.2), (-1, -0.5)))] == [False]


def test_interval_gate_on_an_old_report_without_intervals_fails_and_says_so():
    rows = check_gates(PromotionGates(tuned_loss_below_base=False, rouge_l_delta_lower=0.0), EvalReport(metrics=METRICS))
    assert rows == [GateCheck(gate="rouge_l_delta_lower", passed=False,
                              detail="no interval of the rouge_l delta in the evaluation")]


def test_end_of_turn_and_repetition_gates():
    gates = PromotionGates(tuned_loss_below_base=False, min_eot_fraction=0.8, max_repetition=0.1)
    good = {r.gate: r.passed for r in check_gates(gates, report_with_intervals((0, 1), (-1, 0)))}
    assert good == {"min_eot_fraction": True, "max_repetition": True}
    rambling = check_gates(gates, report_with_intervals((0, 1), (-1, 0), eot=0.25, repetition=0.4))
    assert [r.passed for r in rambling] == [False, False]
    assert rambling[0].detail == "tuned 0.2500 (min 0.8)"
    assert not check_gates(gates, EvalReport(metrics=METRICS))[0].passed  # an old report: no figure
