"""The collect stage: every configured source into one ``documents.jsonl``."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from webtune.collect.base import SourceRun
from webtune.collect.documents import SourceSink
from webtune.collect.sources import SOURCES
from webtune.errors import ConfigError
from webtune.jsonl import JsonlWriter
from webtune.stage import Counts, StageContext, StageResult

DOCUMENTS = "documents.jsonl"


def run_collect(ctx: StageContext) -> StageResult:
    """Run each source in turn into ``documents.jsonl``; rejects go to ``rejects.jsonl``.

    Each source gets its own resume directory under ``ctx.work_dir`` (``source-<n>-<kind>``),
    so a Bright Data snapshot id or a crawl log survives an interrupted run.
    """
    sources = list(getattr(ctx.config, "sources", None) or [])
    if not sources:
        raise ConfigError("collect: no sources configured; add `sources:` to the pipeline file "
                          "or use `webtune collect files|brightdata|crawl`")
    per_source: list[dict[str, Any]] = []
    keep_work: list[str] = []
    tracker = refresh_tracker(ctx)
    ok = False
    try:
        with JsonlWriter(ctx.output_dir / DOCUMENTS) as documents:
            for index, config in enumerate(sources):
                backend = SOURCES.get(config.kind)(config)
                sink = SourceSink(kind=config.kind, index=index, documents=documents, rejects=ctx.rejects,
                                  tracker=tracker)
                work_dir = ctx.work_dir / f"source-{index}-{config.kind}"
                work_dir.mkdir(parents=True, exist_ok=True)
                run = SourceRun(sink=sink, work_dir=work_dir, console=ctx.console, refresh=tracker)
                details = backend.collect(run)
                per_source.append({**sink.stats(), **details})
                keep_work += [f"{work_dir.name}/{name}" for name in run.keep]
        ok = True
    finally:
        refreshed = tracker.close(ok) if tracker is not None else None
    counts = Counts(seen=sum(s["in"] for s in per_source), kept=sum(s["kept"] for s in per_source),
                    rejected=sum(s["rejected"] for s in per_source))
    ctx.console.print(sources_table(per_source))
    stats: dict[str, Any] = {"sources": per_source}
    if refreshed is not None:
        stats["refresh"] = refreshed
        from webtune.refresh.tracker import counts_line

        ctx.console.print(f"[bold]refresh v{refreshed['version']}[/bold]: {counts_line(refreshed)}")
    return StageResult(counts=counts, stats=stats, keep_work=tuple(keep_work))


def refresh_tracker(ctx: StageContext) -> Any:
    """In a refresh run (``ctx.shared["refresh"]``), the tracker of new/changed/unchanged records."""
    settings = ctx.shared.get("refresh")
    if not settings:
        return None
    from webtune.refresh.history import History
    from webtune.refresh.tracker import RefreshTracker

    return RefreshTracker(History(settings["history"]), settings["version"], settings.get("key"),
                          ctx.output_dir)


def sources_table(per_source: list[dict[str, Any]]) -> Table:
    """A table of what each source brought in, kept and rejected."""
    table = Table(title="collect")
    for column in ("#", "source", "in", "kept", "rejected", "top reject reasons"):
        table.add_column(column, justify="right" if column in ("#", "in", "kept", "rejected") else "left")
    for s in per_source:
        reasons = sorted(s.get("reject_reasons", {}).items(), key=lambda kv: -kv[1])[:3]
        table.add_row(str(s["index"]), s["kind"], str(s["in"]), str(s["kept"]), str(s["rejected"]),
                      ", ".join(f"{k} ({v})" for k, v in reasons))
    return table
