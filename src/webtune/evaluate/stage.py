"""The evaluate stage: the base model against the tuned one on the held-out split.

Counts: ``in`` is the number of lines in the dataset stage's ``test.jsonl``. An example is *kept* when it
is evaluated. With a local model every readable example with assistant tokens gets a loss
(a forward pass is cheap), and all of them (the first ``max_examples`` when set) are also
answered by both models and scored by the text metrics: being past ``max_examples`` is
therefore *not* a reject. An example flagged as contaminated (it shares a 13-gram with the
training split or a listed benchmark; `webtune.evaluate.contamination`) is kept and shown,
but left out of the headline figures and counted in the report. Rejected (``rejects.jsonl``,
with the reason): unreadable lines, examples without a final assistant reply, examples whose
assistant tokens were all cut by ``max_len``, and, for a hosted model (no loss), the examples
past ``max_examples``, which get no evaluation at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from webtune.errors import InputError
from webtune.evaluate.checks import judge_preflight, print_checks, run_checks
from webtune.evaluate.contamination import build_index, find_contaminated
from webtune.evaluate.metrics import METRICS
from webtune.evaluate.metrics.base import Metric
from webtune.evaluate.report import build_report, print_table, write_reports
from webtune.evaluate.runner import EvalItem, EvalRun, run_hosted, run_local
from webtune.handoffs import ContaminatedExample, Contamination, TrainResult
from webtune.jsonl import iter_jsonl_lines
from webtune.records import Example, Reject
from webtune.stage import Counts, StageContext, StageResult


def read_items(path: Path, ctx: StageContext) -> tuple[int, list[EvalItem]]:
    """(lines seen, usable items) of a test split; unusable lines go to the stage's rejects."""
    if not path.is_file():
        raise InputError(f"{path}: test split not found (run `webtune dataset` first)")
    seen, items = 0, []
    for line, obj, error in iter_jsonl_lines(path):
        seen += 1
        reason, detail = None, error
        if error is None:
            try:
                example = Example.model_validate(obj)
            except ValidationError as exc:
                first = exc.errors()[0]
                reason, detail = "invalid_example", f"{'.'.join(map(str, first['loc']))}: {first['msg']}"
            else:
                item = to_item(example, line)
                if item is None:
                    reason, detail = "no_assistant_reply", "the last message is not a non-empty assistant reply"
                else:
                    items.append(item)
                    continue
        ctx.rejects.write(Reject(stage="evaluate", step="read", reason=reason or "invalid_json",
                                 value=detail, record={"file": str(path), "line": line}))
    return seen, items


def to_item(example: Example, line: int) -> EvalItem | None:
    """The prompt (everything before the last reply) and the reference (the last reply)."""
    messages = [m.model_dump() for m in example.messages]
    if not messages or messages[-1]["role"] != "assistant" or not messages[-1]["content"].strip():
        return None
    if not any(m["role"] == "user" for m in messages[:-1]):
        return None
    return EvalItem(line=line, id=example.meta.get("source_id"), messages=messages,
                    prompt=messages[:-1], reference=messages[-1]["content"].strip())


def benchmark_items(paths: list[str]) -> list[EvalItem]:
    """The frozen benchmark of a refresh run: every usable example of earlier versions' test splits."""
    items: list[EvalItem] = []
    for path in paths:
        for line, obj, error in iter_jsonl_lines(Path(path)):
            if error is None:
                item = to_item(Example.model_validate(obj), line)
                if item is not None:
                    items.append(item)
    return items


def make_metrics(config: Any) -> list[Metric]:
    """The configured metric objects, by name, and those always recorded (end-of-turn, repetition)."""
    return [METRICS.get(c.metric)(c) for c in config.all_metrics()]


def check_contamination(items: list[EvalItem], ctx: StageContext) -> Contamination | None:
    """Test examples sharing an n-gram with the training split or a listed benchmark (None when off)."""
    settings = ctx.config.contamination
    if not settings.enabled:
        return None
    index = build_index(ctx.input("dataset") / "train.jsonl", settings.benchmarks, n=settings.n)
    flags = find_contaminated(items, index, ctx.config.contamination.min_coverage)
    return Contamination(n=settings.n, checked=len(items), indexed=index.texts,
                         excluded_from_headline=settings.exclude,
                         flagged=[ContaminatedExample(**vars(flag)) for flag in flags])


