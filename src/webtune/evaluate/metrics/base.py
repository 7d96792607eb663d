"""What metrics see of one model's evaluation, and the base class of text metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from webtune.evaluate.stats import PerExample

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
    finish_reasons: list[str] = field(default_factory=list)

    def subset(self, loss_keep: list[int], generated_keep: list[int]) -> "ModelResult":
        """The results of the kept examples only (by index into the loss and generated lists)."""
        def pick(values: list[Any], keep: list[int]) -> list[Any]:
            return [values[i] for i in keep if i < len(values)]

        return ModelResult(nll=pick(self.nll, loss_keep), tokens=pick(self.tokens, loss_keep),
                           predictions=pick(self.predictions, generated_keep),
                           references=pick(self.references, generated_keep),
                           finish_reasons=pick(self.finish_reasons, generated_keep))


class Metric:
    """A metric: figures from a `ModelResult`. ``directions`` says which way is better per key.

    ``per_example`` (optional) gives each figure's values example by example, in the order of
    the examples it covers (``over``: ``generated`` answers or ``loss`` examples); the report
    bootstraps an interval of the delta and counts wins, ties and losses from them. A metric
    without it still gets its base, tuned and delta, without an interval.
    """

    directions: ClassVar[dict[str, Direction]] = {}
    over: ClassVar[Literal["generated", "loss"]] = "generated"

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

    def per_example(self, result: ModelResult) -> dict[str, PerExample]:
        """Each figure's per-example values (none by default: no interval)."""
        return {}


class TextMetric(Metric):
    """A metric scored per (prediction, reference) pair and averaged over the samples."""

    def score(self, prediction: str, reference: str) -> dict[str, float]:
        """The figures of one pair."""
        raise NotImplementedError

    def sample(self, prediction: str, reference: str) -> dict[str, float]:
        return self.score(prediction, reference)

    def per_example(self, result: ModelResult) -> dict[str, PerExample]:
        """Each figure's score on each (prediction, reference) pair."""
        values: dict[str, list[float]] = {}
        for prediction, reference in zip(result.predictions, result.references):
            for key, value in self.score(prediction, reference).items():
                values.setdefault(key, []).append(value)
        return {key: PerExample(v) for key, v in values.items()}

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
