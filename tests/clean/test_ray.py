"""`executor: ray` on a local Ray instance gives the same output as the local executor."""

from __future__ import annotations

import pytest

from tests.clean.helpers import doc, run
from webtune.clean.synthetic import html_pages

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    yield
    ray.shutdown()


def test_ray_executor_matches_local(tmp_path, local_ray):
    docs = [doc(html=p, line=i + 1) for i, p in enumerate(html_pages(80, seed=9))]
    steps = [{"step": "html_to_text"}, {"step": "normalize"}, {"step": "gopher_quality"},
             {"step": "pii"}, {"step": "dedup"}, {"step": "length", "min_words": 20}]
    local, _, _ = run(tmp_path, docs, steps, workers=1, batch_size=8, out="local")
    distributed, kept, _ = run(tmp_path, docs, steps, executor="ray", batch_size=8, out="ray")
    assert distributed.stats["executor"] == "ray"
    for name in ("documents.jsonl", "rejects.jsonl"):
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "ray" / name).read_bytes()
    assert local.counts == distributed.counts and kept


def _dedup_corpus():
    from webtune.clean.synthetic import near_duplicate_families

    families = near_duplicate_families(n_families=12, edit_rate=0.02, seed=3)
    texts = [t for t, _ in families]
    texts += [texts[0], texts[5].upper() + " !", texts[7]]  # exact copies, one in another case
    # a chain: each step edits a few more words, so the ends may be below the threshold
    chain = texts[2].split()
    for k in range(1, 4):
        chain = chain[:10 * k] + ["chained%d" % k] + chain[10 * k + 1:]
        texts.append(" ".join(chain))
    texts.append("")  # nothing to compare
    return [doc(t, line=i + 1) for i, t in enumerate(texts)]


@pytest.mark.parametrize("keep", ["first", "longest"])
def test_distributed_dedup_matches_local(tmp_path, local_ray, keep):
    """Bands, verification, clustering and the plan on Ray Data give the local clusters and keepers."""
    from webtune.clean import ray_dedup

    docs = _dedup_corpus()
    steps = [{"step": "dedup", "keep": keep}]
    local, local_kept, local_rejects = run(tmp_path, docs, steps, workers=1, out="local")
    decided = []
    original = ray_dedup.decide
    ray_dedup.decide = lambda *a, **k: decided.append(1) or original(*a, **k)
    try:
        distributed, kept, rejects = run(tmp_path, docs, steps, executor="ray", batch_size=8, out="ray")
    finally:
        ray_dedup.decide = original
    assert decided, "dedup did not run on Ray Data"
    assert local_kept == kept and local_rejects == rejects
    assert {r["reason"] for r in rejects} == {"exact_duplicate", "near_duplicate"}
    assert any(k["meta"]["cluster_size"] >= 3 for k in kept)
    dedup = distributed.stats["steps"]["dedup"]
    assert dedup["clusters_with_duplicates"] == local.stats["steps"]["dedup"]["clusters_with_duplicates"]
    assert dedup["label_rounds"] >= 1


def test_dedup_against_refresh_history_decides_in_the_driver():
    """A refresh run's dedup reads and saves history signatures in `Dedup.decide`; Ray's
    distributed decide has no history, so such a step stays with the local decide."""
    from webtune.clean import ray_dedup
    from webtune.clean.steps.dedup import Dedup

    step = Dedup(Dedup.Config())
    assert ray_dedup.handles(step)
    step.history = object()  # what attach_history sets in a refresh run
    assert not ray_dedup.handles(step)
