"""bench/clean_dedup.py: exact Jaccard of hand-made pairs, their bands, and banded precision/recall."""

from __future__ import annotations


import pytest

from tests.bench.helpers import load_bench


@pytest.fixture(scope="module")
def bench():
    return load_bench("clean_dedup")


def _words(n: int, prefix: str = "w") -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


def test_true_jaccard_counts_shingle_strings(bench):
    base = _words(24)
    assert bench.true_jaccard(" ".join(base), " ".join(base).upper() + "!") == 1.0  # normalised
    # one word replaced in the middle: 5 of the 20 5-grams of each side differ -> 15 / 25
    edited = base[:12] + ["other"] + base[13:]
    assert bench.true_jaccard(" ".join(base), " ".join(edited)) == pytest.approx(15 / 25)
    assert bench.true_jaccard(" ".join(base), " ".join(_words(24, "v"))) == 0.0
    # unigram sets: {a b c d} vs {a b c e} -> 3 / 5
    assert bench.shingle_set("a b c d", 1) == {"a", "b", "c", "d"}
    assert len(bench.shingle_set("a b c d", 1) & bench.shingle_set("a b c e", 1)) / 5 == pytest.approx(0.6)


def test_band_index_edges(bench):
    assert bench.band_index(0.0) == 0
    assert bench.BANDS[bench.band_index(0.8)] == (0.8, 0.85)  # a band holds its lower edge
    assert bench.BANDS[bench.band_index(0.7999)] == (0.75, 0.8)
    assert bench.band_index(1.0) == len(bench.BANDS) - 1  # the last band holds 1.0
    with pytest.raises(ValueError):
        bench.band_index(1.2)


def test_banded_rates_and_precision_recall(bench):
    jaccards = [0.82, 0.83, 0.81, 0.84, 0.95, 0.78, 0.76, 0.55]
    flagged = [True, True, True, False, True, True, False, False]
    rates = bench.banded_rates(jaccards, flagged)
    by_band = dict(zip(bench.BANDS, rates))
    assert by_band[(0.8, 0.85)] == (4, 0.75)  # recall in the band: 3 of 4
    assert by_band[(0.75, 0.8)] == (2, 0.5)  # false-positive rate: 1 of 2
    assert by_band[(0.5, 0.6)] == (1, 0.0)
    assert by_band[(0.6, 0.7)] == (0, None)  # empty band: no rate
    precision, recall = bench.precision_recall(jaccards, flagged)
    assert precision == pytest.approx(4 / 5)  # 4 true positives, 1 false positive (0.78)
    assert recall == pytest.approx(4 / 5)  # 5 duplicates (>= 0.8), one missed (0.84)
    assert bench.precision_recall([0.5], [False]) == (1.0, 1.0)  # nothing flagged, nothing to find


def test_webtune_flags_edited_copies_not_hard_negatives(bench):
    from webtune.clean.synthetic import similar_pairs

    pairs = similar_pairs(30, seed=4)
    jaccards = [bench.true_jaccard(a, b) for a, b, _ in pairs]
    flagged = bench.flagged_by_webtune(pairs, {})
    assert any(j >= 0.8 for j in jaccards) and any(j < 0.8 for j in jaccards)
    assert any(kind.startswith("hard") for _, _, kind in pairs)
    assert bench.precision_recall(jaccards, flagged) == (1.0, 1.0)
