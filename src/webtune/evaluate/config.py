"""Config of the evaluate stage: which metrics, how many examples, how long the answers."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from webtune.configbase import RelPath, StrictModel
from webtune.evaluate.forgetting import ForgettingConfig
from webtune.evaluate.judges.run import JudgeSettings
from webtune.evaluate.preference import PreferenceEvalConfig
from webtune.evaluate.metrics import METRICS
from webtune.plugins import config_field

# A metric by name (``rouge_l``) or as a mapping with its settings (``{metric: rouge_l, ...}``):
# the registered metric (built-in or plugin) that ``metric`` names.
MetricConfig = config_field(METRICS)


# Recorded whatever the config lists: they catch a model that never stops or loops.
ALWAYS_RECORDED = ("stops", "repetition")


class ContaminationConfig(StrictModel):
    """Flag test examples that share an n-gram with the training split or a listed benchmark."""

    enabled: bool = True
    n: int = Field(13, ge=4, le=50, description="n-gram length in words (13 as in GPT-3)")
    benchmarks: list[RelPath] = Field([], description="benchmark files (.jsonl records or plain text) "
                                      "the test examples must not overlap")
    min_coverage: float = Field(0.8, ge=0.0, le=1.0, description="flag an example when shared n-grams cover at "
                                "least this fraction of its reply's words (0: any shared n-gram, as GPT-3; "
                                "0.8: the Llama 2 paper's 'dirty')")
    exclude: bool = Field(True, description="leave flagged examples out of the headline figures")


class EvaluateConfig(StrictModel):
    """The base model against the tuned one on the held-out (test) split.

    The loss covers every test example (a forward pass is cheap); greedy answers are
    generated for every one too, unless ``max_examples`` caps them (the first ones), and
    scored by the text metrics. Every per-example figure gets a paired bootstrap 95% interval
    of its tuned-minus-base delta.
    """

    metrics: list[MetricConfig] = ["loss", "rouge_l"]  # type: ignore[valid-type]
    max_examples: int | None = Field(None, ge=0, description="examples answered by each model "
                                     "(default: all of them)")
    # No model we run holds more; the base model's own context is checked when the pipeline loads.
    max_new_tokens: int = Field(96, ge=1, le=131072)
    batch_size: int = Field(16, ge=1, description="prompts generated together (left padding)")
    loss_batch_tokens: int = Field(4096, ge=64, description="padded tokens per loss batch")
    max_len: int | None = Field(None, ge=8, description="cut examples to this many tokens for the loss "
                                "(default: train.max_seq_len, as in training)")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # What generates the answers: transformers (webtune's batched greedy decoding), or vLLM on a
    # GPU (continuous batching; the loss still runs in transformers). Not in the fingerprint:
    # both decode greedily.
    engine: Literal["transformers", "vllm"] = Field("transformers", exclude=True)
    report_samples: int = Field(8, ge=0, description="side-by-side samples shown in report.md "
                                "(report.html shows every answer)")
    bootstrap_resamples: int = Field(2000, ge=100, le=100_000,
                                     description="resamples of the paired bootstrap")
    seed: int = Field(0, description="seed of the bootstrap")
    contamination: ContaminationConfig = ContaminationConfig()
    judge: JudgeSettings | None = Field(None, description="an LLM judge, tuned vs base (none: skipped)")
    forgetting: ForgettingConfig = ForgettingConfig()
    preference: PreferenceEvalConfig = Field(PreferenceEvalConfig(), description="preference accuracy on the "
                                             "dataset stage's preference_test.jsonl (when it has one)")

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

    def all_metrics(self) -> list[Any]:
        """The configured metrics' configs plus those always recorded (end-of-turn, repetition)."""
        have = set(self.metric_names())
        return list(self.metrics) + [METRICS.get(name).Config() for name in ALWAYS_RECORDED
                                     if name not in have]
