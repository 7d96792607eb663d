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
