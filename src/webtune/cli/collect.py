"""`webtune collect`: Bright Data snapshots, crawled pages and local files into documents.jsonl.

    webtune collect files data/*.jsonl exports/ -o runs/demo/collect --field text=body
    webtune collect brightdata --dataset-id gd_... --inputs urls.csv -o runs/demo/collect
    webtune collect brightdata-marketplace --dataset-id gd_... --filter '{...}' --records-limit 1000 --yes
    webtune collect crawl https://example.com/ --max-pages 50 -o runs/demo/collect
    webtune collect -p pipeline.yaml            # the pipeline's own `sources:`

Each command builds one source config and runs the collect stage through the stage
contract (manifest, atomic publish, skip when unchanged); with ``-p`` the source
replaces the pipeline's ``sources:`` and the output goes to the pipeline's run directory.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional

import typer

from webtune.cli.common import ForceOption, OutputOption, PipelineOption, RunDirOption, new_app, run_stage_command
from webtune.errors import ConfigError, StageError
from webtune.handoffs import Manifest

ROLES = ("text", "html", "title", "url")
BRIGHTDATA_KINDS = ("brightdata", "brightdata-marketplace")
YesOption = typer.Option(False, "--yes", help="Buy: go ahead after the estimate (without it, only the estimate).")
RecollectOption = typer.Option(False, "--recollect",
                               help="Start a new paid Bright Data collection (its cost is shown first) instead "
                                    "of reusing the snapshot already collected.")


def _run(sources: list[dict[str, Any]] | None, pipeline: Optional[Path], run_dir: Optional[Path],
         output: Optional[Path], force: bool) -> None:
    overrides = {"sources": sources} if sources is not None else None
    manifest = run_stage_command("collect", pipeline_path=pipeline, run_dir=run_dir, output_dir=output, force=force,
                                 overrides=overrides)
    reasons: dict[str, int] = {}
    for src in manifest.stats.get("sources", []):
        for reason, n in (src.get("reject_reasons") or {}).items():
            reasons[reason] = reasons.get(reason, 0) + n
    fail_if_nothing_kept(manifest, output or Path(manifest.run_dir) / "collect", reasons)


def fail_if_nothing_kept(manifest: Manifest, stage_dir: Path, reasons: dict[str, int]) -> None:
    """A stage that kept no record is an error for the user now, not "0 train examples" later.

    The output stays published, so its rejects.jsonl can be read; the line names the top reasons
    and the first reject's own message (e.g. "set allow_private to crawl it").
    """
    counts = manifest.counts
    if counts.kept > 0:
        return
    stage = manifest.stage
    top = ", ".join(f"{r} ({n})" for r, n in sorted(reasons.items(), key=lambda kv: -kv[1])[:3]) or "none"
    rejects = stage_dir / "rejects.jsonl"
    first = ""
    try:
        with open(rejects, encoding="utf-8") as fh:
            message = json.loads(fh.readline() or "{}").get("message")
        first = f"; first: {message}" if message else ""
    except (OSError, ValueError):
        pass
    raise StageError(f"{stage}: kept none of {counts.seen} records; reasons: {top}{first} "
                     f"(see {rejects})")


def parse_field_map(pairs: list[str]) -> dict[str, str]:
    """``["text=body", "title=name"]`` -> ``{"text": "body", "title": "name"}``."""
    mapping = {}
    for pair in pairs:
        role, sep, name = pair.partition("=")
        role, name = role.strip(), name.strip()
        if not sep or not name or role not in ROLES:
            raise ConfigError(f"--field {pair!r}: expected ROLE=FIELD with ROLE one of {', '.join(ROLES)}")
        mapping[role] = name
    return mapping


def files_command(
    paths: list[str] = typer.Argument(..., help="Files, directories or glob patterns (quote globs)."),
    field: list[str] = typer.Option([], "--field", help="ROLE=FIELD: which field holds text, html, title or url."),
    fmt: str = typer.Option("auto", "--format", help="Read every file as this format (default: from the name)."),
    encoding: Optional[str] = typer.Option(None, "--encoding", help="Text encoding of CSV/TSV files (default: detected)."),
    pipeline: Optional[Path] = PipelineOption,
    run_dir: Optional[Path] = RunDirOption,
    output: Optional[Path] = OutputOption,
    force: bool = ForceOption,
) -> None:
    """Collect local files: JSON, JSONL, CSV/TSV, Parquet, HTML, Markdown, text, SRT/VTT, WARC (.gz/.zst too)."""
    source: dict[str, Any] = {"kind": "files", "paths": [os.path.abspath(p) for p in paths],
                              "fields": parse_field_map(field), "format": fmt}
    if encoding:
        source["encoding"] = encoding
    _run([source], pipeline, run_dir, output, force)


def brightdata_command(
    dataset_id: str = typer.Option(..., "--dataset-id", help="The Bright Data dataset (scraper) id, gd_..."),
    input_json: Optional[str] = typer.Option(None, "--input-json", help='Inputs as JSON: \'[{"url": "..."}]\'.'),
    inputs: Optional[Path] = typer.Option(None, "--inputs", help="Inputs file: JSON array, JSONL or CSV."),
    snapshot_id: Optional[str] = typer.Option(None, "--snapshot-id", help="Collect this existing snapshot; trigger nothing."),
    discover_by: Optional[str] = typer.Option(None, "--discover-by", help="Discovery method (keyword, best_sellers_url, ...)."),
    limit_per_input: Optional[int] = typer.Option(None, "--limit-per-input", help="Discovery: results per input."),
    custom_output_fields: Optional[str] = typer.Option(
        None, "--custom-output-fields", help="Only these output fields, separated by | (url|title|about.updated_on)."),
    scrape: bool = typer.Option(False, "--scrape", help="Use the synchronous /scrape endpoint (up to 20 inputs)."),
    recollect: bool = RecollectOption,
    base_url: Optional[str] = typer.Option(None, "--base-url", help="API base URL (default https://api.brightdata.com)."),
    fmt: str = typer.Option("ndjson", "--format", help="Snapshot download format: json, ndjson, jsonl or csv."),
    max_wait: Optional[float] = typer.Option(None, "--max-wait", help="Give up waiting after this many seconds (resumable)."),
    poll_interval: Optional[float] = typer.Option(None, "--poll-interval", help="Seconds between progress checks."),
    field: list[str] = typer.Option([], "--field", help="ROLE=FIELD: which field holds text, html, title or url."),
    pipeline: Optional[Path] = PipelineOption,
    run_dir: Optional[Path] = RunDirOption,
    output: Optional[Path] = OutputOption,
    force: bool = ForceOption,
) -> None:
    """Trigger a Bright Data Web Scraper API collection (or collect a snapshot) and save it.

    The token is read from BRIGHTDATA_API_TOKEN. The snapshot id is saved the moment the
    trigger answers: running the same command again resumes it and never pays twice.
    """
    source: dict[str, Any] = {"kind": "brightdata", "dataset_id": dataset_id, "format": fmt,
                              "fields": parse_field_map(field)}
    if input_json is not None:
        try:
            parsed = json.loads(input_json)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"--input-json: invalid JSON: {exc.msg} at column {exc.colno}") from None
        source["inputs"] = parsed if isinstance(parsed, list) else [parsed]
    if inputs is not None:
        source["inputs_file"] = str(inputs.resolve())
    optional = {"snapshot_id": snapshot_id, "discover_by": discover_by, "limit_per_input": limit_per_input,
                "base_url": base_url, "max_wait_s": max_wait, "poll_interval_s": poll_interval,
                "custom_output_fields": custom_output_fields.split("|") if custom_output_fields else None}
    source.update({k: v for k, v in optional.items() if v is not None})
    if scrape:
        source["scrape"] = True
    if recollect:
        source["recollect"] = True
    _run([source], pipeline, run_dir, output, force or recollect)


def marketplace_command(
    dataset_id: str = typer.Option(..., "--dataset-id", help="The Marketplace dataset id, gd_..."),
    filter_json: Optional[str] = typer.Option(None, "--filter", help='The filter as JSON: \'{"name": "rating", "operator": ">=", "value": 4}\'.'),
    snapshot_id: Optional[str] = typer.Option(None, "--snapshot-id", help="Collect a snapshot bought before; buy nothing."),
    records_limit: Optional[int] = typer.Option(None, "--records-limit", help="Buy at most this many records."),
    yes: bool = YesOption,
    base_url: Optional[str] = typer.Option(None, "--base-url", help="API base URL (default https://api.brightdata.com)."),
    fmt: str = typer.Option("ndjson", "--format", help="Snapshot download format: json, ndjson, jsonl or csv."),
    poll_interval: Optional[float] = typer.Option(None, "--poll-interval", help="Seconds between status checks."),
    field: list[str] = typer.Option([], "--field", help="ROLE=FIELD: which field holds text, html, title or url."),
    recollect: bool = RecollectOption,
    pipeline: Optional[Path] = PipelineOption,
    run_dir: Optional[Path] = RunDirOption,
    output: Optional[Path] = OutputOption,
    force: bool = ForceOption,
) -> None:
    """Buy a Bright Data Marketplace dataset snapshot by filter (after its estimate, with --yes) and collect it."""
    source: dict[str, Any] = {"kind": "brightdata-marketplace", "dataset_id": dataset_id, "format": fmt,
                              "fields": parse_field_map(field), "yes": yes, "recollect": recollect}
    if filter_json is not None:
        try:
            source["filter"] = json.loads(filter_json)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"--filter: invalid JSON: {exc.msg} at column {exc.colno}") from None
    optional = {"snapshot_id": snapshot_id, "records_limit": records_limit, "base_url": base_url,
                "poll_interval_s": poll_interval}
    source.update({k: v for k, v in optional.items() if v is not None})
    _run([source], pipeline, run_dir, output, force or recollect)


def with_flags(pipeline: Path, yes: bool, recollect: bool) -> list[dict[str, Any]] | None:
    """The pipeline's sources with ``yes``/``recollect`` set on its Bright Data ones (None: no flag)."""
    if not (yes or recollect):
        return None
    from webtune.cli.common import pipeline_for

    sources = []
    for config in pipeline_for(pipeline).sources:
        source = config.model_dump(mode="json", exclude_unset=True)
        source["kind"] = config.kind
        if config.kind in BRIGHTDATA_KINDS:
            source["recollect"] = source.get("recollect", False) or recollect
            if config.kind == "brightdata-marketplace":
                source["yes"] = source.get("yes", False) or yes
        sources.append(source)
    return sources


