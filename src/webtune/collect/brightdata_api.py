"""The Bright Data API calls behind the ``brightdata`` and ``brightdata-marketplace`` sources.

Resume state (``brightdata.json`` in the source's work directory) records the request and
its snapshot id the moment the API answers. The request key is what was asked for (dataset,
inputs, parameters), never where it was sent: a rerun of the same request, through another
base URL (a proxy) too, polls that snapshot again and never pays a second time. The state
outlives publishing (`SourceRun.keep`), so a forced rerun reuses the snapshot (and says so);
only ``recollect`` starts a new paid collection, after printing what it will cost.

How the data comes back, by configuration:
* polling ``GET /datasets/v3/progress/{id}``, then ``GET /datasets/v3/snapshot/{id}`` (default);
* ``webhook``: a small receiver on this machine (`webtune.collect.brightdata_webhook`) is
  passed as ``notify`` (and ``endpoint`` for the data itself); a notification ends the wait,
  no notification within ``timeout_s`` falls back to polling;
* ``deliver``: ``POST /datasets/v3/deliver/{id}`` to storage, then the files are read back
  with fsspec (`webtune.collect.brightdata_storage`);
* ``scrape``: ``POST /datasets/v3/scrape`` answers the data at once for up to 20 inputs; its
  202 (still running) carries a snapshot id, collected as above.

Every call, poll and download runs under one `webtune.retry.RetryPolicy`: transient failures
are retried (Retry-After honoured), "not ready yet" (a progress status other than ready, or
the snapshot's 202, whose "try again in 10s" hint is used) waits and asks again, and nothing
waits past ``max_wait_s`` from the start. Secrets (the webhook's auth header) are masked in
every message.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any, Callable

import httpx
from rich.console import Console

from webtune.collect.documents import make_document
from webtune.retry import GaveUp, RetryableStatus, RetryLater, RetryPolicy, check_status, describe, is_transient
from webtune.errors import ConfigError, InputError, StageError
from webtune.jsonl import atomic_path, atomic_write_json
from webtune.records import content_id, utc_now

STATE_FILE = "brightdata.json"
READ_FORMAT = {"json": "json", "ndjson": "jsonl", "jsonl": "jsonl", "csv": "csv"}
DEFAULT_MAX_SINGLE_WAIT_S = 60.0
SCRAPE_MAX_INPUTS = 20  # the documented limit of the synchronous /scrape endpoint
# Sent but unanswered: the trigger may have started (and billed) a collection.
UNSAFE_FOR_TRIGGER = (httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.ReadError)
SAFE_FOR_TRIGGER = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, RetryableStatus)
# The input field each documented discovery method reads (others are passed on unchecked).
DISCOVERY_INPUT = {"keyword": "keyword", "category_url": "url", "best_sellers_url": "category_url"}


class BrightDataJob:
    """One Web Scraper API collection's life: trigger (or scrape, or resume), wait, fetch, read."""

    kind = "brightdata"

    def __init__(self, config: Any, token: str, work_dir: Path, console: Console):
        self.config = config
        self.work_dir = Path(work_dir)
        self.console = console
        self.base = config.base_url.rstrip("/")
        self.triggered = False
        self.reused = False
        self.keep: list[str] = [STATE_FILE]
        self.secrets: list[str] = []
        self.receiver: Any = None
        self.started = time.monotonic()
        self.policy = RetryPolicy(max_attempts=config.max_attempts, initial_wait_s=config.retry_base_s,
                                  max_backoff_s=config.retry_max_s,
                                  max_wait_s=max(DEFAULT_MAX_SINGLE_WAIT_S, config.poll_interval_s),
                                  max_total_s=config.max_wait_s, deadline=self.started + config.max_wait_s)
        self.client = httpx.Client(base_url=self.base, timeout=config.request_timeout_s,
                                   headers={"Authorization": f"Bearer {token}",
                                            "User-Agent": "webtune-collect"})
        self._inputs: list[dict[str, Any]] | None = None

    # ------------------------------------------------------------ state

    @property
    def state_path(self) -> Path:
        return self.work_dir / STATE_FILE

    def inputs(self) -> list[dict[str, Any]]:
        """The collection's inputs (from the config or its inputs file), checked for discovery."""
        if self._inputs is None:
            c = self.config
            inputs = c.inputs if c.inputs is not None else load_inputs(Path(c.inputs_file))
            check_discovery_inputs(inputs, c.discover_by, str(c.inputs_file or "inputs"))
            self._inputs = inputs
        return self._inputs

    def request(self) -> dict[str, Any]:
        """What was asked for: the dataset, the inputs and every parameter that changes the data.

        Not the base URL, the waits, the download format or how the data comes back (webhook,
        delivery, /scrape): the same request through another route is the same collection.
        """
        c = self.config
        return {"dataset_id": c.dataset_id, "inputs": self.inputs(), "discover_by": c.discover_by,
                "limit_per_input": c.limit_per_input, "limit_multiple_results": c.limit_multiple_results,
                "include_errors": c.include_errors, "custom_output_fields": c.custom_output_fields}

    def request_key(self) -> str:
        """What identifies a collection request: same key, same snapshot."""
        if self.config.snapshot_id:
            return content_id({"dataset_id": self.config.dataset_id, "snapshot_id": self.config.snapshot_id})
        return content_id(self.request())

    def load_state(self) -> dict[str, Any] | None:
        if not self.state_path.is_file():
            return None
        try:
            return json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise StageError(f"{self.state_path}: unreadable resume state; delete it to trigger anew") from None

    def save_state(self, **changes: Any) -> None:
        state = {**(self.load_state() or {}), **changes}
        atomic_write_json(self.state_path, state)

    def _set_aside(self, state: dict[str, Any]) -> None:
        """Keep an earlier request's state for the record, under its snapshot id."""
        name = state.get("snapshot_id") or state.get("request_key", "old")
        atomic_write_json(self.work_dir / f"brightdata-{name}.json", state)
        self.state_path.unlink(missing_ok=True)

    # ------------------------------------------------------------ calls

    def mask(self, text: str) -> str:
        """``text`` with every secret of this job (as written, and as a URL spells it) replaced by ``***``."""
        from urllib.parse import quote, quote_plus

        for secret in self.secrets:
            for form in (secret, quote_plus(secret), quote(secret, safe="")):
                text = text.replace(form, "***")
        return text

    def _call(self, method: str, url: str, *, retry_if: Any = is_transient, **kwargs: Any) -> httpx.Response:
        """One API call with retries; 401/403 and other 4xx fail at once with a clear message.

        A transport error ``retry_if`` refuses is raised as it is (the trigger's unanswered request).
        """
        def attempt() -> httpx.Response:
            return check_status(self.client.request(method, url, **kwargs))

        def note(exc: BaseException, sleep: float) -> None:
            self.console.print(self.mask(f"[yellow]brightdata[/yellow]: {method} {url}: {describe(exc)}; "
                                         f"retrying in {sleep:.1f}s"))

        try:
            response = self.policy.call(attempt, what="Bright Data API", retry_if=retry_if, on_retry=note)
        except GaveUp as exc:
            raise self._gave_up(exc) from None
        return self._check_client_error(response, method, url)

    def _gave_up(self, exc: GaveUp) -> StageError:
        """The one-line error of retries that ran out, with how to resume."""
        if exc.out_of_time:
            return StageError(self.mask(self._out_of_time(f"{exc.what}: {describe(exc.last)}")))
        return StageError(self.mask(f"{exc} {self._resume_hint()}"))

    def _check_client_error(self, response: httpx.Response, method: str, url: str) -> httpx.Response:
        if response.status_code in (401, 403):
            raise ConfigError(f"Bright Data API refused the token (HTTP {response.status_code}) on "
                              f"{method} {url}: check BRIGHTDATA_API_TOKEN and its permissions")
        if response.status_code >= 400:
            expired = (" The snapshot may have expired on Bright Data's side: --recollect (recollect: true) "
                       "starts a new paid collection.") if self.reused and response.status_code in (404, 410) else ""
            raise StageError(self.mask(f"Bright Data API: {method} {url}: HTTP {response.status_code}: "
                                       f"{_body_text(response)}") + expired)
        return response

    def _resume_hint(self) -> str:
        state = self.load_state() or {}
        if state.get("snapshot_id"):
            return (f"The snapshot id {state['snapshot_id']} is saved in {self.state_path}: run the same "
                    "command again to resume it without triggering a new collection.")
        return "Nothing was triggered yet; run the same command again to retry."

    def _out_of_time(self, what: str) -> str:
        return (f"Bright Data: {what}; gave up after the maximum wait of {self.config.max_wait_s:g}s "
                f"(max_wait_s). {self._resume_hint()}")

    # ------------------------------------------------------------ the whole flow

    def fetch(self) -> tuple[str | None, list[Path]]:
        """The snapshot id (None for data /scrape answered at once) and the files holding its data."""
        snapshot_id, scraped = self.snapshot_id()
        if scraped is not None:
            return None, [scraped]
        path = self.downloaded_copy(snapshot_id)
        if path is not None:
            return snapshot_id, [path]
        if self.receiver is not None:
            pushed = self.wait_for_webhook(snapshot_id)
            if pushed is not None:
                return snapshot_id, [pushed]
        else:
            self.wait_until_ready(snapshot_id)
        if self.config.deliver is not None:
            return snapshot_id, self.deliver(snapshot_id)
        return snapshot_id, [self.download(snapshot_id)]

    def snapshot_id(self) -> tuple[str, Path | None]:
        """The snapshot to collect (configured, saved or new), or the file /scrape answered."""
        key = self.request_key()
        if self.config.snapshot_id:
            state = self.load_state()
            if not (state and state.get("request_key") == key):
                self.save_state(request_key=key, snapshot_id=self.config.snapshot_id,
                                dataset_id=self.config.dataset_id, triggered_at=None)
            return self.config.snapshot_id, None
        state = self.load_state()
        if state and state.get("request_key") == key and (state.get("snapshot_id") or state.get("scraped")):
            if state.get("status") != "collected" and state.get("scraped"):
                self.console.print(f"[bold]brightdata[/bold]: reading the /scrape answer saved {state.get('triggered_at')}; "
                                   "not scraping again")
                return None, self._saved_scrape(state)
            if state.get("status") != "collected":
                self.console.print(f"[bold]brightdata[/bold]: resuming snapshot {state.get('snapshot_id')} "
                                   f"(triggered {state.get('triggered_at')}); not triggering again")
                return state["snapshot_id"], None
            if not self.config.recollect:
                return self._reuse(state)
            self.console.print(f"[bold]brightdata[/bold]: --recollect: replacing snapshot "
                               f"{state.get('snapshot_id') or '(scraped)'} by a new paid collection")
        if state:
            self._set_aside(state)
        return self.start(key)

    def _reuse(self, state: dict[str, Any]) -> tuple[str, Path | None]:
        """A forced rerun of a collected request: the same snapshot again, said in one line."""
        self.reused = True
        what = f"snapshot {state['snapshot_id']}" if state.get("snapshot_id") else "the /scrape answer"
        self.console.print(f"[bold]brightdata[/bold]: reusing {what} collected {state.get('collected_at')} "
                           "(no new paid collection; --recollect starts one)")
        return state.get("snapshot_id"), self._saved_scrape(state) if state.get("scraped") else None

    def _saved_scrape(self, state: dict[str, Any]) -> Path:
        """The /scrape answer an earlier run saved (kept past publishing)."""
        scraped = self.work_dir / state["scraped"]
        self.keep.append(scraped.name)
        if not scraped.is_file():
            raise StageError(f"Bright Data: the /scrape answer {scraped} is gone; run with --recollect "
                             "to collect again (a new paid collection)")
        return scraped

    def start(self, key: str) -> tuple[str, Path | None]:
        """A new paid collection: the cost line, then /scrape (small URL lists) or a trigger."""
        self.console.print(f"[bold]brightdata[/bold]: {self.cost_line()}")
        if self.config.scrape:
            if self._can_scrape():
                return self.scrape(key)
            self.console.print(f"[bold]brightdata[/bold]: scrape: {self._why_not_scrape()}; triggering instead")
        return self.trigger(key), None

    # ------------------------------------------------------------ cost

    def estimated_records(self) -> int | None:
        """Records the collection will bring at most: one per input, or inputs x limit_per_input."""
        c = self.config
        n = len(self.inputs())
        if c.discover_by:
            if not c.limit_per_input:
                return c.limit_multiple_results
            n *= c.limit_per_input
        return min(n, c.limit_multiple_results) if c.limit_multiple_results else n

    def cost_line(self) -> str:
        """What a new collection will cost, as far as the inputs and limits tell."""
        records, price = self.estimated_records(), self.config.price_per_1k
        if records is None:
            return (f"a discovery collection of {len(self.inputs())} inputs with no limit_per_input: its cost "
                    f"cannot be estimated (${price:g} per 1000 records); set limit_per_input to bound it")
        return (f"new collection of up to {records} records ≈ ${records * price / 1000:.2f} "
                f"(at ${price:g} per 1000 records, price_per_1k)")

    # ------------------------------------------------------------ trigger and /scrape

    def params(self) -> dict[str, Any]:
        """The query parameters of a trigger (or /scrape): the request as the API spells it."""
        c = self.config
        params: dict[str, Any] = {"dataset_id": c.dataset_id, "include_errors": str(c.include_errors).lower()}
        if c.discover_by:
            params.update(type="discover_new", discover_by=c.discover_by)
        if c.limit_per_input:
            params["limit_per_input"] = c.limit_per_input
        if c.limit_multiple_results:
            params["limit_multiple_results"] = c.limit_multiple_results
        if c.custom_output_fields:
            params["custom_output_fields"] = "|".join(c.custom_output_fields)
        return params

    def trigger(self, key: str) -> str:
        """POST /datasets/v3/trigger and save the snapshot id at once."""
        c = self.config
        inputs = self.inputs()
        params = {**self.params(), **self._webhook_params()}
        try:
            response = self._call("POST", "/datasets/v3/trigger", params=params, json=inputs,
                                  retry_if=lambda exc: isinstance(exc, SAFE_FOR_TRIGGER))
        except httpx.TransportError as exc:  # not retried: UNSAFE_FOR_TRIGGER and the like
            self.close_receiver()
            raise StageError(
                f"Bright Data: the trigger request was sent but not answered ({describe(exc)}): a collection "
                f"may have started and been billed. Look for it with GET {self.base}/datasets/v3/snapshots"
                f"?dataset_id={c.dataset_id} and collect it with --snapshot-id (snapshot_id:) instead of "
                "triggering again.") from None
        except BaseException:
            self.close_receiver()
            raise
        snapshot_id = _json(response, "trigger").get("snapshot_id")
        if not isinstance(snapshot_id, str) or not snapshot_id:
            raise StageError(f"Bright Data trigger answered without a snapshot_id: {_body_text(response)}")
        self.save_state(request_key=key, snapshot_id=snapshot_id, dataset_id=c.dataset_id,
                        triggered_at=utc_now(), inputs=len(inputs), status="triggered")
        self.triggered = True
        self.console.print(f"[bold]brightdata[/bold]: triggered snapshot {snapshot_id} "
                           f"({len(inputs)} inputs; id saved to {self.state_path})")
        return snapshot_id

    def _why_not_scrape(self) -> str | None:
        c = self.config
        if len(self.inputs()) > SCRAPE_MAX_INPUTS:
            return f"{len(self.inputs())} inputs is more than the {SCRAPE_MAX_INPUTS} /scrape takes"
        if c.discover_by:
            return "/scrape does no discovery"
        if c.webhook is not None or c.deliver is not None:
            return "/scrape delivers to no webhook or storage"
        return None

    def _can_scrape(self) -> bool:
        return self._why_not_scrape() is None

    def scrape(self, key: str) -> tuple[str, Path | None]:
        """POST /datasets/v3/scrape: the data in the answer, or (202) a snapshot id to collect as usual."""
        fmt = self.config.format
        params = {**self.params(), "format": "ndjson" if fmt == "jsonl" else fmt}
        response = self._call("POST", "/datasets/v3/scrape", params=params, json={"input": self.inputs()})
        self.triggered = True
        if response.status_code == 202:
            snapshot_id = _json(response, "scrape").get("snapshot_id")
            if not isinstance(snapshot_id, str) or not snapshot_id:
                raise StageError(f"Bright Data /scrape answered 202 without a snapshot_id: {_body_text(response)}")
            self.save_state(request_key=key, snapshot_id=snapshot_id, dataset_id=self.config.dataset_id,
                            triggered_at=utc_now(), inputs=len(self.inputs()), status="triggered", via="scrape")
            self.console.print(f"[bold]brightdata[/bold]: /scrape is still running: collecting snapshot "
                               f"{snapshot_id} by polling (id saved to {self.state_path})")
            return snapshot_id, None
        path = self.work_dir / f"scrape-{key}.{fmt}"
        with atomic_path(path) as part:
            part.write_bytes(response.content)
        self.keep.append(path.name)
        self.save_state(request_key=key, snapshot_id=None, scraped=path.name, dataset_id=self.config.dataset_id,
                        triggered_at=utc_now(), inputs=len(self.inputs()), status="scraped")
        self.console.print(f"[bold]brightdata[/bold]: /scrape answered {len(response.content)} bytes "
                           f"for {len(self.inputs())} inputs")
        return None, path

    # ------------------------------------------------------------ webhooks

    def _webhook_params(self) -> dict[str, Any]:
        """``notify`` / ``endpoint`` (+ format, uncompressed) / ``auth_header`` of the receiver."""
        hook = self.config.webhook
        if hook is None:
            return {}
        from webtune.collect.brightdata_webhook import WebhookReceiver, auth_header_from_env

        auth = auth_header_from_env(hook.auth_header_env)
        if auth:
            self.secrets.append(auth)
        self.receiver = WebhookReceiver(listen=hook.listen, public_url=hook.public_url, work_dir=self.work_dir,
                                        expected_auth=auth, fmt=self.config.format, console=self.console).start()
        params: dict[str, Any] = {}
        if hook.notify:
            params["notify"] = self.receiver.notify_url
        if hook.receive_data:
            fmt = self.config.format
            params.update(endpoint=self.receiver.deliver_url, format="ndjson" if fmt == "jsonl" else fmt,
                          uncompressed_webhook="true")
        if auth:
            params["auth_header"] = auth
        self.console.print(f"[bold]brightdata[/bold]: webhook receiver at {self.receiver.public_base} "
                           f"(waiting up to {hook.timeout_s:g}s, then polling)")
        return params

    def wait_for_webhook(self, snapshot_id: str) -> Path | None:
        """Wait for the notification (or the pushed data); None when the data is still to download.

        No word within ``timeout_s`` (or only calls without the expected auth header) falls back
        to polling; a "failed" notification stops like a failed poll.
        """
        hook = self.config.webhook
        try:
            event = self.receiver.wait(timeout_s=min(hook.timeout_s, self._time_left()), want_data=hook.receive_data)
        finally:
            self.close_receiver()
        if event is None or event.status not in ("ready", "failed"):
            said = f"the notification said {event.status!r}" if event else f"no webhook call within {hook.timeout_s:g}s"
            self.console.print(f"[yellow]brightdata[/yellow]: snapshot {snapshot_id}: {said}; polling instead")
            self.wait_until_ready(snapshot_id)
            return None
        if event.status == "failed":
            self._failed(snapshot_id, {"error": "the webhook notification said the collection failed"})
        if event.data is None:  # notified: ready to download, no polling needed
            self.save_state(status="ready", notified=True)
            return None
        gz = ".gz" if event.data.suffix == ".gz" else ""
        final = self.work_dir / f"snapshot-{snapshot_id}.{self.config.format}{gz}"
        event.data.replace(final)
        self.save_state(status="ready", downloaded=final.name, via="webhook")
        self.console.print(f"[bold]brightdata[/bold]: snapshot {snapshot_id} arrived at the webhook receiver")
        return final

    def close_receiver(self) -> None:
        if self.receiver is not None:
            self.receiver.close()

    def _time_left(self) -> float:
        return max(0.0, self.config.max_wait_s - (time.monotonic() - self.started))

    # ------------------------------------------------------------ polling and downloading

    def progress_url(self, snapshot_id: str) -> str:
        return f"/datasets/v3/progress/{snapshot_id}"

    def download_url(self, snapshot_id: str) -> str:
        return f"/datasets/v3/snapshot/{snapshot_id}"

    def wait_until_ready(self, snapshot_id: str) -> None:
        """Poll the progress until ready; failed or out of time stops the stage."""
        with self.console.status(f"brightdata: waiting for snapshot {snapshot_id}") as spinner:
            def poll() -> None:
                body = _json(self._call("GET", self.progress_url(snapshot_id)), "progress")
                status = str(body.get("status", "")).lower()
                waited = time.monotonic() - self.started
                spinner.update(f"brightdata: snapshot {snapshot_id} is {status or '?'} ({waited:.0f}s)")
                if status == "failed":
                    self._failed(snapshot_id, body)
                if status != "ready":
                    raise RetryLater(self.config.poll_interval_s,
                                     f"snapshot {snapshot_id} is still {status or 'not ready'}")

            self._until_ready(poll)
        self.save_state(status="ready")

    def _until_ready(self, fn: Callable[[], Any], retry_if: Any = None) -> Any:
        """``fn()`` again while it raises `RetryLater` (and what ``retry_if`` accepts), up to max_wait_s."""
        def again(exc: BaseException) -> bool:
            return isinstance(exc, RetryLater) or bool(retry_if and retry_if(exc))

        try:
            return self.policy.call(fn, what="Bright Data", retry_if=again, on_retry=self._note_break)
        except GaveUp as exc:
            if isinstance(exc.last, RetryLater):
                raise StageError(self.mask(self._out_of_time(describe(exc.last)))) from None
            raise self._gave_up(exc) from None

    def _note_break(self, exc: BaseException, sleep: float) -> None:
        if not isinstance(exc, RetryLater):
            self.console.print(self.mask(f"[yellow]brightdata[/yellow]: {describe(exc)}; "
                                         f"trying again in {sleep:.1f}s"))

    def _failed(self, snapshot_id: str, body: dict[str, Any]) -> None:
        detail = body.get("error") or body.get("message") or body.get("error_message") or "no reason given"
        # A failed snapshot holds no data: the next run may trigger a new one.
        failed = self.load_state() or {}
        atomic_write_json(self.work_dir / f"brightdata-{snapshot_id}-failed.json", {**failed, "status": "failed"})
        if failed.get("snapshot_id") == snapshot_id:
            self.state_path.unlink(missing_ok=True)
        raise StageError(f"Bright Data snapshot {snapshot_id} failed: {detail}. Running again "
                         "triggers a new collection.")

    def download(self, snapshot_id: str) -> Path:
        """GET the snapshot, streamed to the work directory; 202 means not built yet."""
        fmt = self.config.format
        final = self.work_dir / f"snapshot-{snapshot_id}.{fmt}"
        state = self.load_state() or {}
        if final.is_file() and state.get("downloaded") == final.name:
            return final
        part = final.with_name(final.name + ".part")
        url = self.download_url(snapshot_id)

        def broken(exc: BaseException) -> bool:  # a body cut short is downloaded again, from the start
            return isinstance(exc, (_ShortBody, httpx.TransportError)) or is_transient(exc)

        self._until_ready(lambda: self._stream_to(url, {"format": fmt}, part, snapshot_id), retry_if=broken)
        part.replace(final)
        self.save_state(downloaded=final.name)
        return final

    def _stream_to(self, url: str, params: dict[str, Any], part: Path, snapshot_id: str) -> None:
        """Stream one download attempt to ``part``; 202 (still being built) raises `RetryLater`."""
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

        response = self.client.send(self.client.build_request("GET", url, params=params), stream=True)
        try:
            if response.status_code == 429 or response.status_code >= 500:
                response.read()
                raise RetryableStatus(response)
            if response.status_code == 202:
                response.read()
                message = _json_or_text(response)
                raise RetryLater(try_again_in_s(message) or self.config.poll_interval_s,
                                 f"snapshot {snapshot_id} is still being built ({message})", response)
            if response.status_code != 200:
                response.read()
                self._check_client_error(response, "GET", url)
                raise StageError(f"Bright Data API: GET {url}: unexpected HTTP {response.status_code}")
            expected = int(response.headers.get("Content-Length") or 0) or None
            written = 0
            columns = (TextColumn(f"brightdata: downloading {snapshot_id}"), BarColumn(), DownloadColumn(),
                       TransferSpeedColumn())
            with Progress(*columns, console=self.console, transient=True) as progress, open(part, "wb") as out:
                task = progress.add_task("", total=expected)
                for block in response.iter_raw(1 << 20) if _identity(response) else response.iter_bytes(1 << 20):
                    out.write(block)
                    written += len(block)
                    progress.update(task, completed=written)
            if expected is not None and _identity(response) and written != expected:
                raise _ShortBody(f"the download of snapshot {snapshot_id} broke off: got {written} of {expected} bytes")
        finally:
            response.close()

    # ------------------------------------------------------------ delivery to storage

    def deliver(self, snapshot_id: str) -> list[Path]:
        """POST /datasets/v3/deliver/{id} to storage (once: the delivery id is saved), wait, read back."""
        from webtune.collect import brightdata_storage as storage

        d = self.config.deliver
        state = self.load_state() or {}
        delivery_id = state.get("delivery_id") if state.get("delivered_snapshot") == snapshot_id else None
        if delivery_id is None:
            body = storage.deliver_body(d, snapshot_id, self.config.format)
            self.secrets += [v for v in (body["deliver"].get("credentials") or {}).values() if isinstance(v, str)]
            answer = _json(self._call("POST", f"/datasets/v3/deliver/{snapshot_id}", json=body), "deliver")
            delivery_id = answer.get("delivery_id") or answer.get("id")
            if not delivery_id:
                raise StageError(f"Bright Data deliver answered without a delivery_id: {answer}")
            self.save_state(delivery_id=delivery_id, delivered_snapshot=snapshot_id)
            self.console.print(f"[bold]brightdata[/bold]: delivering snapshot {snapshot_id} to {d.url} "
                               f"(delivery {delivery_id})")

        def poll() -> None:
            body = _json(self._call("GET", f"/datasets/v3/delivery/{delivery_id}"), "delivery")
            status = str(body.get("status", "")).lower()
            if status == "failed":
                raise StageError(f"Bright Data delivery {delivery_id} of snapshot {snapshot_id} to {d.url} "
                                 f"failed: {body.get('error') or body.get('message') or 'no reason given'}")
            if status not in ("done", "ready", "delivered"):
                raise RetryLater(self.config.poll_interval_s, f"delivery {delivery_id} is still {status or 'running'}")

        self._until_ready(poll)
        paths = storage.fetch_delivered(d, snapshot_id, self.work_dir, self.console)
        self.save_state(status="delivered", delivered_files=[p.name for p in paths])
        return paths

    # ------------------------------------------------------------ reading

    def source_uri(self, snapshot_id: str | None) -> str:
        if snapshot_id is None:
            return f"{self.base}/datasets/v3/scrape?dataset_id={self.config.dataset_id}"
        return f"{self.base}{self.download_url(snapshot_id)}"

    def read_into(self, paths: list[Path], snapshot_id: str | None, sink: Any) -> dict[str, Any]:
        """Read the snapshot's files: records to documents, API error records to rejects.

        CSV records are typed first (`type_csv_record`), so they match the NDJSON records.
        """
        from webtune.collect.readers import read_items

        uri = self.source_uri(snapshot_id)
        mapping = dict(self.config.fields)
        fmt = self.config.format
        api_errors = 0
        for path in paths:
            try:
                for item in read_items(path, READ_FORMAT[fmt], _compression(path), {}):
                    record = type_csv_record(item.record) if fmt == "csv" and item.record else compact(item.record)
                    if item.problem:
                        sink.reject(item.problem, item.detail, uri=uri, line=item.line, offset=item.offset,
                                    record=item.raw)
                    elif (error := api_error(record)) is not None:
                        api_errors += 1
                        sink.reject("brightdata_error", f"Bright Data error: {error}", uri=uri, line=item.line,
                                    offset=item.offset, record=record,
                                    value=record.get("error_code") if record else None)
                    else:
                        sink.keep(make_document(kind=self.kind, uri=uri, line=item.line, offset=item.offset,
                                                fields=record, mapping=mapping))
            except InputError as exc:
                raise StageError(f"Bright Data snapshot {snapshot_id} ({path}) is not valid {fmt}: {exc}") from None
        return {"bytes": sum(p.stat().st_size for p in paths), "api_errors": api_errors, "format": fmt}

    def downloaded_copy(self, snapshot_id: str) -> Path | None:
        """The snapshot already downloaded by an earlier attempt of this stage, if any."""
        name = (self.load_state() or {}).get("downloaded")
        if not name or not name.startswith(f"snapshot-{snapshot_id}."):
            return None
        return self.work_dir / name if (self.work_dir / name).is_file() else None

    def finish(self) -> None:
        """Mark the request collected. The state outlives publishing (``keep``): a forced rerun
        reuses the snapshot; the downloaded copy stays until the stage publishes."""
        self.save_state(status="collected", collected_at=utc_now())
        self.client.close()


