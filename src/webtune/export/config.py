"""The pipeline's optional ``export:`` section: which formats to write after register, and the
round-trip check's size."""

from __future__ import annotations

from pydantic import Field

from webtune.configbase import StrictModel
from webtune.export import EXPORTERS
from webtune.plugins import config_field

ExporterConfig = config_field(EXPORTERS)


class RoundTripConfig(StrictModel):
    """How many test prompts the round-trip check answers, and how long each answer may be."""

    max_prompts: int = Field(8, ge=1, description="test prompts answered by both models")
    max_new_tokens: int = Field(32, ge=1, description="greedy tokens per answer")


class ExportConfig(StrictModel):
    """Export the registered version in each of ``formats`` (``[{format: gguf}, {format: ollama}]``)."""

    formats: list[ExporterConfig] = Field(min_length=1)
    roundtrip: RoundTripConfig = RoundTripConfig()
