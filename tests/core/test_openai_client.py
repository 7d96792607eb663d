"""The one OpenAI-compatible client: where it connects, which key it uses, retries and errors."""

from __future__ import annotations

import pytest

from tests.fakes.openai_server import FakeOpenAI
from webtune.openai_client import (DEFAULT_BASE_URL, NO_KEY, APIAuthError, APIError, Endpoint, connect, find_key,
                                   resolve_endpoint)
from webtune.retry import RetryPolicy

HELLO = [{"role": "user", "content": "Describe a pen"}]


@pytest.fixture
def env(monkeypatch):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "TEAM_KEY"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def no_sleep_policy(waits: list[float], **settings) -> RetryPolicy:
    return RetryPolicy(sleep=waits.append, **settings)


def test_base_url_explicit_then_recorded_then_environment_then_default(env):
    recorded = {"base_url": "http://recorded/v1", "api_key_env": "TEAM_KEY"}
    assert resolve_endpoint() == Endpoint(DEFAULT_BASE_URL, "OPENAI_API_KEY")
    env.setenv("OPENAI_BASE_URL", "http://from-env/v1")
    assert resolve_endpoint().base_url == "http://from-env/v1"
    assert resolve_endpoint(recorded=recorded) == Endpoint("http://recorded/v1", "TEAM_KEY")
    assert resolve_endpoint("http://explicit/v1", "OTHER", recorded=recorded) == Endpoint("http://explicit/v1", "OTHER")


def test_key_from_the_named_variable_then_openai_api_key(env):
    endpoint = Endpoint("http://x/v1", "TEAM_KEY")
    with pytest.raises(APIAuthError, match="set the environment variable TEAM_KEY or OPENAI_API_KEY"):
        find_key(endpoint)
    assert find_key(endpoint, required=False) == NO_KEY
    env.setenv("OPENAI_API_KEY", "sk-general-0123456789")
    assert find_key(endpoint) == "sk-general-0123456789"
    env.setenv("TEAM_KEY", "sk-team-0123456789")
    assert find_key(endpoint) == "sk-team-0123456789"


def test_a_call_reaches_the_recorded_endpoint_without_openai_base_url(env):
    with FakeOpenAI() as server:
        env.setenv("TEAM_KEY", server.api_key)
        client = connect(recorded={"base_url": server.base_url, "api_key_env": "TEAM_KEY"})
        server.add_fine_tuned_model("ft:gpt-4o-mini:org:demo:abc")
        reply = client.chat(model="ft:gpt-4o-mini:org:demo:abc", messages=HELLO)
        assert reply.choices[0].message.content == "[ft:gpt-4o-mini:org:demo:abc] Describe a pen"
        streamed = client.chat_stream(model="ft:gpt-4o-mini:org:demo:abc", messages=HELLO)
        assert "".join(c.choices[0].delta.content or "" for c in streamed) == reply.choices[0].message.content


def test_429_is_retried_as_long_as_retry_after_asks(env):
    waits: list[float] = []
    with FakeOpenAI() as server:
        env.setenv("OPENAI_API_KEY", server.api_key)
        server.inject("chat.completions", 429, retry_after="3", times=2)
        client = connect(server.base_url, policy=no_sleep_policy(waits))
        assert client.chat(model="gpt-4o-mini", messages=HELLO).choices[0].message.content
        assert waits == [3.0, 3.0] and server.counts["chat.completions.fault"] == 2


def test_a_wrong_key_is_one_line_naming_url_and_status_without_the_key(env):
    with FakeOpenAI() as server:
        env.setenv("OPENAI_API_KEY", "sk-wrong-key-abcdefghijkl")
        client = connect(server.base_url)
        with pytest.raises(APIAuthError) as info:
            client.chat("judge", model="gpt-4o-mini", messages=HELLO)
        message = str(info.value)
        assert message.startswith(f"judge: POST {server.base_url}/chat/completions: HTTP 401 Unauthorized: "
                                  "Incorrect API key provided")
        assert "sk-wrong-key-abcdefghijkl" not in message and "OPENAI_API_KEY" in message
        assert server.counts["unauthorized"] == 1 and info.value.status == 401


def test_a_dead_endpoint_is_connection_refused_after_the_retries(env):
    waits: list[float] = []
    client = connect("http://127.0.0.1:9/v1", require_key=False, policy=no_sleep_policy(waits, max_attempts=3))
    with pytest.raises(APIError) as info:
        client.chat(model="gpt-4o-mini", messages=HELLO)
    message = str(info.value)
    assert message.startswith("chat completion: POST http://127.0.0.1:9/v1/chat/completions: connection refused")
    assert "gave up after 3 attempts" in message and len(waits) == 2


def test_a_slow_answer_times_out_and_is_retried(env):
    with FakeOpenAI() as server:
        env.setenv("OPENAI_API_KEY", server.api_key)
        server.inject("chat.completions", delay=0.5)
        client = connect(server.base_url, timeout_s=0.2, policy=no_sleep_policy([]))
        assert client.chat(model="gpt-4o-mini", messages=HELLO).choices
        assert server.counts["chat.completions.fault"] == 1


def test_sdk_resources_read_as_in_the_sdk_and_its_retries_are_off(env):
    client = connect("http://127.0.0.1:9/v1", require_key=False)
    assert client.sdk.max_retries == 0 and client.base_url == "http://127.0.0.1:9/v1/"
    assert client.files is client.sdk.files
