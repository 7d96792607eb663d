"""language: keep documents in the listed languages (lingua; its models ship in the wheel)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

from pydantic import Field, field_validator

from webtune.clean.steps import STEPS
from webtune.clean.steps.base import Drop, TargetConfig, TextStep
from webtune.errors import ConfigError
from webtune.extras import Needs
from webtune.records import Document

# Detecting among a handful of likely languages is far faster (and, on short product text,
# more accurate) than among all 75; the kept languages are always added.
DEFAULT_CANDIDATES = ["en", "de", "fr", "es", "it", "pt", "nl"]


class LanguageConfig(TargetConfig):
    step: Literal["language"] = "language"
    keep: list[str] = Field(default_factory=lambda: ["en"], min_length=1)
    candidates: list[str] = Field(default_factory=lambda: list(DEFAULT_CANDIDATES))
    min_confidence: float = Field(0.5, ge=0.0, le=1.0)
    low_accuracy: bool = False
    # Text shorter than this is not judged (too little evidence) and is kept.
    min_chars: int = 0
    max_chars: int = 2000

    @field_validator("keep", "candidates")
    @classmethod
    def _iso_codes(cls, codes: list[str]) -> list[str]:
        # Checked against lingua's list when the detector is built (lingua is slow to import).
        out = [code.strip().lower() for code in codes]
        for code in out:
            if len(code) != 2 or not code.isalpha():
                raise ValueError(f"'{code}' is not a two-letter ISO 639-1 language code")
        return out


@lru_cache(maxsize=8)
def detector(codes: tuple[str, ...], low_accuracy: bool):
    """One lingua detector per language set and process: building it loads the models."""
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    unknown = [code for code in codes if not hasattr(IsoCode639_1, code.upper())]
    if unknown:
        raise ConfigError(f"clean.language: lingua does not know the language code(s) {', '.join(unknown)}")
    isos = [getattr(IsoCode639_1, code.upper()) for code in codes]
    builder = LanguageDetectorBuilder.from_iso_codes_639_1(*isos) if len(isos) > 1 else (
        LanguageDetectorBuilder.from_all_languages())
    if low_accuracy:
        builder = builder.with_low_accuracy_mode()
    return builder.build()


def detect(text: str, codes: tuple[str, ...], low_accuracy: bool = False) -> tuple[str | None, float]:
    """The most likely language of ``text`` (ISO 639-1) and its confidence."""
    values = detector(codes, low_accuracy).compute_language_confidence_values(text)
    if not values:
        return None, 0.0
    top = values[0]
    return top.language.iso_code_639_1.name.lower(), float(top.value)


@STEPS.register("language")
class Language(TextStep):
    """Reason codes: wrong_language (value: detected language and confidence), unsure_language."""

    Config = LanguageConfig
    needs = Needs("clean", "lingua")

    def apply(self, doc: Document, stats: dict[str, Any]) -> Drop | None:
        cfg = self.config
        text = self.measured_text(doc)
        if len(text.strip()) < max(cfg.min_chars, 1):
            return None
        codes = tuple(sorted(set(cfg.candidates) | set(cfg.keep)))
        lang, confidence = detect(text[: cfg.max_chars], codes, cfg.low_accuracy)
        doc.meta["lang"] = lang
        doc.meta["lang_confidence"] = round(confidence, 3)
        if lang not in cfg.keep:
            return Drop("wrong_language", {"lang": lang, "confidence": round(confidence, 3)}, cfg.keep)
        if confidence < cfg.min_confidence:
            return Drop("unsure_language", round(confidence, 3), cfg.min_confidence)
        return None


def _prepare(self) -> None:
    """Load the models once in the parent, so forked workers share them."""
    cfg = self.config
    codes = tuple(sorted(set(cfg.candidates) | set(cfg.keep)))
    detector(codes, cfg.low_accuracy).compute_language_confidence_values("warm up the models")


Language.prepare = _prepare
