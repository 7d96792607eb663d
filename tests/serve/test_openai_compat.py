"""The server behaves like OpenAI's API for the official `openai` SDK: stop, n, seed, usage, errors."""

from __future__ import annotations

import threading

import httpx
import openai
import pytest
from openai import OpenAI

from tests.serve.conftest import running

MESSAGES = [{"role": "system", "content": "You are a tiny test assistant."},
            {"role": "user", "content": "Tell me about the fox."}]


@pytest.fixture
def client(server_url):
    return OpenAI(base_url=server_url, api_key="unused", max_retries=0)


def greedy(client, max_tokens=20, **kwargs):
    return client.chat.completions.create(model="ft:tiny:1", messages=MESSAGES, max_tokens=max_tokens,
                                          temperature=0, **kwargs)


def test_stop_strings_end_the_answer_before_them(client):
    full = greedy(client).choices[0].message.content
    stop = full[6:9]
    assert stop.strip() and len(full) > 12
    expected = full[:full.find(stop)].strip()
    answer = greedy(client, stop=[stop, "never-there"])
    assert answer.choices[0].message.content == expected
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage.completion_tokens < 20
    single = greedy(client, stop=stop)  # one string instead of a list
    assert single.choices[0].message.content == expected
    # Streamed, no piece of the stop string is ever sent.
    chunks = list(greedy(client, stop=[stop], stream=True))
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed.strip() == expected and stop not in streamed
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_streaming_reports_usage_in_a_last_chunk_without_choices(client):
    plain = greedy(client, max_tokens=12)
    chunks = list(greedy(client, max_tokens=12, stream=True, stream_options={"include_usage": True}))
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == plain.usage.completion_tokens
    assert chunks[-1].usage.prompt_tokens == plain.usage.prompt_tokens
    assert all(c.usage is None for c in chunks[:-1])
    without = list(greedy(client, max_tokens=12, stream=True))
    assert all(c.choices for c in without)


def test_n_choices_and_a_seed_make_answers_reproducible(client):
    one = greedy(client, max_tokens=10).choices[0].message.content
    two = greedy(client, max_tokens=10, n=2)
    assert [c.index for c in two.choices] == [0, 1]
    assert [c.message.content for c in two.choices] == [one, one]  # greedy: the same twice
    sampled = [client.chat.completions.create(model="ft:tiny:1", messages=MESSAGES, max_tokens=10, n=2,
                                              temperature=1.5, seed=7) for _ in range(2)]
    texts = [[c.message.content for c in s.choices] for s in sampled]
    assert texts[0] == texts[1]  # the same seed, the same answers
    assert texts[0][0] != texts[0][1]  # each choice draws its own
    other = client.chat.completions.create(model="ft:tiny:1", messages=MESSAGES, max_tokens=10,
                                           temperature=1.5, seed=8)
    assert other.choices[0].message.content != texts[0][0]
    streamed = list(greedy(client, max_tokens=10, n=2, stream=True))
    for index in (0, 1):
        text = "".join(c.choices[0].delta.content or "" for c in streamed if c.choices[0].index == index)
        assert text.strip() == one


def test_models_retrieve_and_unknown_ids(client):
    model = client.models.retrieve("ft:tiny:1")
    assert model.id == "ft:tiny:1" and model.owned_by == "webtune"
    assert model.model_extra["webtune"]["label"] == "tuned"
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("ghost")
    assert caught.value.code == "model_not_found" and caught.value.param == "model"


@pytest.mark.parametrize("extra, param", [
    ({"frobnicate": 1}, "frobnicate"),
    ({"top_p": 5}, "top_p"),
    ({"temperature": -1}, "temperature"),
    ({"n": 99}, "n"),
    ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
    ({"stream_options": {"include_usage": True, "bogus": 1}}, "stream_options.bogus"),
    ({"max_tokens": 0}, "max_tokens"),
])
def test_bad_fields_are_a_400_naming_the_field(client, extra, param):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="ft:tiny:1", messages=MESSAGES, extra_body=extra)
    assert caught.value.param == param and caught.value.type == "invalid_request_error"
    assert param.split(".")[-1] in caught.value.message


def test_a_tool_only_conversation_is_a_400(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="ft:tiny:1", messages=[
            {"role": "tool", "content": "42", "tool_call_id": "call_1"}])
    assert caught.value.param == "messages"


def test_max_tokens_is_capped_by_the_models_context(client, chat_models):
    context = chat_models["ft:tiny:1"].model.config.max_position_embeddings
    with pytest.raises(openai.BadRequestError) as caught:
        greedy(client, max_tokens=context + 1)
    assert caught.value.param == "max_tokens" and f"context of {context} tokens" in caught.value.message
    with pytest.raises(openai.BadRequestError) as caught:
        greedy(client, max_tokens=None, max_completion_tokens=context + 1)
    assert caught.value.param == "max_completion_tokens"


