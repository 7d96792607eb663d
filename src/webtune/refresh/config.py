"""The ``refresh:`` section: how a pipeline keeps its model fresh run after run.

    refresh:
      train: continue          # or retrain: from the base model on all data to date
      history: history/        # default: <registry>/history/<pipeline name>/
      key: url                 # the field naming a record (default: its url, else file + line)
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from webtune.configbase import RelPath, StrictModel


class RefreshConfig(StrictModel):
    """Collect only what is new, dedup against every earlier version, train on, gate against production."""

    train: Literal["continue", "retrain"] = Field(
        "continue", description="continue: train from the production model's adapter on the new data; "
        "retrain: from the base model on all data to date")
    history: RelPath | None = Field(None, description="the history store of this pipeline "
                                    "(default: <registry>/history/<pipeline name>)")
    key: str | None = Field(None, description="the record field that names a record across versions "
                            "(default: its url, else its file and line)")
