#!/usr/bin/env python3
"""Clean-stage throughput: webtune vs datatrove on the same generated HTML pages, same run.

Both run the FineWeb-style chain on the same files with the same number of worker processes:
Trafilatura extraction -> Gopher repetition -> Gopher quality -> C4 -> FineWeb -> MinHash
near-dedup (word 5-grams). datatrove runs its own steps (its MinHash is its four-stage
signature / buckets / cluster / filter pipeline); webtune runs `webtune.clean`.

    .venv/bin/python bench/clean_speed.py --pages 2000 --workers 2

datatrove is a benchmark-only dependency (`pip install 'webtune[bench]'` plus spacy, which
datatrove's English word tokenizer needs).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from webtune.clean.config import CleanConfig
from webtune.clean.stage import run_clean
from webtune.clean.synthetic import html_pages
from webtune.jsonl import atomic_write_json, write_jsonl
from webtune.records import Document, SourceRef
from webtune.stage import run_stage

WEBTUNE_STEPS = [
    {"step": "html_to_text", "output": "text", "favor": "precision", "metadata": False},
    {"step": "gopher_repetition"},
    {"step": "gopher_quality"},
    {"step": "c4"},
    {"step": "fineweb"},
    {"step": "dedup", "ngram": 5, "similarity": "jaccard"},
]


def write_inputs(root: Path, pages: list[str], shards: int = 1) -> tuple[Path, Path]:
    """The same pages as a webtune collect store and as a datatrove JSONL input folder."""
    collect = root / "collect"
    docs = [Document(id=f"p{i}", source=SourceRef(kind="bench", uri=f"https://site{i % 50}.example/{i}", line=i + 1),
                     content_type="text/html", html=html) for i, html in enumerate(pages)]
    write_jsonl(collect / "documents.jsonl", docs)
    atomic_write_json(collect / "manifest.json", {"status": "complete", "fingerprint": "bench"})
    dt_in = root / "dt_in"
    dt_in.mkdir()
    # datatrove gives each task whole files: one shard per worker so both use every worker.
    per_shard = -(-len(pages) // shards)
    for shard in range(shards):
        with open(dt_in / f"pages-{shard:03d}.jsonl", "w", encoding="utf-8") as fh:
            for i in range(shard * per_shard, min(len(pages), (shard + 1) * per_shard)):
                record = {"id": f"p{i}", "text": pages[i], "metadata": {"url": f"https://site{i % 50}.example/{i}"}}
                fh.write(json.dumps(record) + "\n")
    return collect, dt_in


def run_webtune(root: Path, collect: Path, workers: int) -> tuple[float, set[str]]:
    config = CleanConfig.model_validate({"steps": WEBTUNE_STEPS, "workers": workers})
    start = time.perf_counter()
    run_stage("clean", run_clean, run_dir=root, config=config, inputs={"collect": collect},
              output_dir=root / "clean", force=True, console=Console(file=io.StringIO()))
    elapsed = time.perf_counter() - start
    kept = {json.loads(line)["id"] for line in open(root / "clean" / "documents.jsonl", encoding="utf-8")}
    return elapsed, kept


def run_datatrove(root: Path, dt_in: Path, workers: int) -> tuple[float, set[str]]:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup import MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter, MinhashDedupSignature
    from datatrove.pipeline.dedup.minhash import MinhashConfig
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.filters import (C4QualityFilter, FineWebQualityFilter, GopherQualityFilter,
                                            GopherRepetitionFilter)
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    _patch_xxhash()
    work = root / "dt"
    mh = MinhashConfig()  # 5-grams, 14 buckets x 8 hashes: FineWeb's setting
    logs = str(work / "logs")
    stages = [
        ("filter", [JsonlReader(str(dt_in)), Trafilatura(favour_precision=True), GopherRepetitionFilter(),
                    GopherQualityFilter(), C4QualityFilter(), FineWebQualityFilter(),
                    JsonlWriter(str(work / "filtered"), compression=None)], workers),
        ("signature", [JsonlReader(str(work / "filtered"), compression=None),
                       MinhashDedupSignature(output_folder=str(work / "sigs"), config=mh)], workers),
        ("buckets", [MinhashDedupBuckets(input_folder=str(work / "sigs"), output_folder=str(work / "buckets"),
                                         config=mh)], mh.num_buckets),
        ("cluster", [MinhashDedupCluster(input_folder=str(work / "buckets"), output_folder=str(work / "remove"),
                                         config=mh)], 1),
        ("dedup", [JsonlReader(str(work / "filtered"), compression=None),
                   MinhashDedupFilter(input_folder=str(work / "remove")),
                   JsonlWriter(str(work / "out"), compression=None)], workers),
    ]
    start = time.perf_counter()
    for name, pipeline, tasks in stages:
        # fork (not datatrove's default forkserver): faster start, and it carries the patch below
        LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=min(workers, tasks), start_method="fork",
                              logging_dir=f"{logs}/{name}", skip_completed=False).run()
    elapsed = time.perf_counter() - start
    kept = set()
    for path in (work / "out").glob("*.jsonl"):
        kept.update(json.loads(line)["id"] for line in open(path, encoding="utf-8"))
    return elapsed, kept


def _patch_xxhash() -> None:
    """xxhash >= 3.6 refuses str input, which datatrove 0.10's default MinHash hash passes:
    encode first, keeping datatrove on its own (fast) default hash."""
    import xxhash
    from datatrove.utils.hashes import xxhash as dt_xxhash

    dt_xxhash.xxhash64 = lambda data: xxhash.xxh64_intdigest(data.encode("utf-8") if isinstance(data, str) else data)
    dt_xxhash.xxhash32 = lambda data: xxhash.xxh32_intdigest(data.encode("utf-8") if isinstance(data, str) else data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    console = Console()
    pages = html_pages(args.pages, seed=args.seed)
    root = Path(tempfile.mkdtemp(prefix="webtune-bench-"))
    try:
        collect, dt_in = write_inputs(root, pages, shards=args.workers)
        wt_time, wt_kept = run_webtune(root, collect, args.workers)
        try:
            dt_time, dt_kept = run_datatrove(root, dt_in, args.workers)
        except ImportError as exc:
            console.print(f"[yellow]datatrove not available ({exc}); webtune only[/yellow]")
            dt_time, dt_kept = None, None
    finally:
        shutil.rmtree(root, ignore_errors=True)
    table = Table(title=f"clean: {args.pages} generated HTML pages, {args.workers} worker(s)")
    for col in ("system", "seconds", "docs/s", "kept"):
        table.add_column(col, justify="right" if col != "system" else "left")
    table.add_row("webtune", f"{wt_time:.2f}", f"{args.pages / wt_time:.0f}", str(len(wt_kept)))
    if dt_time is not None:
        table.add_row("datatrove", f"{dt_time:.2f}", f"{args.pages / dt_time:.0f}", str(len(dt_kept)))
    console.print(table)
    if dt_time is not None:
        agree = len(wt_kept & dt_kept) / max(1, len(wt_kept | dt_kept))
        console.print(f"webtune is [bold]{dt_time / wt_time:.2f}x[/bold] the speed of datatrove "
                      f"(kept-set overlap, Jaccard: {agree:.2f})")


if __name__ == "__main__":
    main()