class MarketplaceJob(BrightDataJob):
    """A Marketplace dataset snapshot by filter: estimate, buy (only with ``yes``), wait, download."""

    kind = "brightdata-marketplace"

    def inputs(self) -> list[dict[str, Any]]:
        return []

    def request(self) -> dict[str, Any]:
        c = self.config
        return {"marketplace": c.dataset_id, "filter": c.filter, "records_limit": c.records_limit}

    def params(self) -> dict[str, Any]:
        return {}

    def progress_url(self, snapshot_id: str) -> str:
        return f"/datasets/snapshots/{snapshot_id}"

    def download_url(self, snapshot_id: str) -> str:
        return f"/datasets/snapshots/{snapshot_id}/download"

    def fetch(self) -> tuple[str | None, list[Path]]:
        snapshot_id, _ = self.snapshot_id()
        path = self.downloaded_copy(snapshot_id)
        if path is None:
            self.wait_until_ready(snapshot_id)
            path = self.download(snapshot_id)
        return snapshot_id, [path]

    def estimate(self) -> tuple[int | None, str]:
        """Records the filter will buy, and where the number comes from (free: no record is returned).

        ``POST /datasets/search/{dataset_id}`` with ``size: 0`` counts the matches where the
        dataset is searchable; ``records_limit`` caps them (or is the only bound there is).
        """
        c = self.config
        matches, where = None, "records_limit"
        try:
            response = self.client.post(f"/datasets/search/{c.dataset_id}", json={"filter": c.filter, "size": 0})
            if response.status_code == 200:
                total = response.json().get("total_hits")
                if isinstance(total, int):
                    matches, where = total, "matches counted by the search endpoint"
            elif response.status_code in (401, 403):
                self._check_client_error(response, "POST", f"/datasets/search/{c.dataset_id}")
        except (httpx.HTTPError, ValueError):
            pass
        if matches is None:
            return c.records_limit, where
        if c.records_limit is not None and c.records_limit < matches:
            return c.records_limit, f"{matches} {where}, capped by records_limit"
        return matches, where

    def cost_line(self) -> str:
        records, where = self.estimate()
        price = self.config.price_per_1k
        if records is None:
            raise ConfigError(f"{self.kind}: the dataset {self.config.dataset_id} cannot count the filter's "
                              "matches; set records_limit to bound what the snapshot buys")
        return (f"Marketplace snapshot of {self.config.dataset_id}: about {records} records ({where}) "
                f"≈ ${records * price / 1000:.2f} at ${price:g} per 1000 records")

    def start(self, key: str) -> tuple[str, Path | None]:
        """POST /datasets/filter, only with ``yes``; the snapshot id is saved at once."""
        c = self.config
        line = self.cost_line()
        if not c.yes:
            raise StageError(f"{line}; nothing bought: run again with --yes (yes: true) to buy it")
        self.console.print(f"[bold]brightdata[/bold]: buying {line}")
        body: dict[str, Any] = {"dataset_id": c.dataset_id, "filter": c.filter}
        if c.records_limit is not None:
            body["records_limit"] = c.records_limit
        try:
            response = self._call("POST", "/datasets/filter", json=body,
                                  retry_if=lambda exc: isinstance(exc, SAFE_FOR_TRIGGER))
        except httpx.TransportError as exc:
            raise StageError(f"Bright Data: the filter request was sent but not answered ({describe(exc)}): a "
                             f"snapshot may have been created and billed; look for it with GET {self.base}"
                             f"/datasets/snapshots?dataset_id={c.dataset_id}") from None
        snapshot_id = _json(response, "filter").get("snapshot_id")
        if not isinstance(snapshot_id, str) or not snapshot_id:
            raise StageError(f"Bright Data filter answered without a snapshot_id: {_body_text(response)}")
        self.save_state(request_key=key, snapshot_id=snapshot_id, dataset_id=c.dataset_id,
                        triggered_at=utc_now(), status="triggered")
        self.triggered = True
        return snapshot_id, None