def crawl_command(
    urls: list[str] = typer.Argument(None, help="Start URLs."),
    sitemap: list[str] = typer.Option([], "--sitemap", help="Sitemap URL to take pages from (repeatable)."),
    max_pages: int = typer.Option(100, "--max-pages", help="Fetch at most this many pages."),
    max_depth: int = typer.Option(3, "--max-depth", help="Follow links this many hops from a start URL."),
    concurrency: int = typer.Option(8, "--concurrency", help="Requests in flight in all."),
    per_host: int = typer.Option(2, "--per-host", help="Requests in flight per host."),
    delay: float = typer.Option(0.5, "--delay", help="Seconds between requests to one host."),
    user_agent: Optional[str] = typer.Option(None, "--user-agent", help="User agent (robots.txt rules apply to it)."),
    allow: list[str] = typer.Option([], "--allow", help="Only URLs matching this regex (repeatable)."),
    deny: list[str] = typer.Option([], "--deny", help="Skip URLs matching this regex (repeatable)."),
    any_domain: bool = typer.Option(False, "--any-domain", help="Follow links to other domains too."),
    allow_private: bool = typer.Option(False, "--allow-private", help="Allow private/loopback addresses."),
    timeout: float = typer.Option(20.0, "--timeout", help="Seconds per request."),
    pipeline: Optional[Path] = PipelineOption,
    run_dir: Optional[Path] = RunDirOption,
    output: Optional[Path] = OutputOption,
    force: bool = ForceOption,
) -> None:
    """Crawl start URLs and/or sitemaps politely (robots.txt, per-host delay) into HTML documents."""
    source: dict[str, Any] = {
        "kind": "crawl", "urls": list(urls or []), "sitemaps": sitemap, "max_pages": max_pages,
        "max_depth": max_depth, "concurrency": concurrency, "per_host_concurrency": per_host,
        "delay_s": delay, "allow": allow, "deny": deny, "same_domain": not any_domain,
        "allow_private": allow_private, "timeout_s": timeout,
    }
    if user_agent:
        source["user_agent"] = user_agent
    _run([source], pipeline, run_dir, output, force)


def register(app: typer.Typer) -> None:
    """Add the `collect` command group."""
    group = new_app("Collect web data (Bright Data, a crawler, local files) into documents.jsonl.")
    group.info.no_args_is_help = False

    @group.callback(invoke_without_command=True)
    def collect_callback(
        ctx: typer.Context,
        pipeline: Optional[Path] = PipelineOption,
        run_dir: Optional[Path] = RunDirOption,
        output: Optional[Path] = OutputOption,
        force: bool = ForceOption,
        yes: bool = YesOption,
        recollect: bool = RecollectOption,
    ) -> None:
        """Collect web data into documents.jsonl; with only -p, run the pipeline's `sources:`."""
        if ctx.invoked_subcommand is not None:
            return
        if pipeline is None:
            typer.echo(ctx.get_help())
            raise typer.Exit(0)
        _run(with_flags(pipeline, yes, recollect), pipeline, run_dir, output, force or recollect)

    group.command("files")(files_command)
    group.command("brightdata")(brightdata_command)
    group.command("brightdata-marketplace")(marketplace_command)
    group.command("crawl")(crawl_command)
    app.add_typer(group, name="collect")
