"""``exact_match``: the answer equals the reference after normalising case, spaces, punctuation."""

from __future__ import annotations

import re
import string
from typing import Literal

from webtune.configbase import StrictModel
from webtune.evaluate.metrics import METRICS
from webtune.evaluate.metrics.base import TextMetric

_PUNCT = re.compile(f"[{re.escape(string.punctuation)}]")


def normalize(text: str) -> str:
    """Lower case, punctuation dropped, runs of whitespace collapsed (SQuAD-style)."""
    return " ".join(_PUNCT.sub(" ", text.lower()).split())


class ExactMatchMetricConfig(StrictModel):
    metric: Literal["exact_match"] = "exact_match"


@METRICS.register("exact_match")
class ExactMatchMetric(TextMetric):
    """Share of answers identical to the reference (useful for short, closed answers)."""

    Config = ExactMatchMetricConfig
    directions = {"exact_match": "higher"}

    def score(self, prediction: str, reference: str) -> dict[str, float]:
        return {"exact_match": float(normalize(prediction) == normalize(reference))}
