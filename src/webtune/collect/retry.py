"""HTTP calls with retries: exponential backoff with jitter, Retry-After, and a bounded total wait.

Retried: timeouts, connection errors, 429 (honouring ``Retry-After``) and 5xx.
Not retried: 401/403 (a bad token will not get better) and other 4xx.
"""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass
from typing import Any, Callable

import httpx

RETRY_STATUSES = {429, 500, 502, 503, 504}


class RetryableStatus(Exception):
    """A response worth retrying (429 or 5xx); carries the response for Retry-After."""

    def __init__(self, response: httpx.Response):
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


class DeadlineReached(Exception):
    """The total wait allowed for a call was used up; ``last`` is the last failure."""

    def __init__(self, last: BaseException | None):
        super().__init__(str(last) if last else "deadline reached")
        self.last = last


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Seconds from a Retry-After header (a number or an HTTP date), or None."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


@dataclass
class RetryPolicy:
    """How long to keep trying: attempts per call, backoff base/cap, and an absolute deadline."""

    max_attempts: int = 8
    base_s: float = 1.0
    max_backoff_s: float = 60.0
    deadline: float = float("inf")  # time.monotonic() value

    def call(self, fn: Callable[[], Any], *, retry_on: tuple[type[BaseException], ...],
             on_retry: Callable[[BaseException, float], None] | None = None) -> Any:
        """Call ``fn`` until it returns, retrying the exceptions in ``retry_on``.

        Raises the last exception after ``max_attempts``, or `DeadlineReached` when the
        next wait would pass the deadline.
        """
        from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt
        from tenacity import wait_random_exponential

        jitter = wait_random_exponential(multiplier=self.base_s, max=self.max_backoff_s)

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, RetryableStatus) and (after := retry_after_seconds(exc.response)) is not None:
                return after
            return jitter(state)

        def stop(state: RetryCallState) -> bool:
            if stop_after_attempt(self.max_attempts)(state):
                return True
            if time.monotonic() + (state.upcoming_sleep or 0) > self.deadline:
                exc = state.outcome.exception() if state.outcome else None
                raise DeadlineReached(exc)
            return False

        def before_sleep(state: RetryCallState) -> None:
            if on_retry and state.outcome is not None:
                on_retry(state.outcome.exception(), state.upcoming_sleep)

        retrying = Retrying(retry=retry_if_exception_type(retry_on), wait=wait, stop=stop,
                            before_sleep=before_sleep, reraise=True, sleep=time.sleep)
        return retrying(fn)


def check_status(response: httpx.Response) -> httpx.Response:
    """Raise RetryableStatus for 429/5xx; return the response otherwise."""
    if response.status_code in RETRY_STATUSES:
        response.read()
        raise RetryableStatus(response)
    return response
