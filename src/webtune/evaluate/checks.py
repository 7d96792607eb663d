"""The judge, preference and forgetting sections of an evaluation, run after the figures (`run_checks`).

They are optional steps of the evaluate stage with a section each in ``report.json``:
``judge`` (`webtune.evaluate.judges.run`), ``preference`` (held-out preference accuracy,
`webtune.evaluate.preference`, when the dataset stage made preference pairs) and
``forgetting`` (`webtune.evaluate.forgetting`).
A section that does not run says why in one line (``judge skipped: no judge endpoint
configured``), in the report and in the terminal table alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from webtune.evaluate.forgetting import GeneralSet, run_forgetting
from webtune.evaluate.judges.run import CACHE_FILE, JudgeCache, JudgeItem, run_judge, skipped
from webtune.evaluate.preference import preference_line, run_preference
from webtune.handoffs import EvalReport, JudgePairResult, TrainResult
from webtune.jsonl import write_jsonl

JUDGEMENTS = "judgements.jsonl"


def judge_items(samples: list[dict[str, Any]]) -> list[JudgeItem]:
    """What the judge compares, from the report's samples: base, tuned and reference answers."""
    return [JudgeItem(line=s["line"], id=s.get("id"), prompt=s["prompt"], system=s.get("system"),
                      answers={**s["answers"], "reference": s["reference"]}) for s in samples]


def judge_preflight(ctx: Any, items: list[Any]) -> None:
    """Refuse a judge run over ``max_cost_usd`` before any model runs, estimating answers by the references.

    Only on a first run (no cache yet): afterwards cached verdicts make the estimate too high, and
    the exact check `run_judge` makes before its first request still applies.
    """
    settings = getattr(ctx.config, "judge", None)
    if settings is None or settings.max_cost_usd is None or (ctx.work_dir / CACHE_FILE).is_file():
        return
    from webtune.evaluate.judges.run import check_cost, judge_identity, plan

    shown = items[:ctx.config.max_examples]
    proxies = [JudgeItem(line=i.line, id=i.id, prompt="", system=None,
                         answers={"base": i.reference, "tuned": i.reference, "reference": i.reference})
               for i in shown]
    for proxy, item in zip(proxies, shown):
        proxy.prompt = next((m["content"] for m in reversed(item.prompt) if m["role"] == "user"), "")
    check_cost(plan(proxies, settings, judge_identity(settings.backend)), settings)


def run_checks(ctx: Any, report: EvalReport, samples: list[dict[str, Any]], train_dir: Path,
               train_result: TrainResult, judge: Any = None) -> tuple[str, ...]:
    """Fill ``report.judge`` and ``report.forgetting``; write judgements.jsonl; return work files to keep."""
    config = ctx.config
    settings = getattr(config, "judge", None)
    cache = JudgeCache(ctx.work_dir / CACHE_FILE) if settings is not None else None
    records: list[dict[str, Any]] = []
    if settings is None:
        report.judge = skipped()
    else:
        outcome = run_judge(judge_items(samples), settings, cache, judge=judge)
        report.judge, records = outcome.summary, outcome.records
        by_line: dict[int, list[dict[str, Any]]] = {}
        for record in records:  # the judge's reasons beside each sample, for the reports
            by_line.setdefault(record["line"], []).append(
                {k: record[k] for k in ("pair", "order", "A", "B", "preferred", "reason")})
        for sample in samples:
            sample["judge"] = by_line.get(sample["line"], [])

    def judge_general(general: GeneralSet, answers: dict[str, list[str]]) -> JudgePairResult:
        items = [JudgeItem(line=n + 1, id=None, prompt=c[-2]["content"] if len(c) > 1 else "",
                           system=next((m["content"] for m in c if m["role"] == "system"), None),
                           answers={"base": answers["base"][n], "tuned": answers["tuned"][n]})
                 for n, c in enumerate(general.conversations)]
        outcome = run_judge(items, settings.model_copy(update={"pairs": ["tuned_vs_base"]}), cache, judge=judge)
        records.extend({**r, "set": "general"} for r in outcome.records)
        return outcome.summary.pairs[0]

    preference = getattr(config, "preference", None)
    if preference is not None:
        report.preference = run_preference(preference, ctx.input("dataset"), train_dir, train_result,
                                           ctx.shared["base_model"], config)
    forgetting = getattr(config, "forgetting", None)
    if forgetting is not None:
        report.forgetting = run_forgetting(
            forgetting, list(ctx.shared.get("general_sets", [])), ctx.input("dataset") / "train.jsonl", train_dir,
            train_result, ctx.shared["base_model"], config, judge_answers=judge_general if settings else None)
    if records:
        write_jsonl(ctx.output_dir / JUDGEMENTS, records)
    return (CACHE_FILE,) if settings is not None else ()


def check_lines(report: EvalReport) -> list[str]:
    """One line per check for the terminal and report.md: the judge's win rate, preference accuracy, forgetting."""
    lines = []
    judge = report.judge
    if judge is not None and judge.status == "skipped":
        lines.append(judge.note)
    elif judge is not None:
        for pair in judge.pairs:
            lines.append(f"judge {judge.judge} · {pair.first} vs {pair.second}: " + pair_text(pair))
        if judge.malformed:
            lines.append("judge replies rejected as malformed (asked again): "
                         + ", ".join(f"{k} ×{v}" for k, v in judge.malformed.items()))
    if report.preference is not None:  # next to the judge's win rate: both say which answer is preferred
        lines.append(preference_line(report.preference))
    forgetting = report.forgetting
    if forgetting is not None:
        lines.append(forgetting.note or f"forgetting: {forgetting.status}")
        if forgetting.judge is not None:
            lines.append("forgetting · judge tuned vs base on the general set: " + pair_text(forgetting.judge))
    return lines


def pair_text(pair: JudgePairResult) -> str:
    """``win rate 62.5% [41.7%, 83.3%] · 5 W / 2 T / 1 L of 8 · position bias 12.5%``"""
    if not pair.compared:
        return f"no readable verdicts ({pair.invalid} examples without two)"
    ci = f" [{pair.win_rate_ci95[0]:.1%}, {pair.win_rate_ci95[1]:.1%}]" if pair.win_rate_ci95 else ""
    text = (f"win rate {pair.win_rate:.1%}{ci} · {pair.wins} W / {pair.ties} T / {pair.losses} L "
            f"of {pair.compared} · position bias {pair.position_bias_rate:.1%}")
    return text + (f" · {pair.invalid} unreadable" if pair.invalid else "")


def print_checks(report: EvalReport, console: Console) -> None:
    """The check lines under the evaluation table."""
    for line in check_lines(report):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
