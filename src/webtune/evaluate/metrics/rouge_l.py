"""``rouge_l``: ROUGE-L F-measure between the answer and the held-out reply (rouge-score).

rouge-score's tokenizer keeps only ASCII letters and digits, so two identical Chinese strings
scored 0. Here the units are the reference's language's (`webtune.text_units`): for spaced
scripts rouge-score's own tokenizer and stemmer exactly as before; for Chinese and Japanese
the segmenter's words (``cjk`` extra), characters for Thai and the like. ``language`` fixes
the units' language instead of reading it from each reference's script. `notes` says which
units were used, for the report.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from webtune import text_units
from webtune.configbase import StrictModel
from webtune.evaluate.metrics import METRICS
from webtune.evaluate.metrics.base import TextMetric
from webtune.extras import Needs


class RougeLMetricConfig(StrictModel):
    metric: Literal["rouge_l"] = "rouge_l"
    use_stemmer: bool = True
    # ISO 639-1 code of the units; None: each reference's script decides (English words otherwise).
    language: str | None = Field(None, min_length=2, max_length=8)
    # Where the segmenter (the ``cjk`` extra) is missing: "error" says so, "chars" uses characters.
    units_fallback: Literal["error", "chars"] = "error"


class UnitTokenizer:
    """rouge-score's tokenizer interface over `webtune.text_units` words (lowercased)."""

    def __init__(self, lang: str | None, fallback: str):
        self.lang, self.fallback = lang, fallback

    def tokenize(self, text: str) -> list[str]:
        return [w.lower() for w in text_units.words(text, self.lang, self.fallback)]


@METRICS.register("rouge_l")
class RougeLMetric(TextMetric):
    """Longest-common-subsequence overlap of words, the usual summary/description metric."""

    Config = RougeLMetricConfig
    needs = Needs("evaluate", "rouge_score")
    directions = {"rouge_l": "higher"}

    def __init__(self, config: RougeLMetricConfig | None = None):
        super().__init__(config or RougeLMetricConfig())
        self._scorers: dict[str | None, object] = {}
        self.units_used: set[str] = set()

    def _scorer(self, lang: str | None):
        kind = text_units.unit_kind(lang, self.config.units_fallback)
        key = None if kind == "words" else lang
        if key not in self._scorers:
            from rouge_score import rouge_scorer

            if key is None:
                self._scorers[key] = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=self.config.use_stemmer)
            else:
                self._scorers[key] = rouge_scorer.RougeScorer(
                    ["rougeL"], tokenizer=UnitTokenizer(lang, self.config.units_fallback))
        label = "words (rouge-score tokenizer)" if key is None else f"{kind} ({lang})"
        return self._scorers[key], label

    def score(self, prediction: str, reference: str) -> dict[str, float]:
        lang = text_units.resolve_language(reference, self.config.language)
        scorer, label = self._scorer(lang)
        self.units_used.add(label)
        return {"rouge_l": scorer.score(reference, prediction)["rougeL"].fmeasure}

    def notes(self) -> dict[str, str]:
        if not self.units_used:
            return {}
        return {"rouge_l": "units: " + ", ".join(sorted(self.units_used))}
