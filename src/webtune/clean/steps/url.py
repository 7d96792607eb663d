"""url: allow and block lists of domains and URL patterns."""

from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import field_validator

from webtune.clean.steps import STEPS
from webtune.clean.steps.base import Drop, Step, StepConfig
from webtune.configbase import PatternList
from webtune.records import Document


class UrlConfig(StepConfig):
    step: Literal["url"] = "url"
    # A domain matches itself and its subdomains: "example.com" matches "shop.example.com".
    allow_domains: list[str] = []
    block_domains: list[str] = []
    block_patterns: PatternList = []  # regular expressions searched in the whole URL
    # Where the URL is: the document's source uri, or a field of the record.
    field: str | None = None
    drop_missing: bool = False

    @field_validator("allow_domains", "block_domains")
    @classmethod
    def _lower(cls, domains: list[str]) -> list[str]:
        return [d.strip().lower().lstrip(".") for d in domains if d.strip()]


def domain_matches(host: str, domains: list[str]) -> str | None:
    """The listed domain that ``host`` equals or is a subdomain of, or None."""
    for domain in domains:
        if host == domain or host.endswith("." + domain):
            return domain
    return None


@STEPS.register("url")
class Url(Step):
    """Reason codes: no_url, domain_not_allowed, blocked_domain, blocked_url."""

    Config = UrlConfig

    def __init__(self, config: UrlConfig):
        super().__init__(config)
        self.patterns = [re.compile(p, re.IGNORECASE) for p in config.block_patterns]

    def apply(self, doc: Document, stats: dict[str, Any]) -> Drop | None:
        cfg = self.config
        url = doc.fields.get(cfg.field) if cfg.field else doc.source.uri
        if not isinstance(url, str) or "://" not in url:
            return Drop("no_url", url, None) if cfg.drop_missing else None
        host = (urlsplit(url).hostname or "").lower()
        if cfg.allow_domains and domain_matches(host, cfg.allow_domains) is None:
            return Drop("domain_not_allowed", host, cfg.allow_domains)
        blocked = domain_matches(host, cfg.block_domains)
        if blocked:
            return Drop("blocked_domain", host, blocked)
        for pattern in self.patterns:
            if pattern.search(url):
                return Drop("blocked_url", url, pattern.pattern)
        return None
