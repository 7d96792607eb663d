"""The crawl engine behind the ``crawl`` source (asyncio + httpx).

Every URL the crawler settles (a page, a 404, a disallowed path...) becomes one line
of ``crawl-log.jsonl`` in the source's work directory, written as soon as it is known.
The log is the resume state: on a rerun the settled URLs are not fetched again and the
frontier is rebuilt from the links of the logged pages. When the crawl is done, the log
is turned into documents and rejects, then removed.

In a refresh run (``run.refresh``) a page crawled by an earlier version is asked for with its
``If-None-Match`` (ETag) and ``If-Modified-Since`` (Last-Modified); a ``304 Not Modified`` settles
it as ``unchanged`` (a reject of that reason, no body fetched), and its links, kept in history,
are followed as if the page had been fetched.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from webtune.collect.documents import make_document
from webtune.collect.pinned import PinnedBackend, pinned_transport
from webtune.collect.readers.base import looks_binary
from webtune.collect.urls import host_of, in_domains, is_private_ip, normalize_url, site_domain
from webtune.jsonl import atomic_write_json, read_jsonl
from webtune.records import content_id, utc_now
from webtune.retry import GaveUp, RetryableStatus, RetryPolicy, describe

LOG = "crawl-log.jsonl"
STATE = "crawl-state.json"
HTML_TYPES = ("text/html", "application/xhtml+xml")
MAX_SITEMAPS = 50
MAX_CRAWL_DELAY_S = 30.0  # the longest Crawl-delay or Retry-After a site gets from us
MAX_RETRY_TOTAL_S = 120.0  # the longest one URL is retried


@dataclass
class Fetched:
    """A response with its body read (up to the size limit)."""

    status_code: int
    headers: httpx.Headers
    content: bytes
    too_large: bool = False

    @property
    def is_redirect(self) -> bool:
        return self.status_code in (301, 302, 303, 307, 308)


class Skip(Exception):
    """A URL that is settled without a page: carries the reject reason and detail."""

    def __init__(self, reason: str, detail: str, **record: Any):
        super().__init__(detail)
        self.reason, self.detail, self.record = reason, detail, record


@dataclass
class HostGate:
    """Per-host politeness: at most N requests at once, starts spaced by ``delay`` seconds."""

    concurrency: int
    delay: float
    next_start: float = 0.0
    semaphore: asyncio.Semaphore = field(init=False)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self.semaphore = asyncio.Semaphore(self.concurrency)

    async def turn(self) -> None:
        """Wait until this host may get its next request.

        The next start is set from the moment this one really goes, after the sleep: planned
        from the intended start instead, a sleep that overran (a busy event loop) shortened the
        following gap below ``delay`` (measured: 0.117 s for a delay of 0.15 s under load).
        Waiters queue on the lock, so they go in order.
        """
        loop = asyncio.get_running_loop()
        async with self.lock:
            wait = self.next_start - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            self.next_start = loop.time() + self.delay

    def slow_down(self, delay: float) -> None:
        """Space requests by at least ``delay`` from now on, the next one included (a robots.txt
        Crawl-delay learnt from the request that was just made)."""
        if delay > self.delay:
            self.next_start += delay - self.delay  # next_start was last start + the old delay
            self.delay = delay


class Crawler:
    """One crawl: scope, robots, politeness, retries, and the append-only log."""

    def __init__(self, config: Any, work_dir: Path, console: Any, refresh: Any = None):
        self.c = config
        self.refresh = refresh
        self.console = console
        self.log_path = Path(work_dir) / LOG
        self.state_path = Path(work_dir) / STATE
        # Hosts as normalize_url writes them (lower case, no trailing dot), so start URLs match their links.
        self.domains = {site_domain(host_of(u).rstrip(".")) for u in config.urls + config.sitemaps}
        self.allow = [re.compile(p) for p in config.allow]
        self.deny = [re.compile(p) for p in config.deny]
        self.seen: set[str] = set()
        self.queue: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
        self.gates: dict[str, HostGate] = {}
        self.robots: dict[str, Any] = {}
        self.robots_locks: dict[str, asyncio.Lock] = {}
        self.addresses: dict[str, bool] = {}  # host -> resolves to a private address
        self.backend = PinnedBackend()
        self.fetched = 0
        self.sitemap_problems: list[str] = []
        self.stats = {"resumed": 0, "links_out_of_scope": 0, "not_fetched_max_pages": 0, "sitemap_urls": 0}
        self._log_fh: Any = None
        self.policy = RetryPolicy(max_attempts=config.retries + 1, initial_wait_s=0.2, max_backoff_s=10.0,
                                  max_wait_s=MAX_CRAWL_DELAY_S, max_total_s=MAX_RETRY_TOTAL_S)
        self.unlocker = unlocker_access(config)

    # ------------------------------------------------------------ resume log

    def _key(self) -> str:
        c = self.c
        return content_id({"urls": c.urls, "sitemaps": c.sitemaps, "robots_sitemaps": c.robots_sitemaps,
                           "same_domain": c.same_domain,
                           "allow": c.allow, "deny": c.deny, "max_depth": c.max_depth,
                           "follow_links": c.follow_links, "user_agent": c.user_agent,
                           "obey_robots": c.obey_robots, "max_bytes": c.max_bytes})

    def load_log(self) -> list[tuple[str, int]]:
        """Replay an earlier, interrupted crawl of the same config; return the frontier it left."""
        key = self._key()
        state = _read_json(self.state_path)
        if state is None or state.get("key") != key:
            self.log_path.unlink(missing_ok=True)
            atomic_write_json(self.state_path, {"key": key, "started_at": utc_now()})
            return []
        pending: list[tuple[str, int]] = []
        for entry in iter_log(self.log_path):
            self.stats["resumed"] += 1
            self.seen.update(u for u in (entry["url"], entry.get("final_url")) if u)
            self.fetched += 1 if entry.get("counted") else 0
            if entry.get("outcome") in ("page", "unchanged") and entry["depth"] < self.c.max_depth:
                pending.extend((link, entry["depth"] + 1) for link in entry.get("links", []))
        return pending

    def finished(self) -> bool:
        """Whether the log holds a whole crawl of this config (a later source of the collect failed)."""
        state = _read_json(self.state_path)
        return bool(state and state.get("key") == self._key() and state.get("finished_at")
                    and state.get("max_pages") == self.c.max_pages)  # a bigger budget crawls on

    def mark_finished(self) -> None:
        """Record that the crawl is complete; the stage clears the log once its output is published."""
        atomic_write_json(self.state_path, {**(_read_json(self.state_path) or {}), "finished_at": utc_now(),
                                            "max_pages": self.c.max_pages})

    def log(self, entry: dict[str, Any]) -> None:
        """Append one settled URL to the log, flushed at once (the resume state)."""
        if self._log_fh is None:
            drop_cut_tail(self.log_path)
            self._log_fh = open(self.log_path, "a", encoding="utf-8")
        self._log_fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self._log_fh.flush()

    # ------------------------------------------------------------ scope

    def in_scope(self, url: str) -> bool:
        """Domain scope, allow-list and deny-list."""
        if self.c.same_domain and not in_domains(host_of(url), self.domains):
            return False
        if self.allow and not any(p.search(url) for p in self.allow):
            return False
        return not any(p.search(url) for p in self.deny)

    def enqueue(self, url: str, depth: int) -> None:
        """Queue a normalised URL once, if in scope."""
        if url in self.seen:
            return
        if not self.in_scope(url):
            self.stats["links_out_of_scope"] += 1
            return
        self.seen.add(url)
        self.queue.put_nowait((url, depth))

    async def check_address(self, url: str) -> None:
        """Resolve ``url``'s host once and pin the address the client connects to; refuse hosts that
        resolve to private, loopback or link-local addresses unless allowed.

        Pinning closes the gap between the check and the connection: the HTTP client never
        resolves the name again, so a DNS answer that changes in between cannot slip past.
        """
        if self.unlocker is not None:
            return  # only the Web Unlocker API is connected to; it resolves the target, not us
        host = host_of(url).strip("[]").rstrip(".")
        if host not in self.addresses:
            loop = asyncio.get_running_loop()
            try:
                infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
            except OSError as exc:
                raise Skip("dns_error", f"cannot resolve {host}: {exc}") from None
            addresses = [info[4][0] for info in infos]
            private = any(is_private_ip(address) for address in addresses)
            self.addresses[host] = private
            if not private or self.c.allow_private:
                self.backend.pin(host, addresses[0])
        if self.addresses[host] and not self.c.allow_private:
            raise Skip("private_address", f"{host} resolves to a private, loopback or link-local address "
                       "(set allow_private to crawl it)")

    # ------------------------------------------------------------ robots.txt

    async def robots_for(self, client: httpx.AsyncClient, url: str) -> Any:
        """The parsed robots.txt of ``url``'s site (fetched once), or None when there is none."""
        origin = url.split("/", 3)[:3]
        site = "/".join(origin)
        lock = self.robots_locks.setdefault(site, asyncio.Lock())
        async with lock:
            if site not in self.robots:
                self.robots[site] = await self._fetch_robots(client, site)
        return self.robots[site]

    async def _fetch_robots(self, client: httpx.AsyncClient, site: str) -> Any:
        from protego import Protego

        try:
            response = await self._get_with_retries(client, site + "/robots.txt", budget=64 * 1024)
        except Skip as skip:
            if skip.reason == "unlocker_refused":
                return skip  # the Web Unlocker refused the key: every URL says so, not "robots"
            return "deny"  # robots.txt unreachable: be polite, fetch nothing there
        if response.status_code >= 500:
            return "deny"
        if response.status_code >= 400:
            return None
        robots = Protego.parse(response.content.decode("utf-8", errors="replace"))
        delay = robots.crawl_delay(self.c.user_agent)
        if delay:
            self.gate(site).slow_down(min(float(delay), MAX_CRAWL_DELAY_S))
        return robots

    async def check_robots(self, client: httpx.AsyncClient, url: str) -> None:
        if not self.c.obey_robots:
            return
        robots = await self.robots_for(client, url)
        if isinstance(robots, Skip):
            raise Skip(robots.reason, robots.detail)
        if robots == "deny":
            raise Skip("robots_unavailable", "robots.txt could not be fetched (server error): not crawling this site")
        if robots is not None and not robots.can_fetch(url, self.c.user_agent):
            raise Skip("robots_disallowed", f"disallowed by robots.txt for {self.c.user_agent}")

    # ------------------------------------------------------------ fetching

    def gate(self, url: str) -> HostGate:
        site = "/".join(url.split("/", 3)[:3])
        if site not in self.gates:
            self.gates[site] = HostGate(self.c.per_host_concurrency, self.c.delay_s)
        return self.gates[site]

    async def _get_with_retries(self, client: httpx.AsyncClient, url: str, budget: int,
                                headers: dict[str, str] | None = None) -> Fetched:
        """GET with per-host politeness, retried by the shared policy (timeouts, connection errors,
        429 and 5xx, waiting as long as Retry-After asks, up to MAX_CRAWL_DELAY_S).

        When the retries run out on a 429/5xx, that last answer is returned (and logged as the
        URL's outcome, ``http_503``...); on a timeout or connection error the URL is skipped.
        """
        async def attempt() -> Fetched:
            gate = self.gate(url)
            async with gate.semaphore:
                await gate.turn()
                response = await self._fetch_capped(client, url, budget, headers)
            if response.status_code == 429 or response.status_code >= 500:
                raise RetryableStatus(response)
            return response

        try:
            return await self.policy.acall(attempt, what=f"GET {url}")
        except GaveUp as exc:
            if isinstance(exc.last, RetryableStatus):
                return exc.last.response
            reason = "timeout" if isinstance(exc.last, httpx.TimeoutException) else "fetch_error"
            raise Skip(reason, f"{describe(exc.last)} ({exc.after()})") from None

    async def _fetch_capped(self, client: httpx.AsyncClient, url: str, budget: int,
                            headers: dict[str, str] | None = None) -> "Fetched":
        """Fetch ``url`` reading at most ``budget`` bytes of body; a bigger body is flagged too_large."""
        if self.unlocker is not None:
            return await self._fetch_unlocked(client, url, budget)
        async with client.stream("GET", url, headers=headers) as response:
            declared = int(response.headers.get("Content-Length") or 0)
            chunks, size, too_large = [], 0, declared > budget
            if not too_large:
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > budget:
                        too_large = True
                        break
                    chunks.append(chunk)
            return Fetched(response.status_code, response.headers, b"".join(chunks), too_large)

    async def _fetch_unlocked(self, client: httpx.AsyncClient, url: str, budget: int) -> "Fetched":
        """Fetch ``url`` through the Web Unlocker API (see `webtune.collect.brightdata_request`)."""
        from webtune.collect.brightdata_request import UnlockerError, request_body, unlocked_response

        token, zone, base_url, fmt = self.unlocker
        response = await client.post(f"{base_url.rstrip('/')}/request", json=request_body(zone, url, fmt),
                                     headers={"Authorization": f"Bearer {token}"})
        try:
            status, headers, body = unlocked_response(response, fmt)
        except UnlockerError as exc:
            raise Skip("unlocker_refused", str(exc)) from None
        return Fetched(status, httpx.Headers(headers), body[:budget], too_large=len(body) > budget)

    async def fetch_page(self, client: httpx.AsyncClient, url: str, depth: int) -> dict[str, Any]:
        """Fetch one page through its redirects; return its log entry (a page or a reject)."""
        current, fetched_at, chain = url, utc_now(), [url]
        conditional = self.refresh.conditional_headers(url) if self.refresh is not None else {}
        for _hop in range(self.c.max_redirects + 1):
            await self.check_address(current)
            await self.check_robots(client, current)
            response = await self._get_with_retries(client, current, self.c.max_bytes,
                                                    conditional if current == url else None)
            if response.status_code == 304 and conditional and current == url:
                return self.unchanged_entry(url, depth, fetched_at)
            location = response.headers.get("Location")
            if response.is_redirect and location:
                target = normalize_url(location, current)
                if target is None or not self.in_scope(target):
                    raise Skip("redirect_out_of_scope", f"redirects to {location}, outside the crawl scope")
                if target in chain:
                    raise Skip("redirect_loop", f"redirect loop: {' -> '.join(chain + [target])}")
                if target in self.seen:
                    raise Skip("duplicate", f"redirects to {target}, which is crawled already")
                self.seen.add(target)
                chain.append(target)
                current = target
                continue
            return self.page_entry(url, current, depth, response, fetched_at)
        raise Skip("too_many_redirects", f"more than {self.c.max_redirects} redirects")

    def unchanged_entry(self, url: str, depth: int, fetched_at: str) -> dict[str, Any]:
        """A page the server says is unchanged since an earlier version (304): its links from history."""
        previous = self.refresh.previous_page(url) or {}
        return {"url": url, "depth": depth, "outcome": "unchanged", "counted": True, "final_url": url,
                "status": 304, "fetched_at": fetched_at, "previous": previous,
                "links": previous.get("links") or [] if self.c.follow_links else []}

    def page_entry(self, url: str, final: str, depth: int, response: Fetched, fetched_at: str) -> dict[str, Any]:
        """Turn a final response into a page entry, or raise Skip with the reason."""
        content_type = response.headers.get("Content-Type", "")
        mime = content_type.split(";")[0].strip().lower()
        facts = {"final_url": final, "status": response.status_code, "content_type": content_type}
        if response.status_code != 200:
            raise Skip(f"http_{response.status_code}", f"HTTP {response.status_code}", **facts)
        if mime not in HTML_TYPES:
            raise Skip("not_html", f"content type {mime or 'unknown'} is not HTML", **facts)
        if response.too_large:
            raise Skip("too_large", f"body over max_bytes ({self.c.max_bytes})", **facts)
        if looks_binary(response.content[:8192]) or looks_garbled(response.content):
            raise Skip("binary", f"served as {mime} but the body is binary data", **facts)
        html = decode_html(response)
        if html is None:
            raise Skip("undecodable", "no character encoding fits the body", **facts)
        title, links, directives = parse_html(html, final)
        if "noindex" in directives:
            raise Skip("robots_noindex", "the page asks not to be indexed (meta robots noindex)", **facts)
        follow = self.c.follow_links and "nofollow" not in directives
        return {"url": url, "depth": depth, "outcome": "page", "counted": True, **facts,
                "fetched_at": fetched_at, "title": title, "html": html, "links": links if follow else [],
                "etag": response.headers.get("ETag"), "last_modified": response.headers.get("Last-Modified")}

    # ------------------------------------------------------------ sitemaps

    async def robots_sitemaps(self, client: httpx.AsyncClient) -> list[str]:
        """The sitemaps listed in the robots.txt of each start URL's site."""
        found: list[str] = []
        for url in self.c.urls:
            try:
                await self.check_address(url)
            except Skip:
                continue  # the page itself is refused (and rejected) by the crawl
            robots = await self.robots_for(client, url)
            if robots is not None and robots != "deny" and not isinstance(robots, Skip):
                found.extend(s for s in robots.sitemaps if s not in found)
        return found

    async def sitemap_urls(self, client: httpx.AsyncClient) -> list[str]:
        """Page URLs listed by the configured sitemaps (sitemap indexes followed, .gz read)."""
        todo, done, found = list(self.c.sitemaps), set(), []
        if self.c.robots_sitemaps:
            todo += [s for s in await self.robots_sitemaps(client) if s not in todo]
        while todo and len(done) < MAX_SITEMAPS:
            sitemap = todo.pop(0)
            if sitemap in done:
                continue
            done.add(sitemap)
            try:
                await self.check_address(sitemap)
                response = await self._get_with_retries(client, sitemap, 50 * 1024 * 1024)
            except Skip as skip:
                self.sitemap_problems.append(f"sitemap {sitemap}: {skip.detail}")
                self.console.print(f"[yellow]crawl[/yellow]: {self.sitemap_problems[-1]}")
                continue
            if response.status_code != 200:
                self.sitemap_problems.append(f"sitemap {sitemap}: HTTP {response.status_code}")
                self.console.print(f"[yellow]crawl[/yellow]: {self.sitemap_problems[-1]}")
                continue
            pages, children = parse_sitemap(response.content)
            found.extend(pages)
            todo.extend(children)
        self.stats["sitemap_urls"] = len(found)
        return found

    # ------------------------------------------------------------ the crawl

    async def run(self, progress: Any) -> None:
        """Crawl until the frontier is empty or ``max_pages`` pages were fetched."""
        pending = self.load_log()
        limits = httpx.Limits(max_connections=self.c.concurrency, max_keepalive_connections=self.c.concurrency)
        # Through the Web Unlocker only the API is connected to: no address to pin.
        transport = pinned_transport(self.backend, limits) if self.unlocker is None else \
            httpx.AsyncHTTPTransport(limits=limits)
        async with httpx.AsyncClient(timeout=self.c.timeout_s, follow_redirects=False, transport=transport,
                                     headers={"User-Agent": self.c.user_agent}) as client:
            seeds = [(u, 0) for u in self.c.urls] + [(u, 0) for u in await self.sitemap_urls(client)]
            if not seeds and not pending and self.sitemap_problems:
                # Only sitemaps were given and none could be read: there is nothing to crawl.
                from webtune.errors import InputError

                raise InputError(f"crawl: nothing to crawl: {'; '.join(self.sitemap_problems)}")
            for raw, depth in seeds + pending:
                if (url := normalize_url(raw)) is not None:
                    self.enqueue(url, depth)
            task = progress.add_task("crawl", total=self.c.max_pages, completed=self.fetched)
            workers = [asyncio.create_task(self.worker(client, progress, task)) for _ in range(self.c.concurrency)]
            try:
                await self.queue.join()
            finally:
                for worker in workers:
                    worker.cancel()
                await asyncio.gather(*workers, return_exceptions=True)
                if self._log_fh is not None:
                    self._log_fh.close()

    async def worker(self, client: httpx.AsyncClient, progress: Any, task: Any) -> None:
        while True:
            url, depth = await self.queue.get()
            try:
                await self.settle(client, url, depth)
                progress.update(task, completed=min(self.fetched, self.c.max_pages))
            finally:
                self.queue.task_done()

    async def settle(self, client: httpx.AsyncClient, url: str, depth: int) -> None:
        """Fetch one URL (within the page budget) and log the outcome; queue its links."""
        if self.fetched >= self.c.max_pages:
            self.stats["not_fetched_max_pages"] += 1
            self.seen.discard(url)  # not settled: a later, larger crawl may fetch it
            return
        self.fetched += 1
        try:
            entry = await self.fetch_page(client, url, depth)
        except Skip as skip:
            # Robots and address refusals are decided before any request: they use no budget.
            counted = skip.reason not in ("robots_disallowed", "robots_unavailable", "private_address",
                                          "dns_error", "redirect_out_of_scope", "duplicate")
            if not counted:
                self.fetched -= 1
            entry = {"url": url, "depth": depth, "outcome": "reject", "reason": skip.reason,
                     "detail": skip.detail, "counted": counted, "fetched_at": utc_now(), **skip.record}
        self.log(entry)
        if entry["outcome"] in ("page", "unchanged") and depth < self.c.max_depth:
            for link in entry["links"]:
                self.enqueue(link, depth + 1)


