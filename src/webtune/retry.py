"""One retry policy for every HTTP call webtune makes (tenacity underneath).

Retried: connection errors, timeouts, HTTP 429 and 5xx, and `RetryLater` (a server's "not
ready yet, try again in N s", such as Bright Data's 202 while a snapshot is being built).
Never retried: other 4xx (a wrong key or a bad request will not get better).

How long to wait: the server's own word first (``Retry-After`` in seconds or as an HTTP date,
``retry-after-ms``, or the seconds a `RetryLater` carries), else exponential backoff with
jitter. Each wait is capped at ``max_wait_s``. A call gives up after ``max_attempts``
consecutive failures ("not ready yet" is not a failure), or when the next wait would end past
``max_total_s`` from the call's start or past an absolute ``deadline``; it then raises
`GaveUp`, one line naming the request (method and URL), the last status and the attempts.

It wraps httpx (sync and async) and the openai SDK alike (``webtune.openai_client`` turns
the SDK's own retries off). The clock, the wall clock and the sleep are fields, so tests run
on a fake clock; by default the sleep is this module's `sleep`, looked up at each wait.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import sys
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Awaitable, Callable, Mapping, TypeVar

import httpx

from webtune.errors import StageError

T = TypeVar("T")


def sleep(seconds: float) -> None:
    """The default sleep of every policy (a test may replace it on this module)."""
    time.sleep(seconds)


async def async_sleep(seconds: float) -> None:
    """The default sleep of async calls (a test may replace it on this module)."""
    await asyncio.sleep(seconds)


class RetryLater(Exception):
    """The server answered "not yet": try again in ``seconds`` (not counted as a failure)."""

    def __init__(self, seconds: float, reason: str, response: Any = None):
        super().__init__(reason)
        self.seconds, self.reason, self.response = seconds, reason, response


class RetryableStatus(Exception):
    """An HTTP answer worth retrying (429 or 5xx), raised by an attempt; keeps the response."""

    def __init__(self, response: Any):
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


class GaveUp(StageError):
    """A call failed for good after its retries; ``last`` is the last failure."""

    def __init__(self, what: str, last: BaseException, attempts: int, elapsed_s: float, why: str,
                 out_of_time: bool = False):
        self.what, self.last, self.attempts, self.elapsed_s, self.why = what, last, attempts, elapsed_s, why
        self.out_of_time = out_of_time  # stopped by max_total_s or the deadline, not by max_attempts
        self.status = status_of(last)
        super().__init__(f"{what}: {describe(last)} ({self.after()})")

    def after(self) -> str:
        """How the retries ended, e.g. ``gave up after 3 attempts in 4.2s: max_attempts reached``."""
        attempts = "1 attempt" if self.attempts == 1 else f"{self.attempts} attempts"
        return f"gave up after {attempts} in {self.elapsed_s:.1f}s: {self.why}"


# ---------------------------------------------------------------- what a failure is


def status_of(exc: BaseException | None) -> int | None:
    """The HTTP status of a failure (httpx, openai SDK or `RetryableStatus`), else None."""
    code = getattr(exc, "status_code", None)
    if isinstance(code, int):
        return code
    code = getattr(getattr(exc, "response", None), "status_code", None)
    return code if isinstance(code, int) else None


def is_transient(exc: BaseException) -> bool:
    """Worth another try: not ready yet, a 429/5xx, a timeout or a connection error."""
    if isinstance(exc, RetryLater):
        return True
    status = status_of(exc)
    if status is not None:
        return status == 429 or status >= 500
    if isinstance(exc, httpx.TransportError):  # timeouts, refused or dropped connections
        return True
    openai = sys.modules.get("openai")  # only loaded when an SDK call could have raised
    return bool(openai) and isinstance(exc, openai.APIConnectionError)  # timeouts included


def _chain(exc: BaseException | None) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def request_line(exc: BaseException | None) -> str | None:
    """``METHOD URL`` of the request that failed, when the exception knows it."""
    for item in _chain(exc):
        for owner in (item, getattr(item, "response", None)):
            try:
                request = getattr(owner, "request", None)
            except RuntimeError:  # httpx: "The .request property has not been set."
                request = None
            if request is not None and hasattr(request, "method") and hasattr(request, "url"):
                return f"{request.method} {request.url}"
    return None


def describe(exc: BaseException | None) -> str:
    """A failure in a few words: ``HTTP 401 Unauthorized: <message>``, ``connection refused``..."""
    if exc is None:
        return "unknown error"
    if isinstance(exc, RetryLater):
        return exc.reason
    status = status_of(exc)
    if status is not None:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
        message = body_message(exc)
        return f"HTTP {status} {phrase}".rstrip() + (f": {message}" if message else "")
    chain = _chain(exc)
    if any(isinstance(e, httpx.TimeoutException) or type(e).__name__ == "APITimeoutError" for e in chain):
        return "timed out"
    if any(isinstance(e, ConnectionRefusedError) or "connection refused" in str(e).lower() for e in chain):
        return "connection refused"
    cause = next((e for e in reversed(chain) if str(e)), exc)
    return f"{type(cause).__name__}: {cause}" if str(cause) else type(cause).__name__


def body_message(exc: BaseException, limit: int = 300) -> str:
    """The server's error message: ``error.message`` of a JSON body, else the body's text."""
    body = getattr(exc, "body", None)  # the openai SDK parses it already
    if body is None:
        response = getattr(exc, "response", None)
        try:
            body = response.json()
        except Exception:  # not JSON, or a streamed body that was never read
            try:
                body = response.text if response is not None else None
            except Exception:
                body = None
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping):
            body = inner.get("message") or inner.get("error") or inner
        else:
            body = inner if isinstance(inner, str) else body.get("message") or body
    text = " ".join(str(body).split()) if body not in (None, "") else ""
    return text[:limit] + ("…" if len(text) > limit else "")


def retry_after_s(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Seconds a response asks to wait: ``retry-after-ms``, or ``Retry-After`` in seconds or as an HTTP date.

    ``now`` is the wall clock (``time.time()``) an HTTP date is measured from.
    """
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    millis = lowered.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = (lowered.get("retry-after") or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None or when.tzinfo is None:  # RFC 9110 dates are GMT; anything else is not one
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def server_wait_s(exc: BaseException | None, now: float | None = None) -> float | None:
    """What the server asked for: a `RetryLater`'s seconds or the response's Retry-After."""
    if isinstance(exc, RetryLater):
        return max(0.0, exc.seconds)
    return retry_after_s(getattr(getattr(exc, "response", None), "headers", None), now)


# ---------------------------------------------------------------- the policy


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts, waits and limits of one kind of call; `call` / `acall` run a function under it."""

    max_attempts: int = 6  # consecutive failures allowed, the first try included
    initial_wait_s: float = 0.5  # first backoff; doubles per failure, plus up to as much jitter
    max_backoff_s: float = 30.0  # cap of our own backoff
    max_wait_s: float = 60.0  # cap of any single wait, a server's Retry-After included
    max_total_s: float = 600.0  # no wait may end later than this after the call began
    deadline: float | None = None  # an absolute limit on `clock` (shared by several calls)
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], float] = time.time  # Retry-After dates are wall-clock times
    sleep: Callable[[float], Any] | None = None  # None: this module's `sleep`
    async_sleep: Callable[[float], Awaitable[Any]] | None = None  # None: `async_sleep`
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def wait_s(self, exc: BaseException | None, failures: int) -> float:
        """The wait before the next try after ``failures`` consecutive failures (the last is ``exc``)."""
        hinted = server_wait_s(exc, self.wall_clock())
        if hinted is None:
            step = self.initial_wait_s * 2 ** max(0, failures - 1)
            hinted = min(self.max_backoff_s, step + self.rng.uniform(0, self.initial_wait_s))
        return min(hinted, self.max_wait_s)

    def call(self, fn: Callable[[], T], *, what: str | None = None,
             retry_if: Callable[[BaseException], bool] = is_transient,
             on_retry: Callable[[BaseException, float], None] | None = None) -> T:
        """``fn()`` until it returns; a failure ``retry_if`` refuses is raised at once, as it is.

        The `GaveUp` error names ``what`` and the failed request's method and URL (when the
        exception knows them); ``on_retry(exception, wait_s)`` is told before each wait.
        """
        from tenacity import Retrying

        chosen = self.sleep or (lambda s: sleep(s))
        return Retrying(sleep=chosen, **self._hooks(what, retry_if, on_retry))(fn)

    async def acall(self, fn: Callable[[], Awaitable[T]], *, what: str | None = None,
                    retry_if: Callable[[BaseException], bool] = is_transient,
                    on_retry: Callable[[BaseException, float], None] | None = None) -> T:
        """`call` for a coroutine function (the crawler)."""
        from tenacity import AsyncRetrying

        async def default_sleep(seconds: float) -> None:
            await async_sleep(seconds)

        retrying = AsyncRetrying(sleep=self.async_sleep or default_sleep, **self._hooks(what, retry_if, on_retry))
        return await retrying(fn)

    def _hooks(self, what: str | None, retry_if: Callable[[BaseException], bool],
               on_retry: Callable[[BaseException, float], None] | None) -> dict[str, Any]:
        """tenacity's retry/after/wait/stop/before_sleep/error hooks for one call."""
        from tenacity import retry_if_exception

        run = _Run(started=self.clock())

        def after(state: Any) -> None:
            exc = state.outcome.exception()
            run.failures = 0 if isinstance(exc, RetryLater) else run.failures + 1
            run.attempts += 1

        def wait(state: Any) -> float:
            return self.wait_s(state.outcome.exception(), run.failures)

        def stop(state: Any) -> bool:
            now, upcoming = self.clock(), state.upcoming_sleep or 0.0
            if run.failures >= self.max_attempts:
                run.why = f"{self.max_attempts} failures in a row (max attempts)"
            elif now + upcoming - run.started > self.max_total_s:
                run.why = f"waiting {upcoming:.1f}s more would pass the limit of {self.max_total_s:g}s"
                run.out_of_time = True
            elif self.deadline is not None and now + upcoming > self.deadline:
                run.why = f"waiting {upcoming:.1f}s more would pass the deadline"
                run.out_of_time = True
            return run.why is not None

        def before_sleep(state: Any) -> None:
            if on_retry is not None:
                on_retry(state.outcome.exception(), state.upcoming_sleep)

        def give_up(state: Any) -> Any:
            last = state.outcome.exception()
            name = ": ".join(part for part in (what, request_line(last)) if part) or "request"
            raise GaveUp(name, last, run.attempts, self.clock() - run.started, run.why or "stopped",
                         run.out_of_time) from last

        return {"retry": retry_if_exception(retry_if), "after": after, "wait": wait, "stop": stop,
                "before_sleep": before_sleep, "retry_error_callback": give_up}


@dataclass
class _Run:
    """Bookkeeping of one call under a policy."""

    started: float
    attempts: int = 0
    failures: int = 0
    why: str | None = None
    out_of_time: bool = False


def check_status(response: httpx.Response) -> httpx.Response:
    """Raise `RetryableStatus` for a 429/5xx answer (body read first); return the response otherwise."""
    if response.status_code == 429 or response.status_code >= 500:
        response.read()
        raise RetryableStatus(response)
    return response
