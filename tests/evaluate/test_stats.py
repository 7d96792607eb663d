"""Paired bootstrap intervals and win/tie/loss counts (webtune.evaluate.stats)."""

from __future__ import annotations

import pytest

from webtune.evaluate.stats import PerExample, compare, paired_bootstrap, win_tie_loss


def test_a_consistent_gain_gives_an_interval_that_excludes_zero():
    base = [0.10, 0.20, 0.30, 0.15, 0.25, 0.05, 0.40, 0.35, 0.22, 0.18]
    tuned = [b + 0.10 + 0.01 * (i % 3) for i, b in enumerate(base)]  # every example better by 0.10-0.12
    result = compare(PerExample(base), PerExample(tuned), "higher")
    lo, hi = result.ci95
    assert 0.10 <= lo <= result.delta <= hi <= 0.12
    assert (result.wins, result.ties, result.losses, result.n) == (10, 0, 0, 10)


def test_noise_around_no_change_gives_an_interval_that_includes_zero():
    base = [0.5] * 12
    tuned = [0.5 + d for d in (0.3, -0.3, 0.2, -0.2, 0.1, -0.1, 0.25, -0.25, 0.0, 0.0, 0.05, -0.05)]
    result = compare(PerExample(base), PerExample(tuned), "higher")
    lo, hi = result.ci95
    assert lo < 0 < hi
    assert result.delta == pytest.approx(0.0)
    assert (result.wins, result.ties, result.losses) == (5, 2, 5)


def test_the_interval_is_deterministic_for_a_seed_and_changes_with_it():
    base, tuned = PerExample([0.1, 0.4, 0.2, 0.3, 0.5]), PerExample([0.3, 0.2, 0.6, 0.3, 0.9])
    assert paired_bootstrap(base, tuned, seed=7) == paired_bootstrap(base, tuned, seed=7)
    assert paired_bootstrap(base, tuned, seed=7) != paired_bootstrap(base, tuned, seed=8)


def test_weighted_figures_resample_the_weights_with_the_values():
    # The token-weighted loss: an example with many tokens counts more.
    base = PerExample([2.0, 2.0], weights=[1, 9])
    tuned = PerExample([1.0, 3.0], weights=[1, 9])
    result = compare(base, tuned, "lower")
    assert result.delta == pytest.approx((1.0 * 1 + 3.0 * 9) / 10 - 2.0)
    assert (result.wins, result.ties, result.losses) == (1, 0, 1)


def test_lower_is_better_counts_a_drop_as_a_win_and_unequal_lists_are_refused():
    assert win_tie_loss([2.0, 1.0, 1.0], [1.0, 1.0, 2.0], "lower") == (1, 1, 1)
    with pytest.raises(ValueError, match="equal"):
        paired_bootstrap(PerExample([1.0]), PerExample([1.0, 2.0]))
