"""`webtune clean`: extraction, normalisation, filters, PII redaction and dedup of collected documents."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from webtune.cli.common import (
    ForceOption, InputOption, OutputOption, PipelineOption, RunDirOption, console, pipeline_for,
    run_stage_command,
)
from webtune.cli.collect import fail_if_nothing_kept
from webtune.errors import ConfigError


def clean_command(
    pipeline: Optional[Path] = PipelineOption,
    run_dir: Optional[Path] = RunDirOption,
    input_dir: Optional[Path] = InputOption,
    output_dir: Optional[Path] = OutputOption,
    force: bool = ForceOption,
    executor: Optional[str] = typer.Option(None, "--executor", help="local (process pool) or ray (Ray Data)."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Worker processes (0: all cores, 1: none)."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Ray cluster address (default: local)."),
    explain: Optional[str] = typer.Option(None, "--explain", metavar="ID",
                                          help="Show why document ID was kept or dropped, then exit."),
) -> None:
    """Clean collected documents: every kept one in documents.jsonl, every drop in rejects.jsonl."""
    if explain is not None:
        if not explain.strip():  # an empty prefix would match, and print, every document
            raise ConfigError("--explain: give a document id (or its first characters)")
        _explain(explain, pipeline, run_dir, output_dir)
        return
    overrides: dict = {}
    if executor is not None:
        if executor not in ("local", "ray"):
            raise ConfigError(f"--executor: expected 'local' or 'ray' (got {executor!r})")
        overrides["executor"] = executor
    if workers is not None:
        overrides["workers"] = workers
    if ray_address is not None:
        overrides["ray_address"] = ray_address
    manifest = run_stage_command("clean", pipeline_path=pipeline, run_dir=run_dir, input_dir=input_dir,
                                 output_dir=output_dir, force=force,
                                 overrides={"clean": overrides} if overrides else None)
    reasons = {f"{step}/{reason}": n for step, entry in manifest.stats.get("steps", {}).items()
               if isinstance(entry, dict) for reason, n in (entry.get("reasons") or {}).items()}
    fail_if_nothing_kept(manifest, output_dir or Path(manifest.run_dir) / "clean", reasons)


def _explain(doc_id: str, pipeline: Optional[Path], run_dir: Optional[Path], output_dir: Optional[Path]) -> None:
    from webtune.clean.explain import explain

    if output_dir is not None:
        clean_dir = output_dir
    elif run_dir is not None:
        clean_dir = run_dir / "clean"
    elif pipeline is not None:
        clean_dir = pipeline_for(pipeline).resolved_run_dir() / "clean"
    else:
        raise ConfigError("--explain: say where the clean output is: --pipeline FILE, --run-dir DIR or --output DIR")
    explain(clean_dir, doc_id, console)


def register(app: typer.Typer) -> None:
    app.command("clean")(clean_command)
