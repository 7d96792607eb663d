"""Evaluation metrics, registered by name: ``loss``, ``rouge_l``, ``exact_match``, ``length``.

A metric is a class in its own module with a ``Config`` (discriminator ``metric``) and
``aggregate(result: ModelResult) -> dict[str, float]``; see `webtune.evaluate.metrics.base`.
"""

from webtune.plugins import Registry

# The built-in metrics register themselves when the registry is first used (rouge-score is
# imported lazily).
METRICS: Registry = Registry("metric", label="evaluate metric", builtins=tuple(
    f"webtune.evaluate.metrics.{name}" for name in ("exact_match", "length", "loss", "rouge_l")))
