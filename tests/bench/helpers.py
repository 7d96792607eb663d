"""Load a benchmark script of bench/ as a module, so its tests call its functions."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"


def load_bench(name: str) -> ModuleType:
    """``bench/<name>.py`` as a module; bench/ goes on sys.path for the scripts that import each other."""
    if str(BENCH_DIR) not in sys.path:
        sys.path.insert(0, str(BENCH_DIR))
    spec = importlib.util.spec_from_file_location(name, BENCH_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_main(bench: ModuleType, argv: list[str]) -> int:
    """``bench.main(argv)``, with torch's thread count put back after (the scripts set their own)."""
    import torch

    threads = torch.get_num_threads()
    try:
        return bench.main(argv)
    finally:
        torch.set_num_threads(threads)


def write_messages(path: Path, conversations: list) -> Path:
    """``conversations`` as a JSONL file of ``{"messages": ...}`` lines."""
    import json

    path.write_text("".join(json.dumps({"messages": m}) + "\n" for m in conversations))
    return path
