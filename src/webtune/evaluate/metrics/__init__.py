"""Evaluation metrics, registered by name: ``loss``, ``rouge_l``, ``chrf``, ``exact_match``, ``length``,
``stops`` (end-of-turn fraction) and ``repetition`` (the last two are always recorded).

A metric has the shape of every backend (`webtune.plugins.Backend`): ``Metric(config)`` with a
``Config`` (tag ``metric``) and one method, ``aggregate(result: ModelResult) -> dict[str, float]``;
see `webtune.evaluate.metrics.base`. The built-ins (rouge-score is imported lazily) load through
the same path as plugins of the entry-point group ``webtune.metrics``.
"""

from webtune.plugins import Registry

METRICS: Registry = Registry("metric", builtins=tuple(
    f"webtune.evaluate.metrics.{name}" for name in ("chrf", "exact_match", "length", "loss", "repetition", "rouge_l",
                                                     "stops")), label="evaluate metric")
