#!/usr/bin/env python3
"""Benchmark: peak memory (RSS) of the collect stage ingesting a generated 1 GB NDJSON file.

    .venv/bin/python bench/collect_memory.py [--gb 1.0] [--dir /tmp/webtune-bench] [--keep]

The file is generated under ``--dir`` (reused when it already has the right size), then
ingested by ``webtune collect files`` in a subprocess; the child's peak RSS comes from
``getrusage(RUSAGE_CHILDREN)``. Target: under 300 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from collect_files import write_ndjson  # noqa: E402

TARGET_MB = 300


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gb", type=float, default=1.0)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/webtune-bench"))
    parser.add_argument("--keep", action="store_true", help="keep the generated file and the output")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    data = args.dir / f"big-{args.gb:g}gb.jsonl"
    target = int(args.gb * 1e9)
    if not data.exists() or data.stat().st_size < target:
        started = time.perf_counter()
        write_ndjson(data, target)
        print(f"generated {data} ({data.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started:.0f}s")
    out = args.dir / "run-memory" / "collect"
    shutil.rmtree(out.parent, ignore_errors=True)
    webtune = [sys.executable, "-m", "webtune.cli.main"] if not shutil.which("webtune") else ["webtune"]
    venv_webtune = Path(sys.executable).parent / "webtune"
    command = [str(venv_webtune)] if venv_webtune.exists() else webtune
    command += ["collect", "files", str(data), "-o", str(out), "--force"]
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "COLUMNS": "120"})
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # Linux: KiB
    if proc.returncode != 0:
        print(proc.stdout, proc.stderr, sep="\n")
        return proc.returncode
    manifest = json.loads((out / "manifest.json").read_text())
    size_mb = data.stat().st_size / 1e6
    result = {"input_mb": round(size_mb), "records": manifest["counts"]["kept"], "seconds": round(seconds, 1),
              "mb_per_s": round(size_mb / seconds, 1), "peak_rss_mb": round(peak_mb, 1),
              "target_mb": TARGET_MB, "ok": peak_mb < TARGET_MB}
    print(json.dumps(result, indent=2))
    if not args.keep:
        shutil.rmtree(out.parent, ignore_errors=True)
        data.unlink()
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
