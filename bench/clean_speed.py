#!/usr/bin/env python3
"""Clean-stage throughput: webtune vs datatrove at its defaults and at its best, same run.

All run the FineWeb-style chain on the same files with the same number of worker processes:
Trafilatura extraction -> Gopher repetition -> Gopher quality -> C4 -> FineWeb -> MinHash
near-dedup (word 5-grams). datatrove runs its own steps (its MinHash is its four-stage
signature / buckets / cluster / filter pipeline); webtune runs `webtune.clean`.

datatrove is run twice:
* defaults: its English word tokenizer (spaCy), which each filter and the MinHash
  signature call on their own;
* best: the same filters and thresholds, with a regex word tokenizer
  (`RegexWordTokenizer`: webtune's own English units, words and punctuation runs, so both sides
  count the same words; sentences split after . ! ?) passed through each filter's and the
  signature's ``language`` parameter, which datatrove takes as a tokenizer instance, and
  trafilatura called with webtune's options (``deduplicate`` off: datatrove's default asks
  trafilatura to drop text it saw on earlier pages, webtune does not). It is the fastest
  configuration we found that keeps the steps, and it takes the same decisions as webtune.

Pages: ``--pages-kind realistic`` (default) are `webtune.clean.synthetic.realistic_pages`,
30-40 KB each with navigation, tables, comment threads, styles and scripts;
``--pages-kind small`` the 2 KB pages of `html_pages`. The systems run interleaved
(webtune, datatrove best, datatrove defaults, then again ``--repeats`` times), so load from
other jobs on a shared machine hits all alike; the best time of each is reported, with the CPU
seconds each run used (its processes and their workers), which other jobs hardly change, and
the load average before and after.
``--profile`` runs each once in this process under cProfile and prints where the time goes.

    .venv/bin/python bench/clean_speed.py --pages 300 --workers 2 --repeats 2

datatrove is a benchmark-only dependency (`pip install 'webtune[bench]'`, with spacy for its
defaults; ``--site DIR`` appends a folder holding spacy to the import path).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import re
import sys
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
from webtune.clean.synthetic import html_pages, realistic_pages
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


def best_word_units(text: str) -> list[str]:
    """The words datatrove's best configuration counts: webtune's own English units
    (`webtune.text_units.tokens`: words with inner apostrophes and hyphens, and runs of
    punctuation), so that both sides count the same words and take the same decisions."""
    from webtune import text_units

    return list(text_units.tokens(text))


def trafilatura_options(best: bool) -> dict:
    """datatrove's Trafilatura step: favour precision like webtune's clean; at its best also with
    webtune's ``deduplicate`` off (datatrove's default asks trafilatura to drop text it saw on
    earlier pages; webtune does not). timeout: datatrove skips a page whose extraction takes over
    1 s (its default); on a shared, loaded machine that dropped 30 KB pages, so both runs allow 30 s."""
    return {"favour_precision": True, "timeout": 30, "deduplicate": not best}


def regex_tokenizer():
    """datatrove's fastest word tokenizer for these steps: a regex (`best_word_units`)."""
    from datatrove.utils.word_tokenizers import WordTokenizer, simple_span_tokenize

    sentences = re.compile(r"(?<=[.!?])\s+")

    class RegexWordTokenizer(WordTokenizer):
        def word_tokenize(self, text: str) -> list[str]:
            return best_word_units(text)

        def sent_tokenize(self, text: str) -> list[str]:
            return [s.strip() for s in sentences.split(text) if s.strip()]

        def span_tokenize(self, text: str) -> list[tuple[int, int]]:
            return list(simple_span_tokenize(text, self.sent_tokenize(text)))

    return RegexWordTokenizer("en")


def datatrove_stages(root: Path, dt_in: Path, workers: int, language, best: bool = False) -> list[tuple[str, list, int]]:
    """datatrove's pipeline, stage by stage: (name, steps, tasks)."""
    from datatrove.pipeline.dedup import MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter, MinhashDedupSignature
    from datatrove.pipeline.dedup.minhash import MinhashConfig
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.filters import (C4QualityFilter, FineWebQualityFilter, GopherQualityFilter,
                                            GopherRepetitionFilter)
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    mh = MinhashConfig()  # 5-grams, 14 buckets x 8 hashes: FineWeb's setting
    return [
        ("filter", [JsonlReader(str(dt_in)), Trafilatura(**trafilatura_options(best)),
                    GopherRepetitionFilter(language=language), GopherQualityFilter(language=language),
                    C4QualityFilter(language=language), FineWebQualityFilter(language=language),
                    JsonlWriter(str(root / "filtered"), compression=None)], workers),
        ("signature", [JsonlReader(str(root / "filtered"), compression=None),
                       MinhashDedupSignature(output_folder=str(root / "sigs"), config=mh, language=language)], workers),
        ("buckets", [MinhashDedupBuckets(input_folder=str(root / "sigs"), output_folder=str(root / "buckets"),
                                         config=mh)], mh.num_buckets),
        ("cluster", [MinhashDedupCluster(input_folder=str(root / "buckets"), output_folder=str(root / "remove"),
                                         config=mh)], 1),
        ("dedup", [JsonlReader(str(root / "filtered"), compression=None),
                   MinhashDedupFilter(input_folder=str(root / "remove")),
                   JsonlWriter(str(root / "out"), compression=None)], workers),
    ]


