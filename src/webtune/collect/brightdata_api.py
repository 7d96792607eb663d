"""The Bright Data Web Scraper API v3 calls behind the ``brightdata`` source.

Resume state (``brightdata.json`` in the source's work directory) records the request
and its snapshot id the moment the trigger answers; a rerun with the same request polls
that snapshot again and never triggers a second (paid) collection.

Every call, poll and download runs under one `webtune.retry.RetryPolicy`: transient failures
are retried (Retry-After honoured), "not ready yet" (a progress status other than ready, or
the snapshot's 202, whose "try again in 10s" hint is used) waits and asks again, and nothing
waits past ``max_wait_s`` from the start.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from webtune.collect.documents import make_document
from webtune.retry import GaveUp, RetryableStatus, RetryLater, RetryPolicy, check_status, describe, is_transient
from webtune.errors import ConfigError, InputError, StageError
from webtune.jsonl import atomic_write_json
from webtune.records import content_id, utc_now

STATE_FILE = "brightdata.json"
READ_FORMAT = {"json": "json", "ndjson": "jsonl", "jsonl": "jsonl", "csv": "csv"}
DEFAULT_MAX_SINGLE_WAIT_S = 60.0
# Sent but unanswered: the trigger may have started (and billed) a collection.
UNSAFE_FOR_TRIGGER = (httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.ReadError)
SAFE_FOR_TRIGGER = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, RetryableStatus)


class BrightDataJob:
    """One snapshot's life: trigger or resume, poll, download, read."""

    def __init__(self, config: Any, token: str, work_dir: Path, console: Console):
        self.config = config
        self.work_dir = Path(work_dir)
        self.console = console
        self.base = config.base_url.rstrip("/")
        self.triggered = False
        self.started = time.monotonic()
        self.policy = RetryPolicy(max_attempts=config.max_attempts, initial_wait_s=config.retry_base_s,
                                  max_backoff_s=config.retry_max_s,
                                  max_wait_s=max(DEFAULT_MAX_SINGLE_WAIT_S, config.poll_interval_s),
                                  max_total_s=config.max_wait_s, deadline=self.started + config.max_wait_s)
        self.client = httpx.Client(base_url=self.base, timeout=config.request_timeout_s,
                                   headers={"Authorization": f"Bearer {token}",
                                            "User-Agent": "webtune-collect"})

    # ------------------------------------------------------------ state

    @property
    def state_path(self) -> Path:
        return self.work_dir / STATE_FILE

    def request_key(self) -> str:
        """What identifies a collection request: same key, same snapshot."""
        c = self.config
        inputs = c.inputs if c.inputs is not None else (load_inputs(Path(c.inputs_file)) if c.inputs_file else None)
        return content_id({"base": self.base, "dataset_id": c.dataset_id, "inputs": inputs,
                           "snapshot_id": c.snapshot_id, "discover_by": c.discover_by,
                           "limit_per_input": c.limit_per_input,
                           "limit_multiple_results": c.limit_multiple_results,
                           "include_errors": c.include_errors})

    def load_state(self) -> dict[str, Any] | None:
        import json

        if not self.state_path.is_file():
            return None
        try:
            return json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise StageError(f"{self.state_path}: unreadable resume state; delete it to trigger anew") from None

    def save_state(self, **changes: Any) -> None:
        state = {**(self.load_state() or {}), **changes}
        atomic_write_json(self.state_path, state)

    # ------------------------------------------------------------ calls

    def _call(self, method: str, url: str, *, retry_if: Any = is_transient, **kwargs: Any) -> httpx.Response:
        """One API call with retries; 401/403 and other 4xx fail at once with a clear message.

        A transport error ``retry_if`` refuses is raised as it is (the trigger's unanswered request).
        """
        def attempt() -> httpx.Response:
            return check_status(self.client.request(method, url, **kwargs))

        def note(exc: BaseException, sleep: float) -> None:
            self.console.print(f"[yellow]brightdata[/yellow]: {method} {url}: {describe(exc)}; "
                               f"retrying in {sleep:.1f}s")

        try:
            response = self.policy.call(attempt, what="Bright Data API", retry_if=retry_if, on_retry=note)
        except GaveUp as exc:
            raise self._gave_up(exc) from None
        return self._check_client_error(response, method, url)

    def _gave_up(self, exc: GaveUp) -> StageError:
        """The one-line error of retries that ran out, with how to resume."""
        if exc.out_of_time:
            return StageError(self._out_of_time(f"{exc.what}: {describe(exc.last)}"))
        return StageError(f"{exc} {self._resume_hint()}")

    def _check_client_error(self, response: httpx.Response, method: str, url: str) -> httpx.Response:
        if response.status_code in (401, 403):
            raise ConfigError(f"Bright Data API refused the token (HTTP {response.status_code}) on "
                              f"{method} {url}: check BRIGHTDATA_API_TOKEN and its permissions")
        if response.status_code >= 400:
            raise StageError(f"Bright Data API: {method} {url}: HTTP {response.status_code}: "
                             f"{_body_text(response)}")
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

    # ------------------------------------------------------------ steps

    def snapshot_id(self) -> str:
        """The snapshot to collect: the configured one, the saved one, or a new trigger."""
        key = self.request_key()
        if self.config.snapshot_id:
            self.save_state(request_key=key, snapshot_id=self.config.snapshot_id,
                            dataset_id=self.config.dataset_id, triggered_at=None)
            return self.config.snapshot_id
        state = self.load_state()
        if state and state.get("snapshot_id") and state.get("request_key") == key:
            self.console.print(f"[bold]brightdata[/bold]: resuming snapshot {state['snapshot_id']} "
                               f"(triggered {state.get('triggered_at')}); not triggering again")
            return state["snapshot_id"]
        if state and state.get("snapshot_id"):
            # A different request: keep the old state for the record, then trigger anew.
            atomic_write_json(self.work_dir / f"brightdata-{state['snapshot_id']}.json", state)
            self.state_path.unlink()
        return self.trigger(key)

    def trigger(self, key: str) -> str:
        """POST /datasets/v3/trigger and save the snapshot id at once."""
        c = self.config
        inputs = c.inputs if c.inputs is not None else load_inputs(Path(c.inputs_file))
        params: dict[str, Any] = {"dataset_id": c.dataset_id, "include_errors": str(c.include_errors).lower()}
        if c.discover_by:
            params.update(type="discover_new", discover_by=c.discover_by)
        if c.limit_per_input:
            params["limit_per_input"] = c.limit_per_input
        if c.limit_multiple_results:
            params["limit_multiple_results"] = c.limit_multiple_results
        try:
            response = self._call("POST", "/datasets/v3/trigger", params=params, json=inputs,
                                  retry_if=lambda exc: isinstance(exc, SAFE_FOR_TRIGGER))
        except httpx.TransportError as exc:  # not retried: UNSAFE_FOR_TRIGGER and the like
            raise StageError(
                f"Bright Data: the trigger request was sent but not answered ({describe(exc)}): a collection "
                f"may have started and been billed. Look for it with GET {self.base}/datasets/v3/snapshots"
                f"?dataset_id={c.dataset_id} and collect it with --snapshot-id (snapshot_id:) instead of "
                "triggering again.") from None
        snapshot_id = _json(response, "trigger").get("snapshot_id")
        if not isinstance(snapshot_id, str) or not snapshot_id:
            raise StageError(f"Bright Data trigger answered without a snapshot_id: {_body_text(response)}")
        self.save_state(request_key=key, snapshot_id=snapshot_id, dataset_id=c.dataset_id,
                        triggered_at=utc_now(), inputs=len(inputs), status="triggered")
        self.triggered = True
        self.console.print(f"[bold]brightdata[/bold]: triggered snapshot {snapshot_id} "
                           f"({len(inputs)} inputs; id saved to {self.state_path})")
        return snapshot_id

    def wait_until_ready(self, snapshot_id: str) -> None:
        """Poll GET /datasets/v3/progress/{id} until ready; failed or out of time stops the stage."""
        with self.console.status(f"brightdata: waiting for snapshot {snapshot_id}") as spinner:
            def poll() -> None:
                body = _json(self._call("GET", f"/datasets/v3/progress/{snapshot_id}"), "progress")
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

    def _until_ready(self, fn: Any, retry_if: Any = None) -> Any:
        """``fn()`` again while it raises `RetryLater` (and what ``retry_if`` accepts), up to max_wait_s."""
        def again(exc: BaseException) -> bool:
            return isinstance(exc, RetryLater) or bool(retry_if and retry_if(exc))

        try:
            return self.policy.call(fn, what="Bright Data", retry_if=again, on_retry=self._note_break)
        except GaveUp as exc:
            if isinstance(exc.last, RetryLater):
                raise StageError(self._out_of_time(describe(exc.last))) from None
            raise self._gave_up(exc) from None

    def _note_break(self, exc: BaseException, sleep: float) -> None:
        if not isinstance(exc, RetryLater):
            self.console.print(f"[yellow]brightdata[/yellow]: {describe(exc)}; trying again in {sleep:.1f}s")

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
        """GET /datasets/v3/snapshot/{id} streamed to the work directory; 202 means not built yet."""
        fmt = self.config.format
        final = self.work_dir / f"snapshot-{snapshot_id}.{fmt}"
        state = self.load_state() or {}
        if final.is_file() and state.get("downloaded") == final.name:
            return final
        part = final.with_name(final.name + ".part")
        url = f"/datasets/v3/snapshot/{snapshot_id}"

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

    def read_into(self, path: Path, snapshot_id: str, sink: Any) -> dict[str, Any]:
        """Read the downloaded snapshot: records to documents, API error records to rejects."""
        from webtune.collect.readers import read_items

        uri = f"{self.base}/datasets/v3/snapshot/{snapshot_id}"
        mapping = dict(self.config.fields)
        api_errors = 0
        try:
            items = read_items(path, READ_FORMAT[self.config.format], None, {})
            for item in items:
                if item.problem:
                    sink.reject(item.problem, item.detail, uri=uri, line=item.line, offset=item.offset,
                                record=item.raw)
                elif (error := api_error(item.record)) is not None:
                    api_errors += 1
                    sink.reject("brightdata_error", f"Bright Data error: {error}", uri=uri, line=item.line,
                                offset=item.offset, record=item.record,
                                value=item.record.get("error_code") if item.record else None)
                else:
                    sink.keep(make_document(kind="brightdata", uri=uri, line=item.line, offset=item.offset,
                                            fields=item.record, mapping=mapping))
        except InputError as exc:
            raise StageError(f"Bright Data snapshot {snapshot_id} ({path}) is not valid "
                             f"{self.config.format}: {exc}") from None
        return {"bytes": path.stat().st_size, "api_errors": api_errors, "format": self.config.format}

    def downloaded_copy(self, snapshot_id: str) -> Path | None:
        """The snapshot already downloaded by an earlier attempt of this stage, if any."""
        final = self.work_dir / f"snapshot-{snapshot_id}.{self.config.format}"
        state = self.load_state() or {}
        return final if final.is_file() and state.get("downloaded") == final.name else None

    def finish(self, snapshot_id: str, path: Path) -> None:
        """Mark the snapshot collected. The downloaded copy stays until the stage publishes
        (the stage clears its work dir then): a later source that fails must not cost a download."""
        self.save_state(status="collected", collected_at=utc_now())
        self.client.close()


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
