"""Config of the evaluate stage: which metrics, how many examples, how long the answers."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from webtune.configbase import StrictModel
from webtune.evaluate.forgetting import ForgettingConfig
from webtune.evaluate.judges.run import JudgeSettings
from webtune.evaluate.metrics import METRICS
from webtune.plugins import config_field

# A metric by name (``rouge_l``) or as a mapping with its settings (``{metric: rouge_l, ...}``):
# the registered metric (built-in or plugin) that ``metric`` names.
MetricConfig = config_field(METRICS)


class EvaluateConfig(StrictModel):
    """The base model against the tuned one on the held-out (test) split.

    The loss covers every test example (a forward pass is cheap); greedy answers are
    generated for the first ``max_examples`` of them and scored by the text metrics.
    """

    metrics: list[MetricConfig] = ["loss", "rouge_l"]  # type: ignore[valid-type]
    max_examples: int = Field(20, ge=0, description="examples answered by each model")
    # No model we run holds more; the base model's own context is checked when the pipeline loads.
    max_new_tokens: int = Field(96, ge=1, le=131072)
    batch_size: int = Field(16, ge=1, description="prompts generated together (left padding)")
    loss_batch_tokens: int = Field(4096, ge=64, description="padded tokens per loss batch")
    max_len: int | None = Field(None, ge=8, description="cut examples to this many tokens for the loss "
                                "(default: train.max_seq_len, as in training)")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    report_samples: int = Field(8, ge=0, description="side-by-side samples shown in the reports")
    judge: JudgeSettings | None = Field(None, description="an LLM judge, tuned vs base (none: skipped)")
    forgetting: ForgettingConfig = ForgettingConfig()

    @field_validator("metrics", mode="before")
    @classmethod
    def _names_to_mappings(cls, value: Any) -> Any:
        if isinstance(value, list):
            value = [{"metric": v} if isinstance(v, str) else v for v in value]
            names = [v.get("metric") for v in value if isinstance(v, dict)]
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise ValueError(f"metric listed twice: {', '.join(map(str, twice))}")
        return value

    def metric_names(self) -> list[str]:
        """The configured metric names, in order."""
        return [m.metric for m in self.metrics]