def test_prompt_token_limit(chat_models):
    from webtune.serve.server import ServeOptions, guarded_app

    with running(guarded_app({"m": chat_models["tiny-base"]}, ServeOptions(max_prompt_tokens=10))) as url:
        client = OpenAI(base_url=url, api_key="unused", max_retries=0)
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(model="m", messages=MESSAGES, max_tokens=3)
        assert caught.value.param == "messages" and "the limit is 10 tokens" in caught.value.message
        assert caught.value.code == "context_length_exceeded"


def test_request_body_limit_is_a_413(server_url):
    big = {"model": "ft:tiny:1", "messages": [{"role": "user", "content": "x" * 100_000}]}
    response = httpx.post(f"{server_url}/chat/completions", json=big)
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "request_too_large" and "the limit is 64000 bytes" in error["message"]
    # Without a Content-Length (chunked), the limit holds as the body is read.
    chunks = iter([b'{"model": "ft:tiny:1", "messages": [{"role": "user", "content": "'] + [b"y" * 10_000] * 10)
    response = httpx.post(f"{server_url}/chat/completions", content=chunks)
    assert response.status_code == 413 and "the limit is 64000 bytes" in response.json()["error"]["message"]


def test_an_api_key_is_required_when_configured(chat_models):
    from webtune.serve.server import ServeOptions, guarded_app

    with running(guarded_app({"m": chat_models["tiny-base"]}, ServeOptions(api_key="s3cret"))) as url:
        with pytest.raises(openai.AuthenticationError) as caught:
            OpenAI(base_url=url, api_key="wrong", max_retries=0).models.list()
        assert caught.value.code == "invalid_api_key"
        good = OpenAI(base_url=url, api_key="s3cret", max_retries=0)
        assert [m.id for m in good.models.list().data] == ["m"]
        assert good.chat.completions.create(model="m", messages=MESSAGES, max_tokens=2).choices
        assert httpx.get(url.replace("/v1", "/health")).status_code == 200  # for load balancers


def test_concurrent_requests_are_batched_and_answer_as_alone(chat_models):
    """Four clients at once: the batcher merges them, and each gets its one-at-a-time greedy answer."""
    from webtune.serve.server import ServeOptions, guarded_app
    from webtune.serve.table import ModelTable

    table = ModelTable.of_models({"m": chat_models["ft:tiny:1"]})
    prompts = [f"Tell me about the {word}." for word in ("fox", "web", "dog and the lazy cat", "sun")]
    alone = [chat_models["ft:tiny:1"].complete([{"role": "user", "content": p}], max_new_tokens=24).text
             for p in prompts]
    answers: dict[int, str] = {}
    with running(guarded_app(table, ServeOptions())) as url:
        client = OpenAI(base_url=url, api_key="unused", max_retries=0)
        barrier = threading.Barrier(len(prompts))

        def ask(i: int) -> None:
            barrier.wait()
            reply = client.chat.completions.create(model="m", messages=[{"role": "user", "content": prompts[i]}],
                                                   max_tokens=24, temperature=0)
            answers[i] = reply.choices[0].message.content

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(prompts))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    stats = table.get("m").engine.stats
    assert stats.requests == 4 and stats.largest_batch >= 2 and stats.batches < 4
    assert [answers[i] for i in range(len(prompts))] == alone


def test_a_hosted_model_is_forwarded_with_stop_and_n(server_url, monkeypatch):
    """An ft: model served by webtune is asked through its API (here: the test server itself)."""
    from webtune.serve.models import HostedChatModel
    from webtune.serve.server import ServeOptions, guarded_app

    monkeypatch.setenv("OPENAI_API_KEY", "upstream-key")
    hosted = HostedChatModel("ft:tiny:1", endpoint={"base_url": server_url, "api_key_env": "OPENAI_API_KEY"})
    upstream = OpenAI(base_url=server_url, api_key="unused", max_retries=0)
    full = greedy(upstream).choices[0].message.content
    stop = full[6:9]
    with running(guarded_app({"proxy": hosted}, ServeOptions())) as url:
        client = OpenAI(base_url=url, api_key="unused", max_retries=0)
        reply = client.chat.completions.create(model="proxy", messages=MESSAGES, max_tokens=20, temperature=0,
                                               stop=[stop], n=2)
        assert [c.message.content for c in reply.choices] == [full[:full.find(stop)].strip()] * 2
        chunks = list(client.chat.completions.create(model="proxy", messages=MESSAGES, max_tokens=20,
                                                     temperature=0, stream=True))
        assert "".join(c.choices[0].delta.content or "" for c in chunks).strip() == full
