"""``length``: answer length in words, and its ratio to the reference's length."""

from __future__ import annotations

from typing import Literal

from webtune.configbase import StrictModel
from webtune.evaluate.metrics import METRICS
from webtune.evaluate.metrics.base import TextMetric


class LengthMetricConfig(StrictModel):
    metric: Literal["length"] = "length"


@METRICS.register("length")
class LengthMetric(TextMetric):
    """How long answers are; a ratio near 1 means the model learned the target length."""

    Config = LengthMetricConfig
    # Neither direction is better in general: shown without a verdict.
    directions = {"words": None, "length_ratio": None}

    def score(self, prediction: str, reference: str) -> dict[str, float]:
        words = len(prediction.split())
        return {"words": float(words), "length_ratio": words / max(1, len(reference.split()))}
