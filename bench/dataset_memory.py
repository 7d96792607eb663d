#!/usr/bin/env python3
"""Benchmark: peak memory (RSS) of the dataset stage on about 1 GB of clean documents.

    .venv/bin/python bench/dataset_memory.py [--gb 1.0] [--dir /tmp/webtune-bench] [--model PATH] [--keep]

Generates ``<dir>/clean/documents.jsonl`` shaped like the clean stage's output for the demo's
office products (fields as scraped: title, brand, features, description, categories, price,
rating, a few reviews; ``meta.cluster_id``/``meta.lang`` from clean, one product in ten in a
near-duplicate cluster), reused when it already has the right size. Then runs the dataset stage
through the stage contract (``run_one_stage``, the demo pipeline's ``dataset`` section) in a
subprocess, which reports its own peak RSS (``VmHWM`` of /proc/self/status; ``getrusage``
elsewhere).

Tokens are counted with the tiny test model's tokenizer (webtune.models.tiny: a byte-level BPE
with a ChatML template, built in a second under ``<dir>``), unless ``--model`` names another
base model (for example a prepared ``smollm2-135m-instruct``). Budget: 400 MB; the script
prints the figure and its ratio to the budget and exits 1 over it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUDGET_MB = 400
WORDS = ("smooth", "quick-drying", "archival", "refillable", "ergonomic", "recycled", "acid-free", "bold",
         "fine", "waterproof", "smudge-proof", "vivid", "durable", "compact", "premium", "everyday")
KINDS = ("Gel Pen", "Notebook", "Stapler", "Highlighter", "Desk Organizer", "Sticky Notes", "Binder", "Marker")


def product(i: int, rng: random.Random) -> dict:
    """One clean product document (about 1.2 KB) like the demo's, with distinct text."""
    kind, brand = rng.choice(KINDS), f"Brand{rng.randrange(200)}"
    features = [f"{rng.choice(WORDS).capitalize()} {kind.lower()} design no. {rng.randrange(10**6)}" for _ in range(4)]
    description = " ".join(
        f"The {brand} {kind} {i} is {rng.choice(WORDS)} and {rng.choice(WORDS)}, made for notes number "
        f"{rng.randrange(10**6)}." for _ in range(3))
    reviews = [{"rating": rng.randrange(1, 6), "text": f"{rng.choice(WORDS).capitalize()} and {rng.choice(WORDS)}; "
                f"bought {rng.randrange(1, 20)} of them for the office."} for _ in range(2)]
    cluster = f"c{i // 10 * 10}" if i % 10 == 0 else f"c{i}"
    return {"id": f"p{i:09d}", "source": {"kind": "files", "uri": "data/snapshot.json", "line": i},
            "collected_at": "2026-11-24T10:00:00+00:00", "content_type": "application/json",
            "fields": {"title": f"{brand} {kind} {i}", "brand": brand, "features": features,
                       "description": description, "categories": ["Office Products", kind + "s"],
                       "final_price": round(rng.uniform(1, 80), 2), "rating": round(rng.uniform(1, 5), 1),
                       "asin": f"B{i:09d}", "url": f"https://www.example.com/dp/B{i:09d}", "reviews": reviews},
            "meta": {"cluster_id": cluster, "lang": "en"}}


def write_documents(path: Path, target_bytes: int) -> int:
    """Write documents until the file holds ``target_bytes``; return how many."""
    rng = random.Random(7)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = size = 0
    with open(path, "w", encoding="utf-8") as fh:
        while size < target_bytes:
            line = json.dumps(product(n, rng)) + "\n"
            fh.write(line)
            size += len(line.encode("utf-8"))
            n += 1
    return n


def child(args: argparse.Namespace) -> int:
    """Run the dataset stage through the stage contract (in the measured subprocess)."""
    import yaml

    from webtune.config import validate_pipeline
    from webtune.pipeline import run_one_stage, stage_spec

    dataset = yaml.safe_load((ROOT / "examples" / "office-products" / "pipeline.yaml").read_text())["dataset"]
    pipeline = validate_pipeline({"name": "bench", "base_model": str(args.model), "seed": 7, "dataset": dataset},
                                 base_dir=args.dir)
    manifest = run_one_stage(stage_spec("dataset"), pipeline, args.dir / "run", inputs={"clean": args.dir / "clean"},
                             force=True)
    print(json.dumps({"counts": manifest.counts.to_json(), "examples": manifest.stats["examples"],
                      "rejects": manifest.stats["rejects"], "duration_s": manifest.duration_s,
                      "peak_rss_mb": round(peak_rss_mb(), 1)}))
    return 0


def peak_rss_mb() -> float:
    """This process's peak RSS: VmHWM (reset by exec, so the forking parent's pages do not count).

    ``getrusage`` keeps the high-water mark of the process before exec, which for a child of a
    parent that imported torch would be the parent's size, not the stage's.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gb", type=float, default=1.0)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/webtune-bench/dataset"))
    parser.add_argument("--model", type=str, default=None, help="base model (default: the tiny test model)")
    parser.add_argument("--keep", action="store_true", help="keep the generated documents and the output")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.dir = args.dir.resolve()
    if args.child:
        return child(args)
    args.dir.mkdir(parents=True, exist_ok=True)
    data = args.dir / "clean" / "documents.jsonl"
    target = int(args.gb * 1e9)
    if not data.exists() or abs(data.stat().st_size - target) > 0.01 * target:
        started = time.perf_counter()
        n = write_documents(data, target)
        print(f"generated {data} ({data.stat().st_size / 1e6:.0f} MB, {n} documents) "
              f"in {time.perf_counter() - started:.0f}s", flush=True)
    model = args.model
    if model is None:  # built in a subprocess: this process stays small (see peak_rss_mb)
        model = str(args.dir / "tiny-model")
        subprocess.run([sys.executable, "-c", "import sys; from webtune.models.tiny import build_tiny_model; "
                        "build_tiny_model(sys.argv[1])", model], check=True)
    shutil.rmtree(args.dir / "run", ignore_errors=True)
    command = [sys.executable, str(Path(__file__).resolve()), "--child", "--dir", str(args.dir), "--model", model]
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "COLUMNS": "120"})
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        print(proc.stdout, proc.stderr[-5000:], sep="\n")
        return proc.returncode
    stage = json.loads(proc.stdout.strip().splitlines()[-1])
    peak_mb = stage.pop("peak_rss_mb")
    size_mb = data.stat().st_size / 1e6
    result = {"input_mb": round(size_mb), "tokenizer": "tiny test model" if args.model is None else model,
              **stage, "seconds": round(seconds, 1), "mb_per_s": round(size_mb / seconds, 2),
              "peak_rss_mb": round(peak_mb, 1), "budget_mb": BUDGET_MB,
              "ratio_to_budget": round(peak_mb / BUDGET_MB, 3), "ok": peak_mb <= BUDGET_MB}
    print(json.dumps(result, indent=2))
    if not args.keep:
        shutil.rmtree(args.dir, ignore_errors=True)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
