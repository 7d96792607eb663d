"""The pipeline's optional ``export:`` section: which formats to write after register, and the
round-trip check's size."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from webtune.configbase import StrictModel
from webtune.export import EXPORTERS
from webtune.plugins import config_field

ExporterConfig = config_field(EXPORTERS)


class RoundTripConfig(StrictModel):
    """How many test prompts the round-trip check answers, and how long each answer may be."""

    max_prompts: int = Field(8, ge=1, description="test prompts answered by both models")
    max_new_tokens: int = Field(32, ge=1, description="greedy tokens per answer")


class ExportConfig(StrictModel):
    """Export the registered version (``formats``: ``[gguf, ollama]`` or mappings with options)."""

    formats: list[ExporterConfig] = Field(min_length=1)
    roundtrip: RoundTripConfig = RoundTripConfig()

    @field_validator("formats", mode="before")
    @classmethod
    def _names_are_formats(cls, value: Any) -> Any:
        """``gguf`` is short for ``{format: gguf}``."""
        if isinstance(value, list):
            return [{"format": item} if isinstance(item, str) else item for item in value]
        return value
