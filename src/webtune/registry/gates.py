"""Promotion gates: does a new version's evaluation earn it the ``production`` alias?"""

from __future__ import annotations

from typing import Callable

from webtune.handoffs import EvalReport, GateCheck
from webtune.registry.config import PromotionGates


def check_gates(gates: PromotionGates, report: EvalReport | None) -> list[GateCheck]:
    """One verdict per active gate.

    ``report`` is the evaluation (None when there was none); a gate whose figures are
    missing fails, saying which figure was missing.
    """
    rows: list[GateCheck] = []
    report = report or EvalReport()

    def add(gate: str, passed: bool | None, detail: str) -> None:
        rows.append(GateCheck(gate=gate, passed=bool(passed), detail=detail))

    base_loss, tuned_loss = report.figure("base", "loss"), report.figure("tuned", "loss")
    base_rouge, tuned_rouge = report.figure("base", "rouge_l"), report.figure("tuned", "rouge_l")
    if gates.tuned_loss_below_base:
        if base_loss is None or tuned_loss is None:
            add("tuned_loss_below_base", False, "no loss in the evaluation")
        else:
            add("tuned_loss_below_base", tuned_loss < base_loss, f"tuned {tuned_loss:.4f} vs base {base_loss:.4f}")
    if gates.tuned_rouge_l_above_base:
        if base_rouge is None or tuned_rouge is None:
            add("tuned_rouge_l_above_base", False, "no rouge_l in the evaluation")
        else:
            add("tuned_rouge_l_above_base", tuned_rouge > base_rouge,
                f"tuned {tuned_rouge:.4f} vs base {base_rouge:.4f}")
    if gates.max_loss is not None:
        if tuned_loss is None:
            add("max_loss", False, "no loss in the evaluation")
        else:
            add("max_loss", tuned_loss <= gates.max_loss, f"tuned {tuned_loss:.4f} (max {gates.max_loss})")
    if gates.min_rouge_l is not None:
        if tuned_rouge is None:
            add("min_rouge_l", False, "no rouge_l in the evaluation")
        else:
            add("min_rouge_l", tuned_rouge >= gates.min_rouge_l,
                f"tuned {tuned_rouge:.4f} (min {gates.min_rouge_l})")
    interval_gates(gates, report, add)
    if gates.min_eot_fraction is not None:
        threshold_gate("min_eot_fraction", report.figure("tuned", "eot_fraction"), gates.min_eot_fraction,
                       at_least=True, add=add)
    if gates.max_repetition is not None:
        threshold_gate("max_repetition", report.figure("tuned", "repetition_rate"), gates.max_repetition,
                       at_least=False, add=add)
    if gates.no_forgetting:
        rows.append(forgetting_gate(report))
    rows.extend(champion_gates(gates, report))
    return rows


def champion_gates(gates: PromotionGates, report: EvalReport) -> list[GateCheck]:
    """Champion vs challenger (a refresh run with a production model): on the frozen benchmark and
    on the new test split, the loss delta's interval must lie below its margin. None when the
    evaluation made no such comparison (a first version, or not a refresh run)."""
    if report.champion is None:
        return []
    rows = []
    margins = {"benchmark": gates.champion.benchmark_loss_delta_upper, "new": gates.champion.new_loss_delta_upper}
    for name, margin in margins.items():
        if margin is None:
            continue
        gate = f"champion_{name}_loss"
        found = report.champion.set(name)
        if found is None or not found.delta_ci95:
            rows.append(GateCheck(gate=gate, passed=False,
                                  detail=f"no {name} comparison with {report.champion.champion}"))
            continue
        low, high = found.delta_ci95
        rows.append(GateCheck(gate=gate, passed=high < margin, detail=(
            f"vs {report.champion.champion} on {found.examples} {name} examples: loss {found.challenger_loss} "
            f"vs {found.champion_loss}, delta 95% CI [{low:+.4f}, {high:+.4f}], upper bound vs {margin}")))
    return rows


def interval_gates(gates: PromotionGates, report: EvalReport, add: Callable[[str, bool, str], None]) -> None:
    """Gates on the bounds of a delta's 95% interval: ``lower > margin`` or ``upper < margin``."""
    lower = dict(gates.delta_lower)
    upper = dict(gates.delta_upper)
    if gates.rouge_l_delta_lower is not None:
        lower["rouge_l"] = gates.rouge_l_delta_lower
    if gates.loss_delta_upper is not None:
        upper["loss"] = gates.loss_delta_upper
    for key, margin in lower.items():
        bounds = _interval(report, key)
        name = f"{key}_delta_lower"
        if bounds is None:
            add(name, False, f"no interval of the {key} delta in the evaluation")
        else:
            add(name, bounds[0] > margin, f"95% CI [{bounds[0]:+.4f}, {bounds[1]:+.4f}]: lower bound vs {margin}")
    for key, margin in upper.items():
        bounds = _interval(report, key)
        name = f"{key}_delta_upper"
        if bounds is None:
            add(name, False, f"no interval of the {key} delta in the evaluation")
        else:
            add(name, bounds[1] < margin, f"95% CI [{bounds[0]:+.4f}, {bounds[1]:+.4f}]: upper bound vs {margin}")


def threshold_gate(name: str, value: float | None, threshold: float, at_least: bool,
                   add: Callable[[str, bool, str], None]) -> None:
    """The tuned model's figure against a floor (``at_least``) or a ceiling."""
    key = name.removeprefix("min_").removeprefix("max_")
    if value is None:
        add(name, False, f"no {key} in the evaluation")
    else:
        passed = value >= threshold if at_least else value <= threshold
        add(name, passed, f"tuned {value:.4f} ({'min' if at_least else 'max'} {threshold})")


def _interval(report: EvalReport, key: str) -> tuple[float, float] | None:
    row = report.row(key)
    if row is None or not row.delta_ci95:
        return None
    return row.delta_ci95[0], row.delta_ci95[1]


def forgetting_gate(report: EvalReport) -> GateCheck:
    """Passes when the forgetting check ran and did not flag a drop on the general set."""
    f = report.forgetting
    if f is None or f.status != "done":
        return GateCheck(gate="no_forgetting", passed=False,
                         detail=f"no forgetting check in the evaluation{': ' + f.note if f and f.note else ''}")
    return GateCheck(gate="no_forgetting", passed=not f.flagged, detail=f.note)
