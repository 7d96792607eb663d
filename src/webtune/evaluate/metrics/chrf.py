"""``chrf``: chrF (Popović 2015) between the answer and the held-out reply, with sacrebleu.

Character n-gram F-score: needs no word units, so it means the same in every script (a
language-agnostic companion to ``rouge_l``). sacrebleu's defaults (character 6-grams,
beta 2, no word n-grams; ``word_order: 2`` gives chrF++), on its 0-100 scale.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from webtune.configbase import StrictModel
from webtune.evaluate.metrics import METRICS
from webtune.evaluate.metrics.base import TextMetric
from webtune.extras import Needs


class ChrFMetricConfig(StrictModel):
    metric: Literal["chrf"] = "chrf"
    char_order: int = Field(6, ge=1, le=10)
    word_order: int = Field(0, ge=0, le=4)
    beta: int = Field(2, ge=1)


@METRICS.register("chrf")
class ChrFMetric(TextMetric):
    """Character n-gram F-score (0-100), sentence level, averaged over the samples."""

    Config = ChrFMetricConfig
    needs = Needs("evaluate", "sacrebleu")
    directions = {"chrf": "higher"}

    def __init__(self, config: ChrFMetricConfig | None = None):
        super().__init__(config or ChrFMetricConfig())
        self._chrf = None

    def score(self, prediction: str, reference: str) -> dict[str, float]:
        if self._chrf is None:
            from sacrebleu.metrics import CHRF

            cfg = self.config
            self._chrf = CHRF(char_order=cfg.char_order, word_order=cfg.word_order, beta=cfg.beta)
        return {"chrf": self._chrf.sentence_score(prediction, [reference]).score}

    def notes(self) -> dict[str, str]:
        order = "chrF++" if self.config.word_order else "chrF"
        return {"chrf": f"units: characters ({order}, sacrebleu, {self.config.char_order}-grams, 0-100)"}
