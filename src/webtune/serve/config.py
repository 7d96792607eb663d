"""Config of the closing chat answer of a pipeline run."""

from __future__ import annotations

from webtune.configbase import StrictModel


class ChatConfig(StrictModel):
    prompt: str | None = None
    system: str | None = None
    max_new_tokens: int = 128
