"""Bright Data's ``/request`` endpoint: the Web Unlocker API and the SERP API.

Both are one call per URL, as documented by Bright Data::

    POST https://api.brightdata.com/request
    Authorization: Bearer <API key>
    {"zone": "<zone name>", "url": "<target URL>", "format": "raw" | "json"}

* Web Unlocker (a zone of that product): ``format: raw`` answers with the target page's body;
  ``format: json`` with ``{"status_code", "headers", "body"}`` (the target's status, headers and
  body), which the crawler uses so a 404 stays a 404 and ETag / Last-Modified are kept.
* SERP API (a SERP zone): the URL is a search engine's results page; with ``brd_json=1`` in it
  the body is the parsed results, ``{"organic": [{"link", "title", "description", "rank"}, ...]}``.

The API key comes from ``BRIGHTDATA_API_TOKEN`` and the zone from the config or an environment
variable, never from files; neither is ever logged or written to a manifest (only the zone's
variable name is). Calls retry under `webtune.retry.RetryPolicy` (429, 5xx, connection errors).
"""

from __future__ import annotations

import json
import os
from typing import Any

import httpx

from webtune.errors import ConfigError

TOKEN_ENV = "BRIGHTDATA_API_TOKEN"
DEFAULT_BASE_URL = "https://api.brightdata.com"


def api_token(what: str) -> str:
    """The API key from the environment, or a ConfigError naming the variable."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise ConfigError(f"{what}: set {TOKEN_ENV} in the environment (the key is never read from files "
                          "or options)")
    return token


def zone_name(what: str, zone: str | None, zone_env: str) -> str:
    """The zone: the configured name, else the variable ``zone_env``; a ConfigError when neither is set."""
    found = zone or os.environ.get(zone_env, "").strip()
    if not found:
        raise ConfigError(f"{what}: no zone: set `zone:` or {zone_env} in the environment")
    return found


def request_body(zone: str, url: str, fmt: str) -> dict[str, str]:
    """The documented request body of ``POST /request``."""
    return {"zone": zone, "url": url, "format": fmt}


def unlocked_response(response: httpx.Response, fmt: str) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of the target page from a Web Unlocker answer.

    ``json``: the target's own status and headers from the envelope; ``raw``: the API's answer
    is the page. An API error (401, 403, 400: a bad key or zone) raises `UnlockerError`.
    """
    if response.status_code in (400, 401, 403, 407):
        detail = response.headers.get("x-brd-error") or response.text[:200]
        raise UnlockerError(f"Bright Data Web Unlocker refused the request: HTTP {response.status_code}: "
                            f"{detail.strip()} (check {TOKEN_ENV} and the zone)")
    if fmt == "raw" or response.status_code != 200:
        return response.status_code, dict(response.headers), response.content
    try:
        envelope = response.json()
        body = envelope.get("body", "")
        status = int(envelope.get("status_code", 200))
    except (ValueError, TypeError, AttributeError):
        raise UnlockerError("Bright Data Web Unlocker: the answer is not the documented JSON envelope "
                            "{status_code, headers, body}") from None
    headers = {str(k): str(v) for k, v in (envelope.get("headers") or {}).items()}
    data = body.encode("utf-8") if isinstance(body, str) else json.dumps(body).encode("utf-8")
    return status, headers, data


class UnlockerError(Exception):
    """The Web Unlocker API refused a request (bad key or zone); the crawler rejects the URL with it."""


def organic_results(payload: Any) -> list[dict[str, Any]]:
    """The organic results of a parsed SERP (``brd_json=1``): link, title, description, rank."""
    if not isinstance(payload, dict):
        return []
    found = []
    for position, item in enumerate(payload.get("organic") or [], start=1):
        if isinstance(item, dict) and item.get("link"):
            found.append({"link": item["link"], "title": item.get("title") or "",
                          "description": item.get("description") or "",
                          "rank": item.get("rank") or item.get("global_rank") or position})
    return found
