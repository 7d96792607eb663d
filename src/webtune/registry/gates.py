"""Promotion gates: does a new version's evaluation earn it the ``production`` alias?"""

from __future__ import annotations

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
    if gates.no_forgetting:
        rows.append(forgetting_gate(report))
    return rows


def forgetting_gate(report: EvalReport) -> GateCheck:
    """Passes when the forgetting check ran and did not flag a drop on the general set."""
    f = report.forgetting
    if f is None or f.status != "done":
        return GateCheck(gate="no_forgetting", passed=False,
                         detail=f"no forgetting check in the evaluation{': ' + f.note if f and f.note else ''}")
    return GateCheck(gate="no_forgetting", passed=not f.flagged, detail=f.note)
