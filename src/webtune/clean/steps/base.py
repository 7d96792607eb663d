"""What every clean step shares: its config base, the drop verdict and text targets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Iterator, Literal

from pydantic import Field, model_validator

from webtune import text_units
from webtune.clean import text as textlib
from webtune.configbase import StrictModel
from webtune.records import Document


class StepConfig(StrictModel):
    """Base of step configs. Subclasses add ``step: Literal["name"] = "name"``."""

    step: str


class TargetConfig(StepConfig):
    """A step that reads text: ``field`` / ``fields`` of a structured record, else its ``text``."""

    field: str | None = None
    fields: list[str] | None = None

    @model_validator(mode="after")
    def _one_of(self) -> "TargetConfig":
        if self.field is not None and self.fields is not None:
            raise ValueError("give either 'field' or 'fields', not both")
        return self

    def target_names(self) -> list[str] | None:
        """The field names to work on, or None for the document's text."""
        if self.field is not None:
            return [self.field]
        return list(self.fields) if self.fields is not None else None


class UnitsConfig(TargetConfig):
    """A step that counts words: which language's units (`webtune.text_units`) to count in."""

    # ISO 639-1 code of the units; None: the ``language`` step's ``meta.lang``, else the script's.
    language: str | None = Field(None, min_length=2, max_length=8)
    # Where a segmenter (the ``cjk`` extra) is missing: "error" says which extra to install,
    # "chars" counts characters instead.
    units_fallback: Literal["error", "chars"] = "error"
    # Use FineWeb-2's thresholds for the document's language where not set here
    # (`webtune.clean.languages`).
    per_language: bool = True


@dataclass
class Drop:
    """A step's verdict that a document goes: reason code, measured value, threshold."""

    reason: str
    value: Any = None
    threshold: Any = None
    extra: dict[str, Any] | None = None  # more fields for the reject (duplicate_of, ...)


class Step:
    """A document step. Subclasses set ``Config`` and implement ``apply``."""

    Config: ClassVar[type[StepConfig]]
    is_global: ClassVar[bool] = False

    def __init__(self, config: StepConfig):
        self.config = config

    @property
    def name(self) -> str:
        return self.config.step

    def apply(self, doc: Document, stats: dict[str, Any]) -> Drop | None:
        """Change ``doc`` in place and/or return a Drop; ``stats`` collects counters."""
        raise NotImplementedError

    def prepare(self) -> None:
        """Load what the step needs once, before workers start (forked workers share it)."""


class TextStep(Step):
    """A step over the target text (fields joined, or the document's text)."""

    def measured_text(self, doc: Document) -> str:
        """The text a filter measures: the target fields joined by blank lines, or ``text``."""
        return textlib.target_text(doc, self.config.target_names())

    def prepare(self) -> None:
        """With a configured ``language``: fail now (one line) if its segmenter is missing, and
        load it once in the parent so forked workers share it."""
        lang = getattr(self.config, "language", None)
        if lang:
            text_units.tokens("预热 ウォームアップ", lang, getattr(self.config, "units_fallback", "error"))

    def language_of(self, doc: Document, text: str) -> str | None:
        """The language whose units this step counts ``text`` in (see `UnitsConfig`)."""
        return text_units.resolve_language(text, getattr(self.config, "language", None), doc.meta.get("lang"))

    def units(self, text: str, lang: str | None) -> tuple[str, ...]:
        """Words and punctuation runs of ``text`` in ``lang``'s units."""
        return text_units.tokens(text, lang, getattr(self.config, "units_fallback", "error"))

    def transform_targets(self, doc: Document, fn) -> None:
        """Apply ``fn(str) -> str`` to every target string (list items too)."""
        textlib.transform_targets(doc, self.config.target_names(), fn)


class GlobalStep(Step):
    """A step that needs every document first (deduplication, corpus-wide boilerplate)."""

    is_global = True

    def signature(self, doc: Document) -> Any:
        """A small, picklable summary of ``doc`` computed on the workers."""
        raise NotImplementedError

    def decide(self, signatures: list[Any], stats: dict[str, Any]) -> Any:
        """Build the plan from all signatures (on the driver)."""
        raise NotImplementedError

    def finish(self, index: int, doc: Document, plan: Any, stats: dict[str, Any]) -> Drop | None:
        """Apply the plan to document ``index`` (its position in this pass)."""
        raise NotImplementedError


def bump(stats: dict[str, Any], key: str, n: int = 1) -> None:
    """Add ``n`` to counter ``key`` of ``stats``."""
    stats[key] = stats.get(key, 0) + n


def iter_nonempty(values: list[str]) -> Iterator[str]:
    for value in values:
        if value and value.strip():
            yield value
