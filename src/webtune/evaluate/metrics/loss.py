"""``loss``: held-out loss (mean NLL per assistant token) and perplexity."""

from __future__ import annotations

import math
from typing import Literal

from webtune.configbase import StrictModel
from webtune.evaluate.metrics import METRICS
from webtune.evaluate.metrics.base import Metric, ModelResult
from webtune.evaluate.stats import PerExample


class LossMetricConfig(StrictModel):
    metric: Literal["loss"] = "loss"


@METRICS.register("loss")
class LossMetric(Metric):
    """Token-weighted mean cross-entropy over assistant tokens, as in training; and exp of it."""

    Config = LossMetricConfig
    directions = {"loss": "lower", "perplexity": "lower"}
    over = "loss"

    def aggregate(self, result: ModelResult) -> dict[str, float]:
        tokens = sum(result.tokens)
        if not tokens:
            return {}  # no loss for this model (hosted models return no log-likelihoods)
        loss = sum(result.nll) / tokens
        return {"loss": loss, "perplexity": math.exp(min(loss, 50.0))}

    def per_example(self, result: ModelResult) -> dict[str, PerExample]:
        """Each example's mean NLL, weighted by its assistant tokens (so the mean is the loss)."""
        pairs = [(n / t, float(t)) for n, t in zip(result.nll, result.tokens) if t]
        if not pairs:
            return {}
        return {"loss": PerExample([v for v, _ in pairs], [w for _, w in pairs])}