def log_to_tracking(train_result: TrainResult, report: Any, out: Path) -> None:
    """Log the figures and the report files into the MLflow run training recorded (if any)."""
    if not any(run.backend == "mlflow" for run in train_result.tracking):
        return
    from webtune.tracking import log_evaluation

    figures = {f"eval/{model}/{key}": value for model, values in report.metrics.items()
               for key, value in values.items() if isinstance(value, (int, float))}
    figures.update({f"eval/delta/{key}": value for key, value in report.deltas.items()
                    if isinstance(value, (int, float))})
    log_evaluation(train_result.tracking, figures,
                   [out / name for name in ("report.json", "report.md", "report.html", "samples.jsonl")])


def run_evaluate(ctx: StageContext) -> StageResult:
    """Evaluate base and tuned; write report.json/.md/.html, samples.jsonl and a plot."""
    config = ctx.config
    test_path = ctx.input("dataset") / "test.jsonl"
    seen, items = read_items(test_path, ctx)
    if not items:  # a report of no figures would pass as an evaluation and fail the gates obscurely
        if seen == 0:
            raise InputError(f"evaluate: {test_path} is empty: the dataset stage made no test split "
                             "(set dataset.split.test above 0 and run `webtune dataset` again)")
        raise InputError(f"evaluate: none of the {seen} lines of {test_path} is a usable example "
                         f"(see why with `webtune dataset --check {test_path}`)")
    judge_preflight(ctx, items)  # a judge over its cost limit refuses before any model runs
    contamination = check_contamination(items, ctx)
    train_dir = ctx.input("train")
    train_result = TrainResult.read(train_dir)
    hosted = train_result.hosted
    if hosted:
        run = run_hosted(items, train_result, config, ctx.console)
        for item in items[config.max_examples:] if config.max_examples is not None else []:
            run.rejects.append(Reject(stage="evaluate", step="select", reason="beyond_max_examples",
                                      id=item.id, value=config.max_examples,
                                      record={"line": item.line}))
    else:
        # Encode as training did (train_result.json records how): its chat template and,
        # unless set here, its sequence length.
        max_len = config.max_len or train_result.max_seq_len
        run = run_local(items, train_dir, train_result, ctx.shared["base_model"],
                        config.model_copy(update={"max_len": max_len}), ctx.console,
                        chat_template=train_result.chat_template)
    for reject in run.rejects:
        ctx.rejects.write(reject)
    kept = len(run.loss_items) if not hosted else len(run.generated)
    report, samples = build_report(run, make_metrics(config), config, counts={
        "test_examples": seen, "evaluated": kept, "rejected": seen - kept,
        "loss_examples": len(run.loss_items) if run.per_example_loss else 0, "generated": len(run.generated)},
        contamination=contamination)
    report.backend = train_result.backend
    if ctx.shared.get("champion") and not hosted:
        from webtune.evaluate.champion import run_champion

        sets = {"benchmark": benchmark_items(ctx.shared["champion"]["benchmark"]), "new": run.loss_items}
        report.champion = run_champion(ctx.shared["champion"], {k: v for k, v in sets.items() if v},
                                       train_dir, train_result, ctx.shared["base_model"], config, ctx.console)
    keep = run_checks(ctx, report, samples, train_dir, train_result)  # judge, forgetting
    write_reports(ctx.output_dir, report, samples, config)
    log_to_tracking(train_result, report, ctx.output_dir)
    print_table(report, ctx.console)
    print_checks(report, ctx.console)
    return StageResult(counts=Counts(seen=seen, kept=kept, rejected=seen - kept),
                       stats={"metrics": report.metrics, "deltas": report.deltas,
                              "delta_ci95": {r.metric: r.delta_ci95 for r in report.rows if r.delta_ci95},
                              "contaminated": report.counts.contaminated, "timings_s": report.timings_s,
                              **({"preference": report.preference.model_dump(mode="json")}
                                 if report.preference is not None else {})},
                       keep_work=keep)


__all__ = ["run_evaluate", "EvalRun"]