def unlocker_access(config: Any) -> tuple[str, str, str, str] | None:
    """(key, zone, API base URL, format) when the crawl fetches through the Web Unlocker, else None."""
    if getattr(config, "fetcher", "direct") != "unlocker":
        return None
    from webtune.collect.brightdata_request import api_token, zone_name

    settings = config.unlocker
    what = "crawl through the Bright Data Web Unlocker"
    return (api_token(what), zone_name(what, settings.zone, settings.zone_env), settings.base_url,
            settings.format)


def decode_html(response: Fetched) -> str | None:
    """The page text: the charset of the Content-Type header, else the page's own declaration
    (BOM, meta charset), else UTF-8, else detection; None when nothing fits."""
    from webtune.collect.readers.textual import decode_text

    declared = re.search(r"charset=[\"']?([\w.:-]+)", response.headers.get("Content-Type", ""), re.IGNORECASE)
    if declared:
        try:
            return response.content.decode(declared.group(1))
        except (UnicodeDecodeError, LookupError):
            pass
    return decode_text(response.content, "html")


def looks_garbled(data: bytes) -> bool:
    """True when the start of a body served as text is mostly control bytes (binary without NULs)."""
    head = data[:8192]
    if not head or head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 text is half NULs
        return False
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    return controls / len(head) > 0.05


