"""What the fault tests compare: every file of every stage directory, less what a rerun may change.

A rerun after a kill is correct when each stage's files hold what an uninterrupted run's hold.
Times (``collected_at``, ``started_at``, durations, throughput) and where things lie (the run
directory, absolute paths) differ between any two runs and are left out; so are the
fingerprints and hashes derived from files holding them. Every other value is compared, of
JSON and JSON Lines files field by field, of other files byte for byte (the adapter's weights).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

STAGES = ("collect", "clean", "dataset", "train", "evaluate", "register")
# Keys whose values differ between two uninterrupted runs of the same pipeline.
VOLATILE = re.compile(
    r"(_at|^at|_s|_seconds|seconds|per_s|per_second|^path|_path|^run_dir|^registry|^fingerprint|"
    r"^sha256|^bytes|^versions|^created|^time|^elapsed|^duration|^tokens_per.*|^identity)$")
# Times and rates inside text reports ("0.013 s (1919.8 docs/s)").
TIMING = re.compile(r"\d+(\.\d+)?\s*(s|ms|docs/s|tokens/s)\b")
# Files that hold nothing but times, logs or renderings of them (a resumed run's TensorBoard
# log is split in two files, the last one's time in their names).
SKIPPED = re.compile(r"(^|/)(tensorboard/.*|loss\.png|report\.html|.*\.png)$")


def scrub(value: Any) -> Any:
    """``value`` without the keys `VOLATILE` matches and the file entries `SKIPPED` matches."""
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items() if not VOLATILE.search(str(k))}
    if isinstance(value, list):
        # A resumed run adds a TensorBoard event file (one per writer): manifests list it.
        return [scrub(v) for v in value
                if not (isinstance(v, dict) and SKIPPED.search(str(v.get("path", ""))))]
    return value


def file_digest(path: Path) -> Any:
    """The comparable content of one file: scrubbed JSON, or the SHA-256 of its bytes."""
    if path.suffix == ".json":
        return scrub(json.loads(path.read_text(encoding="utf-8")))
    if path.suffix == ".jsonl":
        return [scrub(json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line]
    if path.suffix == ".md":
        return TIMING.sub("#", path.read_text(encoding="utf-8"))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(run_dir: Path, stages: tuple[str, ...] = STAGES) -> dict[str, dict[str, Any]]:
    """Every stage directory of ``run_dir`` as {stage: {file: comparable content}}."""
    out: dict[str, dict[str, Any]] = {}
    for stage in stages:
        root = run_dir / stage
        out[stage] = {str(p.relative_to(root)): file_digest(p) for p in sorted(root.rglob("*"))
                      if p.is_file() and not SKIPPED.search(str(p.relative_to(root)))}
    return out


def differences(a: dict[str, Any], b: dict[str, Any], where: str = "") -> list[str]:
    """Where two snapshots differ, as readable key paths (empty when equal)."""
    if isinstance(a, dict) and isinstance(b, dict):
        found = []
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                found.append(f"{where}/{key}: only in {'second' if key not in a else 'first'}")
            else:
                found += differences(a[key], b[key], f"{where}/{key}")
        return found
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{where}[{i}]")]
    return [] if a == b else [f"{where}: {str(a)[:80]} != {str(b)[:80]}"]
