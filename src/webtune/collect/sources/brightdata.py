"""The Bright Data source: the Web Scraper API v3, resumable, never paying twice.

    sources:
      - kind: brightdata
        dataset_id: gd_l7q7dkf244hwjntr0        # Amazon products
        inputs: [{url: "https://www.amazon.com/dp/B0..."}]
        # or inputs_file: inputs.jsonl, or snapshot_id: s_... to collect an existing snapshot
        # discovery: discover_by: best_sellers_url

1. ``POST /datasets/v3/trigger?dataset_id=..&include_errors=true[&type=discover_new&discover_by=..]``
   with the list of inputs as the body; the answer's ``snapshot_id`` is saved at once to
   the stage's work directory, so a rerun resumes that snapshot instead of paying again.
2. ``GET /datasets/v3/progress/{id}`` until ``status`` is ``ready`` (``failed`` stops).
3. ``GET /datasets/v3/snapshot/{id}?format=..`` (202 while it is built), streamed to disk.
4. Records become Documents; records the API returns as errors (``include_errors``)
   become rejects carrying the API's error text.

The token comes from ``BRIGHTDATA_API_TOKEN`` only. httpx + tenacity are used rather than
the ``brightdata-sdk`` package, which loads whole results in memory and has no resume.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from webtune.collect.sources import SOURCES
from webtune.configbase import RelPath, StrictModel

TOKEN_ENV = "BRIGHTDATA_API_TOKEN"


class BrightDataSourceConfig(StrictModel):
    """A Bright Data Web Scraper API collection: trigger one, or collect an existing snapshot."""

    kind: Literal["brightdata"] = "brightdata"
    dataset_id: str = Field(min_length=1)
    inputs: list[dict[str, Any]] | None = None
    inputs_file: RelPath | None = None
    snapshot_id: str | None = None
    discover_by: str | None = None
    limit_per_input: int | None = Field(default=None, ge=1)
    limit_multiple_results: int | None = Field(default=None, ge=1)
    include_errors: bool = True
    format: Literal["json", "ndjson", "jsonl", "csv"] = "ndjson"
    base_url: str = "https://api.brightdata.com"
    fields: dict[Literal["text", "html", "title", "url"], str] = {}
    poll_interval_s: float = Field(default=10.0, gt=0)
    max_wait_s: float = Field(default=4 * 3600, gt=0)
    request_timeout_s: float = Field(default=60.0, gt=0)
    max_attempts: int = Field(default=8, ge=1)
    retry_base_s: float = Field(default=1.0, ge=0)
    retry_max_s: float = Field(default=60.0, ge=0)

    @model_validator(mode="after")
    def _one_way_in(self) -> "BrightDataSourceConfig":
        given = [name for name in ("inputs", "inputs_file", "snapshot_id") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of inputs, inputs_file (to trigger a collection) "
                             f"or snapshot_id (to collect an existing snapshot); got {given or 'none'}")
        if self.inputs is not None and not self.inputs:
            raise ValueError("inputs is empty")
        return self

    def input_paths(self) -> list[Path]:
        """The inputs file, when there is one (so editing it reruns the stage)."""
        return [Path(self.inputs_file)] if self.inputs_file is not None else []


@SOURCES.register("brightdata")
class BrightDataSource:
    """Collects one Bright Data snapshot into documents."""

    Config = BrightDataSourceConfig

    def __init__(self, config: BrightDataSourceConfig):
        self.config = config

    def collect(self, run: Any) -> dict[str, Any]:
        """Trigger (or resume), wait, download and read the snapshot; return its figures."""
        from webtune.collect.brightdata_api import BrightDataJob

        token = os.environ.get(TOKEN_ENV, "").strip()
        if not token:
            from webtune.errors import ConfigError

            raise ConfigError(f"set {TOKEN_ENV} in the environment to use the Bright Data source "
                              "(the token is never read from files or options)")
        job = BrightDataJob(self.config, token, run.work_dir, run.console)
        started = time.perf_counter()
        snapshot_id = job.snapshot_id()
        path = job.downloaded_copy(snapshot_id)
        if path is None:
            job.wait_until_ready(snapshot_id)
            path = job.download(snapshot_id)
        stats = job.read_into(path, snapshot_id, run.sink)
        job.finish(snapshot_id, path)
        return {**stats, "snapshot_id": snapshot_id, "dataset_id": self.config.dataset_id,
                "triggered": job.triggered, "seconds": round(time.perf_counter() - started, 3)}
