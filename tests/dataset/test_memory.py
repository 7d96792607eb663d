"""The dataset stage's memory does not grow with the corpus (bench/dataset_memory.py: the 1 GB run)."""

from __future__ import annotations

import tracemalloc
from typing import Any

from webtune.dataset import stage as dataset_stage

from tests.dataset.helpers import demo_dataset_section, product, run_dataset_stage


def long_products(n: int, start: int = 0) -> list[dict]:
    """Products with long, distinct descriptions (a few KB each), one in five in a shared cluster."""
    docs = []
    for i in range(start, start + n):
        sentences = " ".join(f"Pen {i} line {k} writes smoothly on paper." for k in range(20))
        doc = product(i, description=sentences, notes="x" * 2000)
        if i % 5 == 0:
            doc["meta"]["cluster_id"] = f"shared-{i % 50}"
        docs.append(doc)
    return docs


def peak_traced(tmp_path, model_dir, docs: list[dict], name: str, monkeypatch) -> tuple[int, Any]:
    """Peak Python allocations (bytes) of the stage function itself, and the stage's manifest.

    Only what ``run_dataset`` allocates is traced: not the test's documents, not the runner's
    input hashing (which reads in fixed 1 MiB blocks).
    """
    peaks = []
    run = dataset_stage.run_dataset

    def traced(ctx):
        tracemalloc.start()
        try:
            return run(ctx)
        finally:
            peaks.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()

    with monkeypatch.context() as patch:
        patch.setattr(dataset_stage, "run_dataset", traced)
        manifest, _ = run_dataset_stage(tmp_path / name, model_dir, {**demo_dataset_section(), "max_tokens": 1024},
                                        docs, name=name)
    assert peaks and peaks[0] > 0
    return peaks[0], manifest


def test_peak_memory_does_not_grow_with_the_number_of_documents(tmp_path, tiny_model_dir, monkeypatch):
    # small batches, so a small corpus already spans many of them
    monkeypatch.setattr(dataset_stage, "DOCS_PER_BATCH", 20)
    monkeypatch.setattr(dataset_stage, "CHECK_BATCH", 20)
    n = 100
    peak_traced(tmp_path, tiny_model_dir, long_products(20), "warm", monkeypatch)  # imports and caches
    small, manifest_small = peak_traced(tmp_path, tiny_model_dir, long_products(n), "small", monkeypatch)
    large, manifest_large = peak_traced(tmp_path, tiny_model_dir, long_products(4 * n), "large", monkeypatch)
    assert manifest_small.counts.kept == n and manifest_large.counts.kept == 4 * n
    # holding every document (about 3 KB of text each, several times over as objects) would add
    # well over 1 MB for the 300 extra documents; streaming keeps the peak where it was
    assert large - small < 200_000, (small, large)
