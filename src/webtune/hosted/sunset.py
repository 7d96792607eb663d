"""OpenAI's end of self-serve fine-tuning (its deprecations page, notice of 7 May 2026), said once.

New fine-tuning jobs stop on 6 January 2027 and ``gpt-4o-mini-2024-07-18`` (the tutorials' base
model, once this backend's default) shuts down with its fine-tuned versions on 14 January 2027.
`webtune serve --fine-tuning` serves the same API on your own machine.

`DEFAULT_HOSTED_MODEL` is the hosted model assumed when a pipeline names none (the OpenAI
backend's ``model`` and the dataset stage's cost estimate): one that is not scheduled to shut
down. `SHUTDOWNS` lists the models that are, so an estimate or a job naming one says so.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

DEFAULT_HOSTED_MODEL = "gpt-4.1-mini-2025-04-14"
# Model -> the day it (and its fine-tuned versions) stop answering.
SHUTDOWNS: dict[str, str] = {"gpt-4o-mini-2024-07-18": "2027-01-14"}
NEW_JOBS_END = "2027-01-06"

NOTICE = ("OpenAI is ending self-serve fine-tuning: new jobs stop on 6 January 2027 and "
          "gpt-4o-mini-2024-07-18 and its fine-tuned models shut down on 14 January 2027 (OpenAI's "
          "deprecations page, 7 May 2026). `webtune serve --fine-tuning` serves the same API here.")
_warned: set[str] = set()


def targets_openai(base_url: str | None) -> bool:
    """Whether ``base_url`` is OpenAI's own API (None: the SDK's default, which is)."""
    host = urlparse(base_url or "https://api.openai.com/v1").hostname or ""
    return host == "openai.com" or host.endswith(".openai.com")


def warn_openai_dates(base_url: str | None, console: Any) -> bool:
    """Print `NOTICE` once per process when a job targets OpenAI; True when it printed."""
    if not targets_openai(base_url) or "printed" in _warned:
        return False
    _warned.add("printed")
    console.print(f"[yellow]warning:[/yellow] {NOTICE}", soft_wrap=True)
    return True


def shutdown_note(model: str) -> str | None:
    """``"<model> shuts down on <day>"`` for a model on OpenAI's shutdown list, else None."""
    day = SHUTDOWNS.get(model)
    return f"{model} shuts down on {day}" if day else None