def run_datatrove(root: Path, dt_in: Path, workers: int, language="eng") -> tuple[float, set[str]]:
    from datatrove.executor import LocalPipelineExecutor

    patch_xxhash()
    quiet_datatrove()
    shutil.rmtree(root, ignore_errors=True)
    start = time.perf_counter()
    best = not isinstance(language, str)  # the regex tokenizer: datatrove's best configuration
    for name, pipeline, tasks in datatrove_stages(root, dt_in, workers, language, best=best):
        # fork (not datatrove's default forkserver): faster start, and it carries the patch below
        LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=min(workers, tasks), start_method="fork",
                              logging_dir=f"{root}/logs/{name}", skip_completed=False).run()
    elapsed = time.perf_counter() - start
    kept = set()
    for path in (root / "out").glob("*.jsonl"):
        kept.update(json.loads(line)["id"] for line in open(path, encoding="utf-8"))
    return elapsed, kept


def quiet_datatrove() -> None:
    """datatrove logs every task's stats to stderr (loguru); keep only its warnings."""
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="WARNING")


def patch_xxhash() -> None:
    """xxhash >= 3.6 refuses str input, which datatrove 0.10's default MinHash hash passes:
    encode first, keeping datatrove on its own (fast) default hash."""
    import xxhash
    from datatrove.utils.hashes import xxhash as dt_xxhash

    dt_xxhash.xxhash64 = lambda data: xxhash.xxh64_intdigest(data.encode("utf-8") if isinstance(data, str) else data)
    dt_xxhash.xxhash32 = lambda data: xxhash.xxh32_intdigest(data.encode("utf-8") if isinstance(data, str) else data)


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the workers of a run, once it ends):
    unlike wall time, other jobs on a shared machine hardly change it."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def profile(label: str, fn, top: int = 14) -> None:
    """Run ``fn`` under cProfile and print the functions with the most time of their own."""
    profiler = cProfile.Profile()
    profiler.runcall(fn)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    total = sum(v[2] for v in stats.stats.values())
    print(f"\n=== {label}: {total:.1f} s in-process, top functions by own time ===")
    body = out.getvalue()
    print(body[body.find("ncalls"):])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--pages-kind", choices=["realistic", "small"], default="realistic")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--site", help="a folder appended to the import path (spacy for datatrove's defaults)")
    parser.add_argument("--profile", action="store_true", help="also profile each system in this process")
    args = parser.parse_args()
    if args.site:
        sys.path.append(args.site)
    console = Console(width=130)
    pages = (realistic_pages if args.pages_kind == "realistic" else html_pages)(args.pages, seed=args.seed)
    mean_kb = sum(len(p.encode("utf-8")) for p in pages) / len(pages) / 1024
    root = Path(tempfile.mkdtemp(prefix="webtune-bench-"))
    systems = {"webtune": None, "datatrove best": "best", "datatrove defaults": "eng"}
    try:
        import spacy  # noqa: F401
    except ImportError:
        console.print("[yellow]spacy missing: datatrove defaults skipped (pass --site DIR)[/yellow]")
        systems.pop("datatrove defaults")
    times: dict[str, list[float]] = {name: [] for name in systems}
    cpu: dict[str, list[float]] = {name: [] for name in systems}
    kept: dict[str, set[str]] = {}
    load_before = os.getloadavg()
    try:
        collect, dt_in = write_inputs(root, pages, shards=args.workers)
        for _ in range(args.repeats):
            for name, language in systems.items():
                start_cpu = cpu_seconds()
                if language is None:
                    elapsed, kept[name] = run_webtune(root, collect, args.workers)
                else:
                    lang = regex_tokenizer() if language == "best" else language
                    elapsed, kept[name] = run_datatrove(root / "dt", dt_in, args.workers, lang)
                times[name].append(elapsed)
                cpu[name].append(cpu_seconds() - start_cpu)
        if args.profile:
            profile("webtune (1 worker)", lambda: run_webtune(root, collect, 1))
            profile("datatrove best (1 worker)", lambda: run_datatrove(root / "dt", dt_in, 1, regex_tokenizer()))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    table = Table(title=f"clean: {args.pages} {args.pages_kind} pages (mean {mean_kb:.1f} KB), "
                        f"{args.workers} worker(s), best of {args.repeats} interleaved runs")
    for col in ("system", "seconds (each run)", "CPU seconds (each run)", "docs/s", "docs per CPU-s", "kept",
                "webtune's speed vs this", "per CPU-second", "kept-set overlap with webtune"):
        table.add_column(col, justify="right" if col != "system" else "left")
    best = {name: min(t) for name, t in times.items()}
    best_cpu = {name: min(t) for name, t in cpu.items()}
    for name, t in times.items():
        overlap = len(kept[name] & kept["webtune"]) / max(1, len(kept[name] | kept["webtune"]))
        table.add_row(name, f"{best[name]:.2f} ({', '.join(f'{x:.1f}' for x in t)})",
                      f"{best_cpu[name]:.2f} ({', '.join(f'{x:.1f}' for x in cpu[name])})",
                      f"{args.pages / best[name]:.1f}", f"{args.pages / best_cpu[name]:.1f}", str(len(kept[name])),
                      f"{best[name] / best['webtune']:.2f}x", f"{best_cpu[name] / best_cpu['webtune']:.2f}x",
                      f"{overlap:.3f}")
    console.print(table)
    console.print(f"load average (1, 5, 15 min) before: {', '.join(f'{x:.2f}' for x in load_before)}; "
                  f"after: {', '.join(f'{x:.2f}' for x in os.getloadavg())} (on {os.cpu_count()} cores)")
    for name in best:
        if name != "webtune":
            console.print(f"webtune is [bold]{best[name] / best['webtune']:.2f}x[/bold] the speed of {name} "
                          f"({best_cpu[name] / best_cpu['webtune']:.2f}x per CPU-second)")


if __name__ == "__main__":
    main()
