"""The SERP source: search queries through Bright Data's SERP API, as documents or as URLs to crawl.

    sources:
      - kind: serp
        queries: ["best gel pens for left-handed writers", "quiet desk stapler review"]
        results: documents        # each organic result (title, description, link) is a document
        # results: crawl          # or the result pages are crawled (the crawl source's settings)
        # crawl: {max_depth: 0, max_pages: 50, fetcher: unlocker}

One ``POST https://api.brightdata.com/request`` per query, ``{"zone", "url", "format": "raw"}``,
where the URL is the engine's results page with ``brd_json=1``: the answer is the parsed page,
whose ``organic`` list gives ``link``, ``title``, ``description`` and ``rank``
(`webtune.collect.brightdata_request`). The key comes from ``BRIGHTDATA_API_TOKEN`` and the zone
from ``zone`` or ``BRIGHTDATA_SERP_ZONE``. A query that fails for good, or whose answer is not
parsed results, is one reject naming the query; the other queries go on.
"""

from __future__ import annotations

import time
from typing import Any, Literal
from urllib.parse import quote_plus

from pydantic import Field, ValidationError, model_validator

from webtune.collect.sources import SOURCES
from webtune.collect.sources.crawl import CrawlSourceConfig
from webtune.configbase import StrictModel

SEARCH_URLS = {
    "google": "https://www.google.com/search?q={query}&num={num}&brd_json=1",
    "bing": "https://www.bing.com/search?q={query}&count={num}&brd_json=1",
}


class SerpSourceConfig(StrictModel):
    """Search queries, and what to make of their organic results."""

    kind: Literal["serp"] = "serp"
    queries: list[str] = Field(min_length=1)
    engine: Literal["google", "bing"] = "google"
    results: Literal["documents", "crawl"] = "documents"
    max_results: int = Field(10, ge=1, le=100, description="organic results kept per query")
    zone: str | None = Field(None, description="the SERP API zone (default: $BRIGHTDATA_SERP_ZONE)")
    zone_env: str = "BRIGHTDATA_SERP_ZONE"
    base_url: str = "https://api.brightdata.com"
    timeout_s: float = Field(60.0, gt=0)
    max_attempts: int = Field(4, ge=1)
    # With results: crawl, the crawl source's settings (its urls are the results' links).
    crawl: dict[str, Any] = Field(default_factory=lambda: {"max_depth": 0})

    @model_validator(mode="after")
    def _crawl_settings(self) -> "SerpSourceConfig":
        """The ``crawl`` settings are checked now, not when the results come back."""
        if "urls" in self.crawl or "sitemaps" in self.crawl:
            raise ValueError("crawl: urls and sitemaps come from the search results; leave them out")
        try:
            CrawlSourceConfig.model_validate({**self.crawl, "urls": ["https://example.com/"]})
        except ValidationError as exc:
            first = exc.errors()[0]
            raise ValueError(f"crawl.{'.'.join(map(str, first['loc']))}: {first['msg']}") from None
        return self

    def input_paths(self) -> list:
        return []

    def search_url(self, query: str) -> str:
        """The results page asked for (parsed JSON: ``brd_json=1``)."""
        return SEARCH_URLS[self.engine].format(query=quote_plus(query), num=self.max_results)


@SOURCES.register("serp")
class SerpSource:
    """Turns search queries into documents, or into URLs for the crawler."""

    Config = SerpSourceConfig

    def __init__(self, config: SerpSourceConfig):
        self.config = config

    def collect(self, run: Any) -> dict[str, Any]:
        """Search every query; keep its results as documents, or crawl them."""
        from webtune.collect.brightdata_request import api_token, zone_name

        what = "the serp source"
        token, zone = api_token(what), zone_name(what, self.config.zone, self.config.zone_env)
        started = time.perf_counter()
        found = self._search_all(token, zone, run)
        stats: dict[str, Any] = {"queries": len(self.config.queries), "results": sum(len(r) for _, r in found)}
        if self.config.results == "documents":
            self._keep_documents(found, run)
        else:
            stats["crawl"] = self._crawl(found, run)
        stats["seconds"] = round(time.perf_counter() - started, 3)
        return stats

    def _search_all(self, token: str, zone: str, run: Any) -> list[tuple[str, list[dict[str, Any]]]]:
        """(query, organic results) of every query that answered; the others become rejects."""
        import httpx

        from webtune.collect.brightdata_request import organic_results, request_body
        from webtune.retry import GaveUp, RetryPolicy, check_status

        policy = RetryPolicy(max_attempts=self.config.max_attempts)
        endpoint = f"{self.config.base_url.rstrip('/')}/request"
        found = []
        with httpx.Client(timeout=self.config.timeout_s, headers={"Authorization": f"Bearer {token}"}) as client:
            for query in self.config.queries:
                url = self.config.search_url(query)
                try:
                    response = policy.call(lambda: check_status(client.post(endpoint, json=request_body(zone, url, "raw"))),
                                           what=f"Bright Data SERP API: POST {endpoint}")
                    payload = response.json() if response.status_code == 200 else None
                except GaveUp as exc:
                    run.sink.reject("serp_failed", f"query {query!r}: {exc}", uri=url)
                    continue
                except ValueError:
                    payload = None
                if response.status_code in (401, 403, 407):
                    from webtune.errors import ConfigError

                    raise ConfigError(f"Bright Data SERP API refused the request: HTTP {response.status_code} "
                                      f"(check BRIGHTDATA_API_TOKEN and the zone in {self.config.zone_env} or `zone:`)")
                if payload is None:
                    detail = f"HTTP {response.status_code}" if response.status_code != 200 \
                        else "the answer is not parsed results (is brd_json=1 kept in the URL?)"
                    run.sink.reject("serp_failed", f"query {query!r}: {detail}", uri=url)
                    continue
                found.append((query, organic_results(payload)[:self.config.max_results]))
        return found

    def _keep_documents(self, found: list[tuple[str, list[dict[str, Any]]]], run: Any) -> None:
        from webtune.collect.documents import make_document
        from webtune.records import utc_now

        collected_at = utc_now()
        for query, results in found:
            uri = self.config.search_url(query)
            for result in results:
                fields = {"query": query, **result}
                run.sink.keep(make_document(
                    kind="serp", uri=uri, offset=int(result["rank"]), content_type="application/json",
                    fields=fields, text=f"{result['title']}\n\n{result['description']}".strip(),
                    meta={"url": result["link"], "title": result["title"], "query": query},
                    collected_at=collected_at))

    def _crawl(self, found: list[tuple[str, list[dict[str, Any]]]], run: Any) -> dict[str, Any]:
        """Crawl the results' pages with the crawl source's machinery (same rejects and resume)."""
        from webtune.collect.crawler import crawl

        links = list(dict.fromkeys(r["link"] for _, results in found for r in results))
        if not links:
            return {"pages": 0}
        config = CrawlSourceConfig.model_validate({**self.config.crawl, "urls": links, "sitemaps": []})
        return crawl(config, run)
