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