def check_discovery_inputs(inputs: list[dict[str, Any]], discover_by: str | None, where: str) -> None:
    """Each input of a documented discovery method has the field that method reads."""
    needed = DISCOVERY_INPUT.get(discover_by or "")
    if needed is None:
        return
    for index, item in enumerate(inputs):
        if not isinstance(item, dict) or needed not in item:
            got = ", ".join(item) if isinstance(item, dict) else type(item).__name__
            raise ConfigError(f"{where}[{index}]: discover_by {discover_by} takes inputs with a {needed!r} "
                              f"field (got {got or 'nothing'})")


def type_csv_record(record: dict[str, Any]) -> dict[str, Any]:
    """A CSV snapshot row typed as the same record in NDJSON: numbers, booleans, JSON lists and
    objects from their text; then `compact`, as every record is."""
    return compact({name: csv_value(value) for name, value in record.items()})


def compact(record: dict[str, Any] | None) -> dict[str, Any] | None:
    """A record without its null and empty-text top-level fields.

    A CSV cell cannot tell null from absent (every row has every column, an error record's
    ``error``/``input`` columns included), so in every format such a field is left out: the
    same product gets the same fields, and so the same id, from CSV, JSON and NDJSON.
    """
    if not isinstance(record, dict):
        return record
    return {k: v for k, v in record.items() if v is not None and v != ""}


