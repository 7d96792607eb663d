"""The one retry policy (webtune.retry) on a fake clock: no test here really sleeps."""

from __future__ import annotations

import asyncio
import email.utils
import random

import httpx
import pytest

from webtune.retry import GaveUp, RetryableStatus, RetryLater, RetryPolicy, describe, retry_after_s

URL = "http://api.test/v1/chat/completions"


class FakeClock:
    """A monotonic clock, a wall clock and a sleep that only moves both forward."""

    def __init__(self) -> None:
        self.now = 0.0
        self.wall0 = 1_800_000_000.0  # a whole second, so HTTP dates land exactly
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.wall0 + self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)

    def policy(self, **settings) -> RetryPolicy:
        return RetryPolicy(clock=self.monotonic, wall_clock=self.wall, sleep=self.sleep,
                           async_sleep=self.async_sleep, rng=random.Random(0), **settings)


def answer(status: int, **headers: str) -> RetryableStatus:
    """What an attempt raises for a 429/5xx answer."""
    body = {"error": {"message": f"scripted {status}"}}
    return RetryableStatus(httpx.Response(status, headers=headers, json=body, request=httpx.Request("POST", URL)))


def script(*outcomes):
    """A function failing with each exception in turn, then returning "ok"; ``calls`` counts."""
    queue = list(outcomes)

    def fn():
        fn.calls += 1
        if queue:
            raise queue.pop(0)
        return "ok"

    fn.calls = 0
    return fn


@pytest.fixture
def clock():
    return FakeClock()


def test_retry_after_in_seconds_is_waited_exactly(clock):
    fn = script(answer(429, **{"Retry-After": "7"}), answer(503, **{"retry-after-ms": "250"}))
    assert clock.policy().call(fn) == "ok"
    assert clock.sleeps == [7.0, 0.25] and fn.calls == 3


def test_retry_after_as_an_http_date_is_measured_on_the_wall_clock(clock):
    date = email.utils.formatdate(clock.wall() + 30, usegmt=True)
    assert clock.policy().call(script(answer(503, **{"Retry-After": date}))) == "ok"
    assert clock.sleeps == [30.0]
    past = email.utils.formatdate(clock.wall() - 300, usegmt=True)
    assert retry_after_s({"Retry-After": past}, now=clock.wall()) == 0.0
    assert retry_after_s({"Retry-After": "soon"}) is None and retry_after_s({}) is None


def test_a_single_wait_is_capped(clock):
    assert clock.policy(max_wait_s=60).call(script(answer(429, **{"Retry-After": "3600"}))) == "ok"
    assert clock.sleeps == [60.0]


def test_backoff_without_a_hint_doubles_with_jitter(clock):
    refused = httpx.ConnectError("[Errno 111] Connection refused", request=httpx.Request("GET", URL))
    clock.policy(initial_wait_s=1.0, max_backoff_s=3.0, max_attempts=5).call(script(*[refused] * 4))
    # The policy's jitter comes from random.Random(0) (FakeClock.policy): replay it for the exact waits.
    jitter = random.Random(0)
    expected = [min(3.0, 1.0 * 2 ** k + jitter.uniform(0, 1.0)) for k in range(4)]
    assert clock.sleeps == pytest.approx(expected)
    assert expected[0] < 2.0 <= expected[1] < 3.0 and expected[2] == expected[3] == 3.0  # doubled, then capped


def test_gives_up_after_max_attempts_naming_url_and_status(clock):
    fn = script(*[answer(503)] * 10)
    with pytest.raises(GaveUp) as info:
        clock.policy(max_attempts=3).call(fn, what="teacher")
    message = str(info.value)
    assert message.startswith(f"teacher: POST {URL}: HTTP 503 Service Unavailable: scripted 503 ")
    assert "gave up after 3 attempts" in message and "max attempts" in message
    assert fn.calls == 3 and len(clock.sleeps) == 2 and info.value.status == 503
    assert not info.value.out_of_time


def test_connection_refused_reads_as_such(clock):
    refused = httpx.ConnectError("[Errno 111] Connection refused", request=httpx.Request("POST", URL))
    with pytest.raises(GaveUp, match=rf"^POST {URL}: connection refused \(gave up after 2 attempts"):
        clock.policy(max_attempts=2).call(script(refused, refused))


def test_the_total_time_cap_stops_before_a_wait_that_would_pass_it(clock):
    fn = script(*[answer(429, **{"Retry-After": "50"})] * 10)
    with pytest.raises(GaveUp) as info:
        clock.policy(max_total_s=120, max_attempts=100).call(fn)
    assert clock.sleeps == [50.0, 50.0] and fn.calls == 3
    assert info.value.out_of_time and "limit of 120s" in str(info.value)


def test_an_absolute_deadline_is_shared_by_calls(clock):
    policy = clock.policy(deadline=10.0, max_attempts=100)
    policy.call(script(answer(429, **{"Retry-After": "6"})))
    with pytest.raises(GaveUp) as info:
        policy.call(script(answer(429, **{"Retry-After": "6"})))
    assert clock.sleeps == [6.0] and info.value.out_of_time


def test_not_ready_yet_waits_the_hint_and_is_not_a_failure(clock):
    later = RetryLater(10.0, "snapshot s_1 is still being built")
    fn = script(*[later] * 5, answer(502), later, answer(502))
    assert clock.policy(max_attempts=2).call(fn) == "ok"  # never two failures in a row
    assert clock.sleeps[:5] == [10.0] * 5 and fn.calls == 9


def test_client_errors_are_not_retried(clock):
    fn = script(answer(401), answer(401))
    with pytest.raises(RetryableStatus):
        clock.policy(max_attempts=5).call(fn, retry_if=lambda exc: exc.response.status_code != 401)
    assert fn.calls == 1 and clock.sleeps == []
    unauthorized = httpx.HTTPStatusError("401", request=httpx.Request("GET", URL),
                                         response=httpx.Response(401, request=httpx.Request("GET", URL)))
    with pytest.raises(httpx.HTTPStatusError):
        clock.policy().call(script(unauthorized))
    assert clock.sleeps == []


def test_retries_are_reported_before_each_wait(clock):
    seen = []
    clock.policy().call(script(answer(429, **{"Retry-After": "2"})), on_retry=lambda exc, wait: seen.append(wait))
    assert seen == [2.0]


def test_async_calls_use_the_same_policy(clock):
    outcomes = [answer(503, **{"Retry-After": "4"}), httpx.ReadTimeout("slow", request=httpx.Request("GET", URL))]

    async def fetch():
        if outcomes:
            raise outcomes.pop(0)
        return "page"

    assert asyncio.run(clock.policy(initial_wait_s=1.0).acall(fetch)) == "page"
    assert clock.sleeps[0] == 4.0 and 2.0 <= clock.sleeps[1] <= 3.0  # the second failure in a row


def test_describe_a_timeout_and_a_status():
    assert describe(httpx.ReadTimeout("x", request=httpx.Request("GET", URL))) == "timed out"
    assert describe(answer(429)) == "HTTP 429 Too Many Requests: scripted 429"
