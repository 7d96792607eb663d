"""The clean stage: collect's documents in, cleaned documents out, every drop explained.

Steps run in order. Document steps run on workers (a process pool or Ray Data) in
batches whose results come back in input order; a global step (dedup, boilerplate)
splits the run into passes: its signatures are gathered in one pass, decided once (on
this process; dedup with ``executor: ray`` on Ray Data, `webtune.clean.ray_dedup`), and
applied at the start of the next pass. Between passes, documents are
spooled to ``.work/clean`` so memory stays bounded.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Iterator

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from webtune.clean import runner
from webtune.clean.config import CleanConfig
from webtune.clean.executors import InProcessExecutor, make_executor
from webtune.clean.steps.base import Drop
from webtune.errors import InputError
from webtune.jsonl import JsonlWriter, atomic_write_text, count_lines
from webtune.records import Document, Reject, SourceRef
from webtune.stage import Counts, StageContext, StageResult

DOCUMENTS = "documents.jsonl"
REPORT = "report.md"


def run_clean(ctx: StageContext) -> StageResult:
    """Clean ``collect/documents.jsonl`` into ``documents.jsonl``, ``rejects.jsonl`` and ``report.md``."""
    config: CleanConfig = ctx.config if ctx.config is not None else CleanConfig()
    source = ctx.input("collect") / DOCUMENTS
    if not source.is_file():
        raise InputError(f"{source}: not found (the collect stage writes it)")
    steps_json = json.dumps([s.model_dump(mode="json") for s in config.steps])
    plan = runner.build_plan(steps_json)
    for segment in plan.segments:  # load models once, before workers fork
        for step in segment.steps + ([segment.global_step] if segment.global_step else []):
            step.prepare()
    attach_history(ctx, plan)
    n_in = count_lines(source)
    if n_in == 0:  # say so here, not three stages later as "0 train examples"
        raise InputError(f"clean: {source} holds no documents: collect kept none "
                         f"(see {source.parent / 'rejects.jsonl'})")
    tally = Tally(plan)
    tally.seen = n_in
    started = time.perf_counter()
    executor = make_executor(config, steps_json, n_in)
    ok = False
    try:
        _run_passes(ctx, config, plan, executor, source, n_in, tally)
        ok = True
    finally:
        executor.close(ok)
    elapsed = time.perf_counter() - started
    stats = tally.stats(executor, elapsed)
    atomic_write_text(ctx.output_dir / REPORT, render_report(stats, Counts(tally.seen, tally.kept, tally.rejected)))
    return StageResult(counts=Counts(tally.seen, tally.kept, tally.rejected), stats=stats)


def attach_history(ctx: StageContext, plan: runner.Plan) -> None:
    """In a refresh run, the dedup step compares against every earlier version's signatures
    (`webtune.refresh.dedup`) and saves this version's in ``signatures.jsonl``."""
    settings = ctx.shared.get("refresh")
    if not settings:
        return
    from webtune.errors import ConfigError
    from webtune.refresh.dedup import HistorySignatures
    from webtune.refresh.history import History

    dedups = [seg.global_step for seg in plan.segments if seg.global_step is not None
              and seg.global_step.name == "dedup"]
    if not dedups:
        raise ConfigError("refresh: clean.steps has no dedup step; dedup against history uses its "
                          "signatures (add `- step: dedup`)")
    dedups[-1].history = HistorySignatures(History(settings["history"]), ctx.output_dir / "signatures.jsonl")


class Tally:
    """Counts per step and reason, and the steps' own counters."""

    def __init__(self, plan: runner.Plan):
        self.seen = self.kept = self.rejected = 0
        self.steps: dict[str, dict[str, Any]] = {"read": {"rejected": 0, "reasons": {}}}
        for seg in plan.segments:
            for label in seg.labels + ([seg.global_label] if seg.global_label else []):
                self.steps[label] = {"rejected": 0, "reasons": {}}

    def drop(self, label: str, reason: str) -> None:
        entry = self.steps.setdefault(label, {"rejected": 0, "reasons": {}})
        entry["rejected"] += 1
        entry["reasons"][reason] = entry["reasons"].get(reason, 0) + 1
        self.rejected += 1

    def merge(self, counters: dict[str, dict[str, int]]) -> None:
        for label, values in counters.items():
            entry = self.steps.setdefault(label, {"rejected": 0, "reasons": {}})
            for key, n in values.items():
                if isinstance(n, (int, float)):
                    entry[key] = entry.get(key, 0) + n
                else:
                    entry[key] = n

    def stats(self, executor: Any, elapsed: float) -> dict[str, Any]:
        pii: dict[str, int] = {}
        for label, entry in self.steps.items():
            if label.split("#")[0] == "pii":
                for key, n in entry.items():
                    if key not in ("rejected", "reasons"):
                        pii[key] = pii.get(key, 0) + n
        return {
            "steps": self.steps,
            "pii": dict(sorted(pii.items())),
            "executor": executor.name,
            "workers": executor.workers,
            "seconds": round(elapsed, 3),
            "docs_per_s": round(self.seen / elapsed, 1) if elapsed > 0 else None,
        }


def _run_passes(ctx: StageContext, config: CleanConfig, plan: runner.Plan, executor: Any,
                source: Path, n_in: int, tally: Tally) -> None:
    """One pass per segment; the last one writes the output store."""
    spools: list[Path] = []
    try:
        _passes(ctx, config, plan, executor, source, n_in, tally, spools)
    finally:  # spools are scratch: gone whether the run worked or not
        for spool in spools:
            spool.unlink(missing_ok=True)