_NUMBER = re.compile(r"-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?")


def csv_value(value: Any) -> Any:
    """One CSV cell as JSON would hold it ("12" stays text only with a leading zero: "012")."""
    if not isinstance(value, str):
        return value
    if value == "":
        return None
    if value in ("true", "false"):
        return value == "true"
    if _NUMBER.fullmatch(value):
        number = float(value)
        return int(value) if re.fullmatch(r"-?\d+", value) else number
    if value[0] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _compression(path: Path) -> str | None:
    from webtune.collect.readers import detect_format

    return detect_format(path)[1]


class _ShortBody(Exception):
    """The body ended before Content-Length bytes arrived."""


def try_again_in_s(message: str) -> float | None:
    """Seconds in Bright Data's 202 hint ("Snapshot is building, try again in 10s"), else None."""
    found = re.search(r"try again in\s+(\d+(?:\.\d+)?)\s*([a-z]*)", message, re.IGNORECASE)
    if not found:
        return None
    unit = found.group(2).lower()
    scale = 0.001 if unit in ("ms", "millisecond", "milliseconds") else (
        60.0 if unit in ("m", "min", "mins", "minute", "minutes") else 1.0)
    return float(found.group(1)) * scale


def _identity(response: httpx.Response) -> bool:
    return response.headers.get("Content-Encoding", "identity").lower() in ("", "identity")


