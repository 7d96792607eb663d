"""``rouge_l``: ROUGE-L F-measure between the answer and the held-out reply (rouge-score)."""

from __future__ import annotations

from typing import Literal

from webtune.configbase import StrictModel
from webtune.evaluate.metrics import METRICS
from webtune.evaluate.metrics.base import TextMetric
from webtune.extras import Needs


class RougeLMetricConfig(StrictModel):
    metric: Literal["rouge_l"] = "rouge_l"
    use_stemmer: bool = True


@METRICS.register("rouge_l")
class RougeLMetric(TextMetric):
    """Longest-common-subsequence overlap of words, the usual summary/description metric."""

    Config = RougeLMetricConfig
    needs = Needs("evaluate", "rouge_score")
    directions = {"rouge_l": "higher"}

    def __init__(self, config: RougeLMetricConfig | None = None):
        super().__init__(config or RougeLMetricConfig())
        self._scorer = None

    def score(self, prediction: str, reference: str) -> dict[str, float]:
        if self._scorer is None:
            from rouge_score import rouge_scorer

            self._scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=self.config.use_stemmer)
        return {"rouge_l": self._scorer.score(reference, prediction)["rougeL"].fmeasure}
