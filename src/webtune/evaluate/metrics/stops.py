"""``stops``: the share of answers that ended with the end-of-turn token rather than at
``max_new_tokens``. A tuned model whose fraction drops has usually lost its end-of-turn token
in training (a chat-template or EOS mismatch): it never stops and rambles to the limit."""

from __future__ import annotations

from typing import Literal

from webtune.configbase import StrictModel
from webtune.evaluate.metrics import METRICS
from webtune.evaluate.metrics.base import Metric, ModelResult
from webtune.evaluate.stats import PerExample


class StopsMetricConfig(StrictModel):
    metric: Literal["stops"] = "stops"


@METRICS.register("stops")
class StopsMetric(Metric):
    """``eot_fraction``: answers that stopped by themselves / all answers (1.0 = every one did)."""

    Config = StopsMetricConfig
    directions = {"eot_fraction": "higher"}

    def per_example(self, result: ModelResult) -> dict[str, PerExample]:
        if not result.finish_reasons:
            return {}
        return {"eot_fraction": PerExample([float(r == "stop") for r in result.finish_reasons])}

    def aggregate(self, result: ModelResult) -> dict[str, float]:
        values = self.per_example(result).get("eot_fraction")
        return {"eot_fraction": sum(values.values) / len(values.values)} if values else {}
