"""The Bright Data sources: the Web Scraper API v3 and Marketplace datasets, resumable, never paying twice.

    sources:
      - kind: brightdata
        dataset_id: gd_l7q7dkf244hwjntr0        # Amazon products
        inputs: [{url: "https://www.amazon.com/dp/B0..."}]
        # or inputs_file: inputs.jsonl, or snapshot_id: s_... to collect an existing snapshot
        # discovery: discover_by: keyword, inputs [{keyword: ...}], limit_per_input: 20
        # scrape: true (the synchronous /scrape for up to 20 inputs), webhook: {...}, deliver: {...}
      - kind: brightdata-marketplace
        dataset_id: gd_l7q7dkf244hwjntr0
        filter: {name: rating, operator: ">=", value: 4.5}
        records_limit: 1000
        yes: true                                # buy it (the estimate is shown either way)

1. ``POST /datasets/v3/trigger?dataset_id=..&include_errors=true[&type=discover_new&discover_by=..]``
   with the list of inputs as the body; the answer's ``snapshot_id`` is saved at once to
   the stage's work directory, so a rerun resumes that snapshot instead of paying again.
2. ``GET /datasets/v3/progress/{id}`` until ``status`` is ``ready`` (``failed`` stops), or the
   webhook receiver's notification.
3. ``GET /datasets/v3/snapshot/{id}?format=..`` (202 while it is built), streamed to disk, or the
   files delivered to storage.
4. Records become Documents; records the API returns as errors (``include_errors``)
   become rejects carrying the API's error text.

The token comes from ``BRIGHTDATA_API_TOKEN`` only. httpx + tenacity are used rather than
the ``brightdata-sdk`` package, which loads whole results in memory and has no resume.
The API calls are in `webtune.collect.brightdata_api`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from webtune.collect.sources import SOURCES
from webtune.configbase import RelPath, StrictModel

class WebhookConfig(StrictModel):
    """Webhook mode: a receiver on this machine gets the notification (and the data), else polling."""

    listen: str = "127.0.0.1:0"          # host:port of the receiver (port 0: any free port)
    public_url: str | None = None       # the URL Bright Data calls when it cannot reach `listen` itself
    notify: bool = True                 # pass notify=<receiver>/notify
    receive_data: bool = False          # also pass endpoint=<receiver>/deliver: the data is pushed here
    auth_header_env: str | None = None  # variable holding the Authorization value Bright Data sends
    timeout_s: float = Field(default=600.0, gt=0)  # no call by then: poll instead


class DeliverConfig(StrictModel):
    """Delivery of the snapshot to storage, then read back from it (fsspec URLs)."""

    url: str                            # s3://bucket/dir, gs://bucket/dir, az://container/dir, sftp://host/dir
    read_url: str | None = None         # where webtune reads the files, if not at `url` (file:///mnt/...)
    credentials_env: dict[str, str] = {}  # Bright Data credential field -> environment variable
    storage_options: dict[str, Any] = {}  # fsspec options for reading (endpoint_url, ...; no secrets)
    compress: bool = False
    filename_template: str = "{[snapshot_id]}"

    @field_validator("url")
    @classmethod
    def _known_storage(cls, url: str) -> str:
        from webtune.collect.brightdata_storage import DELIVER_TYPES

        scheme = urlsplit(url).scheme
        if scheme not in DELIVER_TYPES or not urlsplit(url).netloc:
            raise ValueError(f"{url!r}: expected {', '.join(s + '://' for s in DELIVER_TYPES)} with a "
                             "bucket, container or host")
        return url


class BrightDataCommon(StrictModel):
    """What every Bright Data source shares: the endpoint, the download and the waits."""

    dataset_id: str = Field(min_length=1)
    snapshot_id: str | None = None
    format: Literal["json", "ndjson", "jsonl", "csv"] = "ndjson"
    base_url: str = "https://api.brightdata.com"
    fields: dict[Literal["text", "html", "title", "url"], str] = {}
    recollect: bool = False            # a new paid collection even when this request was collected
    poll_interval_s: float = Field(default=10.0, gt=0)
    max_wait_s: float = Field(default=4 * 3600, gt=0)
    request_timeout_s: float = Field(default=60.0, gt=0)
    max_attempts: int = Field(default=8, ge=1)
    retry_base_s: float = Field(default=1.0, ge=0)
    retry_max_s: float = Field(default=60.0, ge=0)


class BrightDataSourceConfig(BrightDataCommon):
    """A Bright Data Web Scraper API collection: trigger one, or collect an existing snapshot."""

    kind: Literal["brightdata"] = "brightdata"
    inputs: list[dict[str, Any]] | None = None
    inputs_file: RelPath | None = None
    discover_by: str | None = None
    limit_per_input: int | None = Field(default=None, ge=1)
    limit_multiple_results: int | None = Field(default=None, ge=1)
    custom_output_fields: list[str] | None = None
    include_errors: bool = True
    scrape: bool = False               # the synchronous /scrape for up to 20 inputs
    webhook: WebhookConfig | None = None
    deliver: DeliverConfig | None = None
    price_per_1k: float = Field(default=1.5, ge=0)  # USD per 1000 records, for the estimate

    @model_validator(mode="after")
    def _one_way_in(self) -> "BrightDataSourceConfig":
        from webtune.collect.brightdata_api import check_discovery_inputs
        from webtune.errors import ConfigError

        given = [name for name in ("inputs", "inputs_file", "snapshot_id") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of inputs, inputs_file (to trigger a collection) "
                             f"or snapshot_id (to collect an existing snapshot); got {given or 'none'}")
        if self.inputs is not None and not self.inputs:
            raise ValueError("inputs is empty")
        if self.inputs is not None:
            try:
                check_discovery_inputs(self.inputs, self.discover_by, "inputs")
            except ConfigError as exc:
                raise ValueError(str(exc)) from None
        return self

    @field_validator("custom_output_fields")
    @classmethod
    def _no_pipes(cls, names: list[str] | None) -> list[str] | None:
        if names is not None and (not names or any(not n or "|" in n for n in names)):
            raise ValueError("a non-empty list of field names (without '|'), e.g. [url, title, about.updated_on]")
        return names

    def input_paths(self) -> list[Path]:
        """The inputs file, when there is one (so editing it reruns the stage)."""
        return [Path(self.inputs_file)] if self.inputs_file is not None else []


class BrightDataMarketplaceConfig(BrightDataCommon):
    """A Marketplace dataset snapshot by filter, bought only with ``yes`` after its estimate."""

    kind: Literal["brightdata-marketplace"] = "brightdata-marketplace"
    filter: dict[str, Any] | None = None
    records_limit: int | None = Field(default=None, ge=1)
    yes: bool = False
    price_per_1k: float = Field(default=2.5, ge=0)  # the Marketplace's $2.5 CPM

    @model_validator(mode="before")
    @classmethod
    def _yes_key(cls, data: Any) -> Any:
        """YAML 1.1 (PyYAML) reads the bare key ``yes`` as the boolean true: take it back as ``yes``."""
        if isinstance(data, dict) and True in data and "yes" not in data:
            data = {("yes" if key is True else key): value for key, value in data.items()}
        return data

    @model_validator(mode="after")
    def _filter_or_snapshot(self) -> "BrightDataMarketplaceConfig":
        if (self.filter is None) == (self.snapshot_id is None):
            raise ValueError("give exactly one of filter (to buy a snapshot) or snapshot_id (one bought before)")
        return self


def _token() -> str:
    from webtune.collect.brightdata_request import api_token

    return api_token("the Bright Data source")


def collect_with(job: Any, run: Any, config: Any) -> dict[str, Any]:
    """Fetch the job's data, read it into the sink, keep its state past publishing; its figures."""
    started = time.perf_counter()
    try:
        snapshot_id, paths = job.fetch()
    finally:
        job.close_receiver()
    stats = job.read_into(paths, snapshot_id, run.sink)
    job.finish()
    run.keep.extend(job.keep)
    return {**stats, "snapshot_id": snapshot_id, "dataset_id": config.dataset_id,
            "triggered": job.triggered, "reused": job.reused, "seconds": round(time.perf_counter() - started, 3)}


