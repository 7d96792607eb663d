"""A minimal webtune plugin: the clean step ``shout``.

    clean:
      steps:
        - step: shout
          reject_word: whisper   # drop documents containing this word

Uppercases each document's text and drops the documents that contain ``reject_word``.
"""

from __future__ import annotations

from typing import Any, Literal

from webtune.clean.steps.base import Drop, Step, StepConfig
from webtune.records import Document


class ShoutConfig(StepConfig):
    """The options of ``step: shout``."""

    step: Literal["shout"] = "shout"
    reject_word: str | None = None  # documents containing this word (any case) are dropped


class Shout(Step):
    """Uppercase the text; drop a document containing ``reject_word`` (reason ``contains_word``)."""

    Config = ShoutConfig

    def apply(self, doc: Document, stats: dict[str, Any]) -> Drop | None:
        word = self.config.reject_word
        if word and word.lower() in doc.text.lower().split():
            return Drop("contains_word", word)
        doc.text = doc.text.upper()
        stats["shouted"] = stats.get("shouted", 0) + 1
        return None
