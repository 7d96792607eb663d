"""Splits: deterministic, sized as asked, and never splitting a near-duplicate cluster."""

from __future__ import annotations

import random
from collections import Counter, defaultdict

import pytest

from webtune.dataset.config import SplitConfig
from webtune.dataset.splits import assign_splits, group_key


def clustered_metas(n_docs: int = 300, seed: int = 1) -> list[dict]:
    """Examples from documents in near-duplicate clusters of size 1-6, some with two templates."""
    rng = random.Random(seed)
    metas, doc = [], 0
    while doc < n_docs:
        size = rng.choice([1, 1, 1, 2, 3, 6])
        cluster = f"c{doc}" if size > 1 or rng.random() < 0.5 else None
        for _ in range(size):
            for template in ("copy", "title") if rng.random() < 0.3 else ("copy",):
                metas.append({"source_id": f"d{doc}", "cluster_id": cluster, "template": template})
            doc += 1
    return metas


@pytest.mark.parametrize("seed", [0, 7, 123])
def test_no_cluster_or_document_lands_in_two_splits(seed):
    metas = clustered_metas()
    names = assign_splits(metas, validation=0.1, test=0.15, seed=seed)
    by_cluster, by_doc = defaultdict(set), defaultdict(set)
    for meta, name in zip(metas, names):
        by_doc[meta["source_id"]].add(name)
        if meta["cluster_id"]:
            by_cluster[meta["cluster_id"]].add(name)
    assert all(len(s) == 1 for s in by_cluster.values())
    assert all(len(s) == 1 for s in by_doc.values())
    sizes = Counter(names)
    total = len(metas)
    # sizes land within one cluster (at most 6 docs x 2 templates) of the target
    assert abs(sizes["test"] - 0.15 * total) <= 12 and abs(sizes["validation"] - 0.1 * total) <= 12
    assert sizes["train"] + sizes["validation"] + sizes["test"] == total


def test_deterministic_and_seed_dependent():
    metas = clustered_metas()
    assert assign_splits(metas, 0.1, 0.1, seed=7) == assign_splits(metas, 0.1, 0.1, seed=7)
    assert assign_splits(metas, 0.1, 0.1, seed=7) != assign_splits(metas, 0.1, 0.1, seed=8)
    # order of the input does not change where an example goes
    order = list(range(len(metas)))
    random.Random(3).shuffle(order)
    shuffled = assign_splits([metas[i] for i in order], 0.1, 0.1, seed=7)
    original = assign_splits(metas, 0.1, 0.1, seed=7)
    assert [original[i] for i in order] == shuffled


def test_counts_instead_of_fractions():
    metas = [{"source_id": f"d{i}", "cluster_id": None} for i in range(100)]
    sizes = Counter(assign_splits(metas, validation=12, test=5, seed=0))
    assert (sizes["validation"], sizes["test"], sizes["train"]) == (12, 5, 83)


def test_small_sets_still_get_validation_and_test():
    metas = [{"source_id": f"d{i}", "cluster_id": None} for i in range(6)]
    sizes = Counter(assign_splits(metas, 0.1, 0.1, seed=0))
    assert sizes == {"train": 4, "validation": 1, "test": 1}


def test_group_key_falls_back_to_the_source_document():
    assert group_key({"cluster_id": "c1", "source_id": "d1"}) == "cluster:c1"
    assert group_key({"cluster_id": None, "source_id": "d1"}) == "doc:d1"


@pytest.mark.parametrize("bad", [{"validation": 1.5}, {"validation": -0.1}, {"validation": 0.6, "test": 0.5}])
def test_invalid_sizes_are_refused(bad):
    with pytest.raises(ValueError):
        SplitConfig.model_validate(bad)
