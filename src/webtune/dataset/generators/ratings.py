"""The ratings generator: KTO records from a rating or vote field of scraped records.

A document whose ``field`` (a star rating, helpful votes, ...) is at least ``desirable_at_least``
gives a desirable answer, one at most ``undesirable_at_most`` an undesirable one; the prompt and
the answer are rendered from templates exactly like a supervised template (``system``/``user``/
``assistant``, or ``messages`` whose last turn is the answer). A document in between, or with
no usable value, is one rejected candidate (``neutral_rating``, ``missing_rating``,
``invalid_rating``), so the counts add up.

    dataset:
      generators:
        - generator: ratings
          field: rating
          desirable_at_least: 4
          undesirable_at_most: 2
          user: "Write a review of {{ title }}."
          assistant: "{{ review }}"
"""

from __future__ import annotations

from typing import Any, Iterable

from pydantic import Field, model_validator

from webtune.dataset.config import TemplateConfig
from webtune.dataset.generators import GENERATORS
from webtune.dataset.generators.base import Batch, Candidate, GeneratorEnv, base_meta, drop, preference_candidate
from webtune.dataset.templates import RenderError, missing_required, render_messages, selects
from webtune.dataset.tokens import plain_messages


class RatingsConfig(TemplateConfig):
    """``{generator: ratings, field, desirable_at_least, undesirable_at_most, ...template}``."""

    name: str = Field("ratings", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    field: str  # the context key holding the rating or vote count
    desirable_at_least: float
    undesirable_at_most: float

    @model_validator(mode="after")
    def _thresholds_apart(self) -> "RatingsConfig":
        if self.undesirable_at_most >= self.desirable_at_least:
            raise ValueError("undesirable_at_most must be below desirable_at_least")
        return self


def rating_value(value: Any) -> float | None:
    """A rating as a number: ints, floats and numeric strings ("4", "4.5"); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


@GENERATORS.register("ratings")
class RatingsGenerator:
    """One KTO record (prompt, completion, desirable) per document with a rating past a threshold."""

    Config = RatingsConfig
    produces = "preference"

    def __init__(self, config: RatingsConfig):
        self.config = config

    def generate(self, batch: Batch, env: GeneratorEnv) -> Iterable[Candidate]:
        """A labelled answer, or one reject, per selected document."""
        for item in batch.docs:
            if selects(self.config, item.doc, item.context):
                yield self._one(item.doc, item.context)

    def _one(self, doc: Any, context: dict[str, Any]) -> Candidate:
        cfg = self.config
        meta = {**base_meta(doc, "ratings", cfg.name), "rating_field": cfg.field}
        cand = Candidate(None, meta, doc, kind="preference", context=context)
        raw = context.get(cfg.field)
        threshold = {"desirable_at_least": cfg.desirable_at_least, "undesirable_at_most": cfg.undesirable_at_most}
        if raw is None:
            return drop(cand, "ratings", "missing_rating", value=cfg.field)
        rating = rating_value(raw)
        if rating is None:
            return drop(cand, "ratings", "invalid_rating", value=str(raw)[:100], threshold=cfg.field)
        if cfg.undesirable_at_most < rating < cfg.desirable_at_least:
            return drop(cand, "ratings", "neutral_rating", value=rating, threshold=threshold)
        missing = missing_required(context, cfg.requires)
        if missing:
            return drop(cand, "ratings", "missing_required_field", value=missing, threshold=cfg.requires)
        try:
            messages = plain_messages(render_messages(cfg.turns(), context))
        except RenderError as exc:
            return drop(cand, "ratings", exc.reason, value=exc.field or str(exc))
        if messages[-1]["role"] != "assistant":
            return drop(cand, "ratings", "no_answer", value="the template's last turn must be the assistant's")
        meta["rating"] = rating
        return preference_candidate(meta, doc, messages[:-1], completion=messages[-1]["content"],
                                    desirable=rating >= cfg.desirable_at_least)