def parse_html(html: str, base: str) -> tuple[str | None, list[str], set[str]]:
    """``(title, normalised links, meta-robots directives)`` of a page (already decoded text)."""
    import lxml.html

    try:
        # The text is decoded already: tell lxml so, or it would follow the page's meta charset
        # and decode the UTF-8 bytes a second time (a windows-1252 title as "CafÃ©").
        parser = lxml.html.HTMLParser(encoding="utf-8")
        tree = lxml.html.document_fromstring(html.encode("utf-8", errors="replace"), parser=parser)
    except Exception:  # lxml raises plain ParserError/ValueError on empty or odd documents
        return None, [], set()
    base_href = next(iter(tree.xpath("//base/@href")), None)
    base = normalize_url(base_href, base) or base if base_href else base
    title = " ".join("".join(tree.xpath("//title//text()")).split()) or None
    directives: set[str] = set()
    for content in tree.xpath("//meta[translate(@name,'ROBTS','robts')='robots']/@content"):
        directives.update(part.strip().lower() for part in content.split(","))
    links = []
    for anchor in tree.xpath("//a[@href]"):
        if "nofollow" in (anchor.get("rel") or "").lower():
            continue
        if (url := normalize_url(anchor.get("href"), base)) is not None:
            links.append(url)
    return title, list(dict.fromkeys(links)), directives


