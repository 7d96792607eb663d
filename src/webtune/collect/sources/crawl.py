"""The crawler source: a polite crawler for start URLs and sitemaps.

    sources:
      - kind: crawl
        urls: [https://example.com/docs/]
        sitemaps: [https://example.com/sitemap.xml]
        max_pages: 200
        max_depth: 3

robots.txt is obeyed (protego) for ``user_agent``; requests to one host are limited to
``per_host_concurrency`` at a time and spaced by ``delay_s`` (or the robots Crawl-delay);
redirects are followed by hand so every hop is checked against the scope, robots.txt and
the private-address guard. Each fetched page is appended to a crawl log in the work
directory, so an interrupted crawl resumes where it stopped.

``fetcher: unlocker`` fetches every URL (robots.txt included) through Bright Data's Web Unlocker
API (`webtune.collect.brightdata_request`): the key from ``BRIGHTDATA_API_TOKEN``, the zone from
``unlocker.zone`` or ``BRIGHTDATA_UNLOCKER_ZONE``. This machine then connects to the API only, so
the private-address guard has nothing to check; conditional requests are not sent through it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from webtune.collect.sources import SOURCES
from webtune.configbase import PatternList, StrictModel
from webtune.extras import Needs

DEFAULT_USER_AGENT = "webtune-crawler/0.1 (+https://github.com/webtune/webtune)"


class UnlockerSettings(StrictModel):
    """Bright Data Web Unlocker: where to send the requests and which zone (never the key)."""

    zone: str | None = Field(None, description="the Web Unlocker zone (default: $BRIGHTDATA_UNLOCKER_ZONE)")
    zone_env: str = "BRIGHTDATA_UNLOCKER_ZONE"
    base_url: str = "https://api.brightdata.com"
    format: Literal["json", "raw"] = Field("json", description="json: the target's status and headers "
                                           "come back too (a 404 stays a 404); raw: the body only")


class CrawlSourceConfig(StrictModel):
    """What to crawl, how far, and how politely."""

    kind: Literal["crawl"] = "crawl"
    urls: list[str] = []
    sitemaps: list[str] = []
    # Also crawl the sitemaps that the start URLs' sites list in robots.txt ("Sitemap:" lines).
    robots_sitemaps: bool = False
    same_domain: bool = True
    allow: PatternList = []
    deny: PatternList = []
    follow_links: bool = True
    max_pages: int = Field(default=100, ge=1)
    max_depth: int = Field(default=3, ge=0)
    user_agent: str = DEFAULT_USER_AGENT
    obey_robots: bool = True
    concurrency: int = Field(default=8, ge=1)
    per_host_concurrency: int = Field(default=2, ge=1)
    delay_s: float = Field(default=0.5, ge=0)
    timeout_s: float = Field(default=20.0, gt=0)
    retries: int = Field(default=2, ge=0)
    max_bytes: int = Field(default=5 * 1024 * 1024, gt=0)
    max_redirects: int = Field(default=5, ge=0)
    allow_private: bool = False
    # direct: this machine fetches; unlocker: through Bright Data's Web Unlocker API.
    fetcher: Literal["direct", "unlocker"] = "direct"
    unlocker: UnlockerSettings = UnlockerSettings()

    @model_validator(mode="after")
    def _something_to_crawl(self) -> "CrawlSourceConfig":
        from webtune.collect.urls import normalize_url

        if not self.urls and not self.sitemaps:
            raise ValueError("give start urls and/or sitemaps")
        bad = [u for u in self.urls + self.sitemaps if normalize_url(u) is None]
        if bad:
            raise ValueError(f"not http(s) URLs: {', '.join(bad)}")
        return self

    def input_paths(self) -> list[Path]:
        return []


@SOURCES.register("crawl")
class CrawlSource:
    """Crawls the configured site(s) into HTML documents."""

    Config = CrawlSourceConfig
    needs = Needs("collect", "lxml", "protego")

    def __init__(self, config: CrawlSourceConfig):
        self.config = config

    def collect(self, run: Any) -> dict[str, Any]:
        """Crawl (resuming an interrupted crawl), then write pages and rejects to the sink."""
        from webtune.collect.crawler import crawl

        return crawl(self.config, run)
