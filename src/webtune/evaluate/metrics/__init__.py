"""Evaluation metrics, registered by name: ``loss``, ``rouge_l``, ``exact_match``, ``length``.

A metric is a class in its own module with a ``Config`` (discriminator ``metric``) and
``aggregate(result: ModelResult) -> dict[str, float]``; see `webtune.evaluate.metrics.base`.
"""

from webtune.plugins import Registry

METRICS: Registry = Registry("metric", label="evaluate metric")

# Importing the built-in metrics registers them (rouge-score is imported lazily).
from webtune.evaluate.metrics import exact_match, length, loss, rouge_l  # noqa: E402,F401