@SOURCES.register("brightdata")
class BrightDataSource:
    """Collects one Bright Data snapshot into documents."""

    Config = BrightDataSourceConfig

    def __init__(self, config: BrightDataSourceConfig):
        self.config = config

    def collect(self, run: Any) -> dict[str, Any]:
        """Trigger (or scrape, or resume), wait, fetch and read the snapshot; return its figures."""
        from webtune.collect.brightdata_api import BrightDataJob

        config = self.config
        if getattr(run, "refresh", None) is not None and config.inputs is not None:
            # A refresh run collects only the inputs no earlier version collected.
            config = config.model_copy(update={"inputs": run.refresh.new_inputs(config.inputs)})
            if not config.inputs:
                return {"snapshot_id": None, "dataset_id": config.dataset_id, "triggered": False,
                        "skipped": "no new inputs since the last version"}
        job = BrightDataJob(config, _token(), run.work_dir, run.console)
        return collect_with(job, run, config)


@SOURCES.register("brightdata-marketplace")
class BrightDataMarketplaceSource:
    """Collects one Marketplace dataset snapshot (by filter, bought with ``yes``) into documents."""

    Config = BrightDataMarketplaceConfig

    def __init__(self, config: BrightDataMarketplaceConfig):
        self.config = config

    def collect(self, run: Any) -> dict[str, Any]:
        """Estimate, buy (with ``yes``) or resume, wait, download and read the snapshot."""
        from webtune.collect.brightdata_api import MarketplaceJob

        job = MarketplaceJob(self.config, _token(), run.work_dir, run.console)
        return collect_with(job, run, self.config)