def parse_sitemap(data: bytes) -> tuple[list[str], list[str]]:
    """``(page URLs, child sitemap URLs)`` of a sitemap or sitemap index (gzip allowed)."""
    from lxml import etree

    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    try:
        root = etree.fromstring(data, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return [], []
    locs = [loc.text.strip() for loc in root.iter("{*}loc") if loc.text]
    if etree.QName(root).localname == "sitemapindex":
        return [], locs
    return locs, []


def drop_cut_tail(path: Path) -> None:
    """Remove a last line that a kill cut mid-write, so the next entry starts on its own line.

    Appending after a cut line would glue the next entry to it and both would be unreadable;
    the cut entry itself was never whole (its URL was not settled and is fetched again).
    """
    if not path.is_file():
        return
    with open(path, "rb+") as fh:
        size = fh.seek(0, 2)
        if size == 0:
            return
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return
        block = min(size, 1 << 20)
        while True:
            fh.seek(size - block)
            tail = fh.read(block)
            cut = tail.rfind(b"\n")
            if cut >= 0 or block == size:
                fh.truncate(size - block + cut + 1 if cut >= 0 else 0)
                return
            block = min(size, block * 2)


def iter_log(path: Path):
    """Entries of a crawl log; a line cut by a crash is ignored."""
    if path.is_file():
        yield from read_jsonl(path, skip_invalid=True)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def emit(log_path: Path, sink: Any, refresh: Any = None) -> None:
    """Turn the crawl log into documents and rejects (and, in a refresh run, note each page's
    validators for the next revisit)."""
    for entry in iter_log(log_path):
        if entry["outcome"] == "page":
            fields = {k: entry.get(k) for k in ("url", "final_url", "status", "content_type", "fetched_at",
                                                 "depth", "title")}
            document = make_document(kind="crawl", uri=entry["final_url"], content_type="text/html",
                                     fields=fields, html=entry["html"], collected_at=entry["fetched_at"],
                                     meta={"url": entry["final_url"], "title": entry.get("title")})
            if refresh is not None:
                refresh.note_page(entry["url"], {**entry, "id": document["id"]})
            sink.keep(document)
        elif entry["outcome"] == "unchanged":
            previous = entry.get("previous") or {}
            if refresh is not None:
                refresh.note_page(entry["url"], previous)
            sink.reject("unchanged", f"HTTP 304 Not Modified: unchanged since v{previous.get('version')}",
                        uri=entry["url"], value=previous.get("id"))
        else:
            record = {k: entry.get(k) for k in ("url", "final_url", "status", "content_type", "depth")
                      if entry.get(k) is not None}
            sink.reject(entry["reason"], entry["detail"], uri=entry["url"], record=record)


def crawl(config: Any, run: Any) -> dict[str, Any]:
    """Run (or resume) a crawl, then write its outcome to ``run.sink``; return crawl figures."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    crawler = Crawler(config, run.work_dir, run.console, refresh=getattr(run, "refresh", None))
    started = time.perf_counter()
    columns = (TextColumn("[bold]crawl[/bold] pages"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    if crawler.finished():  # nothing to fetch again: replay the log for its figures
        crawler.load_log()
    else:
        with Progress(*columns, console=run.console, transient=True) as progress:
            asyncio.run(crawler.run(progress))
        crawler.mark_finished()
    seconds = time.perf_counter() - started
    emit(crawler.log_path, run.sink, crawler.refresh)
    pages = run.sink.kept
    return {**crawler.stats, "fetched": crawler.fetched, "pages": pages, "seconds": round(seconds, 3),
            "pages_per_s": round(crawler.fetched / seconds, 2) if seconds > 0 else None}
