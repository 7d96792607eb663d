"""``repetition``: how much an answer repeats itself, the usual symptom of a degenerate model.

Per answer, seq-rep-n of Welleck et al. 2019 ("Neural Text Generation with Unlikelihood
Training", section 5): 1 - unique n-grams / n-grams, over word n-grams (n = 4 by default) of the
lower-cased answer; 0.0 for an answer shorter than n words. ``repetition_rate`` is its mean.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from webtune.configbase import StrictModel
from webtune.evaluate.metrics import METRICS
from webtune.evaluate.metrics.base import TextMetric


class RepetitionMetricConfig(StrictModel):
    metric: Literal["repetition"] = "repetition"
    n: int = Field(4, ge=1, le=16, description="n-gram length in words")


def repetition_rate(text: str, n: int = 4) -> float:
    """1 - unique / total word n-grams of ``text`` (0.0 when it has none)."""
    words = text.lower().split()
    grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    return 1.0 - len(set(grams)) / len(grams) if grams else 0.0


@METRICS.register("repetition")
class RepetitionMetric(TextMetric):
    """``repetition_rate``: share of an answer's word n-grams that repeat an earlier one."""

    Config = RepetitionMetricConfig
    directions = {"repetition_rate": "lower"}

    def __init__(self, config: RepetitionMetricConfig | None = None):
        super().__init__(config or RepetitionMetricConfig())

    def score(self, prediction: str, reference: str) -> dict[str, float]:
        return {"repetition_rate": repetition_rate(prediction, self.config.n)}
