"""What metrics see of one model's evaluation, and the base class of text metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

Direction = Literal["higher", "lower"] | None


@dataclass
class ModelResult:
    """One model's raw results on the held-out examples.

    ``nll[i]`` is the summed negative log-likelihood of example i's assistant tokens and
    ``tokens[i]`` their number (both empty when the loss could not be computed, e.g. for a
    hosted model); ``predictions[i]`` is the greedy answer to the i-th generated prompt and
    ``references[i]`` the held-out assistant reply it is compared with.
    """

    nll: list[float] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    predictions: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)


class Metric:
    """A metric: figures from a `ModelResult`. ``directions`` says which way is better per key."""

    directions: ClassVar[dict[str, Direction]] = {}

    def __init__(self, config: Any = None):
        self.config = config

    def aggregate(self, result: ModelResult) -> dict[str, float]:
        """The metric's figures for one model (an empty dict when it does not apply)."""
        raise NotImplementedError

    def sample(self, prediction: str, reference: str) -> dict[str, float]:
        """Per-sample figures shown next to each generated answer (none by default)."""
        return {}

    def notes(self) -> dict[str, str]:
        """What the report should say about a figure (e.g. the units ROUGE-L counted), by key."""
        return {}


class TextMetric(Metric):
    """A metric scored per (prediction, reference) pair and averaged over the samples."""

    def score(self, prediction: str, reference: str) -> dict[str, float]:
        """The figures of one pair."""
        raise NotImplementedError

    def sample(self, prediction: str, reference: str) -> dict[str, float]:
        return self.score(prediction, reference)

    def aggregate(self, result: ModelResult) -> dict[str, float]:
        """The mean of each figure over all generated samples."""
        pairs = list(zip(result.predictions, result.references))
        if not pairs:
            return {}
        totals: dict[str, float] = {}
        for prediction, reference in pairs:
            for key, value in self.score(prediction, reference).items():
                totals[key] = totals.get(key, 0.0) + value
        return {key: value / len(pairs) for key, value in totals.items()}
