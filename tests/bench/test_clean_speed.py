"""bench/clean_speed.py: the CPU seconds of a run count its worker processes."""

from __future__ import annotations

import multiprocessing as mp
import time

from tests.bench.helpers import load_bench


def _burn(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_cpu_seconds_count_finished_workers():
    bench = load_bench("clean_speed")
    start = bench.cpu_seconds()
    worker = mp.get_context("fork").Process(target=_burn, args=(0.3,))
    worker.start()
    worker.join()
    assert bench.cpu_seconds() - start >= 0.25  # the worker's time, though this process slept