def api_error(record: dict[str, Any] | None) -> str | None:
    """The error text of a record the API returned as an error (``include_errors``), else None."""
    if not record:
        return None
    error = record.get("error") or record.get("error_code")
    if not error:
        return None
    code = record.get("error_code")
    text = str(record.get("error") or code)
    return f"{text} ({code})" if code and code != text else text


def load_inputs(path: Path) -> list[dict[str, Any]]:
    """The inputs of a collection from a JSON array, JSON Lines or CSV file."""
    from webtune.collect.readers import detect_format, read_items

    fmt, compression = detect_format(path)
    if fmt not in ("json", "jsonl", "csv", "tsv"):
        raise ConfigError(f"{path}: inputs must be a .json, .jsonl or .csv file")
    if not path.is_file():
        raise ConfigError(f"{path}: inputs file not found")
    inputs = []
    for item in read_items(path, fmt, compression, {}):
        if item.problem:
            where = f"{path}:{item.line}" if item.line else str(path)
            raise ConfigError(f"{where}: bad input: {item.detail}")
        inputs.append(item.record)
    if not inputs:
        raise ConfigError(f"{path}: no inputs")
    return inputs


def _json(response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise StageError(f"Bright Data {what}: the answer is not JSON: {_body_text(response)}") from None
    if not isinstance(body, dict):
        raise StageError(f"Bright Data {what}: expected a JSON object, got {_body_text(response)}")
    return body


def _json_or_text(response: httpx.Response) -> str:
    try:
        body = response.json()
        if isinstance(body, dict):
            return str(body.get("message") or body.get("status") or body)
    except ValueError:
        pass
    return _body_text(response)


def _body_text(response: httpx.Response, limit: int = 300) -> str:
    try:
        text = response.text
    except Exception:  # a streamed body that was not read
        return "(no body)"
    text = " ".join(text.split())
    return text[:limit] + ("…" if len(text) > limit else "") if text else "(empty body)"
