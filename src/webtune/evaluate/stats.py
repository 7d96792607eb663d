"""Uncertainty of a base-vs-tuned comparison: a paired bootstrap interval and win/tie/loss counts.

Paired: both models answered the same examples, so each resample draws example indices once and
takes both models' values at those indices (the per-example differences keep their pairing,
which makes the interval much tighter than two independent ones). Percentile interval,
``resamples`` draws (2,000 by default) from a seeded numpy generator, so a report is reproducible.
Hand-written on numpy because scipy.stats.bootstrap would add scipy to the evaluate extra for
twenty lines and does not take the per-example weights the token-weighted loss needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:  # numpy (the evaluate extra) is imported when a comparison is made
    import numpy as np

RESAMPLES = 2000
SEED = 0
TIE_TOLERANCE = 1e-9


@dataclass
class PerExample:
    """One figure's per-example values for one model; its mean is weighted by ``weights`` when given
    (e.g. the loss: per-example mean NLL weighted by assistant tokens is the token-weighted loss)."""

    values: list[float]
    weights: list[float] | None = None


@dataclass
class Comparison:
    """Tuned minus base on one figure: the delta, its 95% interval and per-example outcomes."""

    delta: float
    ci95: tuple[float, float]
    wins: int
    ties: int
    losses: int
    n: int


def weighted_mean(values: "np.ndarray", weights: "np.ndarray | None") -> float:
    """The (weighted) mean of ``values``."""
    if weights is None:
        return float(values.mean())
    return float((values * weights).sum() / weights.sum())


def paired_bootstrap(base: PerExample, tuned: PerExample, resamples: int = RESAMPLES,
                     seed: int = SEED) -> tuple[float, float]:
    """The 95% percentile interval of mean(tuned) - mean(base) over paired resamples of examples."""
    import numpy as np

    b, t = np.asarray(base.values, float), np.asarray(tuned.values, float)
    if len(b) != len(t) or len(b) == 0:
        raise ValueError(f"paired bootstrap needs two equal, non-empty lists (got {len(b)} and {len(t)})")
    bw = None if base.weights is None else np.asarray(base.weights, float)
    tw = None if tuned.weights is None else np.asarray(tuned.weights, float)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(b), size=(resamples, len(b)))

    def means(values: "np.ndarray", weights: "np.ndarray | None") -> "np.ndarray":
        if weights is None:
            return values[idx].mean(axis=1)
        w = weights[idx]
        return (values[idx] * w).sum(axis=1) / np.maximum(w.sum(axis=1), 1e-12)

    deltas = means(t, tw) - means(b, bw)
    lo, hi = np.percentile(deltas, [2.5, 97.5])
    return float(lo), float(hi)


def mean_interval(values: Sequence[float], resamples: int = RESAMPLES, seed: int = SEED) -> tuple[float, float]:
    """The 95% percentile bootstrap interval of the mean of ``values`` (e.g. a judge's win scores):
    the paired interval against a baseline of zeros, so both use the same resampling."""
    return paired_bootstrap(PerExample([0.0] * len(values)), PerExample(list(values)), resamples, seed)


def win_tie_loss(base: Sequence[float], tuned: Sequence[float], direction: str | None
                 ) -> tuple[int, int, int]:
    """How many examples the tuned model did better on, the same, worse (by ``direction``)."""
    wins = ties = losses = 0
    sign = -1.0 if direction == "lower" else 1.0
    for b, t in zip(base, tuned):
        change = (t - b) * sign
        if abs(change) <= TIE_TOLERANCE:
            ties += 1
        elif change > 0:
            wins += 1
        else:
            losses += 1
    return wins, ties, losses


def compare(base: PerExample, tuned: PerExample, direction: str | None, resamples: int = RESAMPLES,
            seed: int = SEED) -> Comparison:
    """The delta of the (weighted) means, its paired bootstrap interval and win/tie/loss counts."""
    import numpy as np

    b, t = np.asarray(base.values, float), np.asarray(tuned.values, float)
    bw = None if base.weights is None else np.asarray(base.weights, float)
    tw = None if tuned.weights is None else np.asarray(tuned.weights, float)
    delta = weighted_mean(t, tw) - weighted_mean(b, bw)
    wins, ties, losses = win_tie_loss(base.values, tuned.values, direction)
    return Comparison(delta=delta, ci95=paired_bootstrap(base, tuned, resamples, seed),
                      wins=wins, ties=ties, losses=losses, n=len(b))
