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



def test_datatrove_best_counts_webtunes_words_and_extracts_with_its_options():
    """datatrove's best configuration takes the same decisions as webtune: its word tokenizer
    gives webtune's English units (a decimal number is three units on both sides), and
    trafilatura runs without datatrove's cross-page deduplication, as webtune calls it."""
    from webtune import text_units

    bench = load_bench("clean_speed")
    text = "The A4 binder costs 436.19 dollars; it's a well-known brand. Buy now!"
    assert bench.best_word_units(text) == list(text_units.tokens(text))
    assert "436.19" not in bench.best_word_units(text) and "it's" in bench.best_word_units(text)
    assert bench.trafilatura_options(best=True) == {"favour_precision": True, "timeout": 30, "deduplicate": False}
    assert bench.trafilatura_options(best=False)["deduplicate"] is True  # datatrove's default
