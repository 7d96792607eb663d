"""Config of the clean stage: an ordered list of named steps and how to run them.

    clean:
      executor: local        # local (a process pool) or ray (Ray Data)
      workers: 0             # 0: all cores; 1: in this process
      steps:
        - step: html_to_text
        - step: length
          min_words: 50
        - step: dedup
          threshold: 0.8

Each step's options are its own pydantic model (see ``webtune.clean.steps``); the
``step`` key picks it, so a typo in a step name or an option is an error naming the line.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from webtune.clean.steps import STEPS
from webtune.configbase import StrictModel
from webtune.plugins import config_field

# One step's settings: the registered step (built-in or plugin) that ``step`` names.
StepConfigUnion = config_field(STEPS)


def _default_steps() -> list:
    # Safe for any input: nothing is dropped for its content, only duplicates.
    from webtune.clean.steps.dedup import DedupConfig
    from webtune.clean.steps.html_to_text import HtmlToTextConfig
    from webtune.clean.steps.normalize import NormalizeConfig
    from webtune.clean.steps.pii import PiiConfig

    return [HtmlToTextConfig(), NormalizeConfig(), PiiConfig(), DedupConfig()]


class CleanConfig(StrictModel):
    """The clean stage: steps in order, and the executor that runs them."""

    steps: list[StepConfigUnion] = Field(default_factory=_default_steps)  # type: ignore[valid-type]
    # How clean runs, not what it produces (every executor gives the same output): left out of
    # the stage fingerprint, so changing them does not rerun clean.
    executor: Literal["local", "ray"] = Field("local", exclude=True)
    workers: int = Field(0, ge=0, exclude=True)
    batch_size: int = Field(64, ge=1)
    ray_address: str | None = Field(None, exclude=True)
    # Ray's runtime_env for the job (pip / py_modules / env_vars): webtune on a cluster's workers.
    ray_runtime_env: dict[str, Any] | None = Field(None, exclude=True)
    # Keep the dropped document itself in rejects.jsonl (for --explain and audits).
    rejects_with_record: bool = True