def _passes(ctx: StageContext, config: CleanConfig, plan: runner.Plan, executor: Any,
            source: Path, n_in: int, tally: Tally, spools: list[Path]) -> None:
    pending: tuple[Any, Any, str] | None = None  # (global step, its plan, its label)
    current = source
    with Progress(TextColumn("[bold]clean[/bold] {task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=ctx.console, transient=True) as progress:
        for index, segment in enumerate(plan.segments):
            last = index == len(plan.segments) - 1
            out_path = ctx.output_dir / DOCUMENTS if last else ctx.work_dir / f"spool-{index}.jsonl"
            if not last:
                spools.append(out_path)
            total = n_in if index == 0 else count_lines(current)
            task = progress.add_task(f"pass {index + 1}/{len(plan.segments)}", total=total)
            signatures = executor.signature_store(segment.global_step) if segment.global_step else []
            with JsonlWriter(out_path) as writer:
                lines = _pass_input(ctx, config, current, pending, tally, lambda: progress.advance(task, 1))
                # A pass with no document steps (after a final dedup) is cheaper here than on workers.
                runner_for = executor if segment.steps or segment.global_step else InProcessExecutor(executor.steps_json)
                size = batch_size_for(config.batch_size, runner_for.workers, total)
                for outcomes, counters in runner_for.map(index, _batches(lines, size)):
                    tally.merge(counters)
                    for outcome in outcomes:
                        _record(ctx, config, outcome, writer, signatures, segment, last, tally, source)
                    progress.advance(task, len(outcomes))
            if segment.global_step is not None:
                counters: dict[str, int] = {}
                decided = executor.decide(segment.global_step, signatures, counters)
                tally.merge({segment.global_label: counters})
                pending = (segment.global_step, decided, segment.global_label)
            else:
                pending = None
            current = out_path


def _pass_input(ctx: StageContext, config: CleanConfig, path: Path, pending: tuple[Any, Any, str] | None,
                tally: Tally, on_drop: Any) -> Iterator[tuple[int, str]]:
    """``(line_no, json_line)`` of a pass, after the previous global step's decision."""
    try:
        with open(path, "r", encoding="utf-8") as fh:
            position = -1
            for line_no, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                if pending is None:
                    yield line_no, line
                    continue
                position += 1
                step, decided, label = pending
                doc = Document.model_validate_json(line)
                counters: dict[str, int] = {}
                drop = step.finish(position, doc, decided, counters)
                tally.merge({label: counters})
                if drop is not None:
                    _reject(ctx, config, label, step.name, drop, doc.to_json(), tally)
                    on_drop()
                    continue
                yield line_no, json.dumps(doc.to_json(), ensure_ascii=False)
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def batch_size_for(configured: int, workers: int, n_docs: int) -> int:
    """Documents per batch: ``configured``, or fewer when a pass has few documents per worker,
    so that each worker gets at least four batches and none idles while another finishes
    (200 documents in batches of 64 gave one of two workers 128). Batches change no output."""
    if workers <= 1:
        return configured
    return max(1, min(configured, -(-n_docs // (workers * 4))))


def _batches(lines: Iterator[tuple[int, str]], size: int) -> Iterator[list[tuple[int, str]]]:
    batch: list[tuple[int, str]] = []
    for item in lines:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _record(ctx: StageContext, config: CleanConfig, outcome: runner.Outcome, writer: JsonlWriter,
            signatures: Any, segment: runner.Segment, last: bool, tally: Tally, source: Path) -> None:
    """Write one outcome: the kept document to the pass output, or a reject."""
    if outcome.kept:
        doc = outcome.doc
        if last:
            doc.setdefault("meta", {}).setdefault("cluster_id", doc["id"])
            tally.kept += 1
        writer.write(doc)
        if segment.global_step is not None:
            signatures.append(outcome.signature)
        return
    record = outcome.doc
    if outcome.step == "read":
        src = SourceRef(kind="file", uri=str(source), line=outcome.line)
        _reject(ctx, config, "read", "read", outcome.drop, record if record is not None else outcome.raw,
                tally, source=src)
        return
    _reject(ctx, config, outcome.label, outcome.step, outcome.drop, record, tally)


def _reject(ctx: StageContext, config: CleanConfig, label: str, step: str, drop: Drop, record: Any,
            tally: Tally, source: SourceRef | None = None) -> None:
    doc_id = record.get("id") if isinstance(record, dict) else None
    if source is None and isinstance(record, dict) and isinstance(record.get("source"), dict):
        try:
            source = SourceRef.model_validate(record["source"])
        except ValueError:
            source = None
    reject = Reject(stage="clean", step=step, reason=drop.reason, id=doc_id, value=drop.value,
                    threshold=drop.threshold, source=source,
                    record=record if config.rejects_with_record else None, **(drop.extra or {}))
    ctx.rejects.write(reject)
    tally.drop(label, drop.reason)


def render_report(stats: dict[str, Any], counts: Counts) -> str:
    """A short Markdown report: counts, drops per step and reason, PII, speed."""
    lines = ["# clean", "", f"in **{counts.seen}** · kept **{counts.kept}** · rejected **{counts.rejected}**", "",
             "| step | rejected | reasons | notes |", "|---|---:|---|---|"]
    for label, entry in stats["steps"].items():
        if label == "read" and not entry["rejected"]:
            continue
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(entry["reasons"].items())) or "-"
        notes = ", ".join(f"{k}: {v}" for k, v in entry.items() if k not in ("rejected", "reasons")) or ""
        lines.append(f"| {label} | {entry['rejected']} | {reasons} | {notes} |")
    if stats["pii"]:
        lines += ["", "PII redacted: " + ", ".join(f"{k} {v}" for k, v in stats["pii"].items())]
    lines += ["", f"{stats['executor']} executor, {stats['workers']} worker(s), {stats['seconds']} s"
              f" ({stats['docs_per_s']} docs/s)", ""]
    return "\n".join(lines)
