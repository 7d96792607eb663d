"""``loss``: held-out loss (mean NLL per assistant token) and perplexity."""

from __future__ import annotations

import math
from typing import Literal

from webtune.configbase import StrictModel
from webtune.evaluate.metrics import METRICS
from webtune.evaluate.metrics.base import Metric, ModelResult


class LossMetricConfig(StrictModel):
    metric: Literal["loss"] = "loss"


@METRICS.register("loss")
class LossMetric(Metric):
    """Token-weighted mean cross-entropy over assistant tokens, as in training; and exp of it."""

    Config = LossMetricConfig
    directions = {"loss": "lower", "perplexity": "lower"}

    def aggregate(self, result: ModelResult) -> dict[str, float]:
        tokens = sum(result.tokens)
        if not tokens:
            return {}  # no loss for this model (hosted models return no log-likelihoods)
        loss = sum(result.nll) / tokens
        return {"loss": loss, "perplexity": math.exp(min(loss, 50.0))}
