"""The batcher: left-padded batches answer exactly as one-at-a-time generation; stops and cancels."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from tests.serve.conftest import running
from webtune.serve.engine import Batcher, GenRequest, cut_at_stop, hold_back

CONVERSATIONS = [
    [{"role": "user", "content": "hi"}],
    [{"role": "system", "content": "You are a tiny test assistant with many, many words to say."},
     {"role": "user", "content": "Tell me about the fox and the dog, and the web, today."}],
    [{"role": "user", "content": "Tell me about the web."}],
]


def submit(batcher, model, conversation, max_new_tokens=30, **kwargs):
    events: list = []
    done = threading.Event()

    def sink(event):
        events.append(event)
        if event[0] != "text":
            done.set()

    ids = model.tokenizer(model.render(conversation), add_special_tokens=False)["input_ids"]
    request = GenRequest(prompt_ids=ids, max_new_tokens=max_new_tokens, sink=sink, **kwargs)
    batcher.submit(request)
    return request, events, done


def test_batched_greedy_answers_equal_one_at_a_time_token_for_token(chat_models):
    model = chat_models["ft:tiny:1"]
    batcher = Batcher(model, start=False)  # queue all three first: they decode as one left-padded batch
    submitted = [submit(batcher, model, c) for c in CONVERSATIONS]
    batcher.start()
    for _, _, done in submitted:
        assert done.wait(30)
    assert batcher.stats.batches == 1 and batcher.stats.largest_batch == 3
    for conversation, (_, events, _) in zip(CONVERSATIONS, submitted):
        alone = model.complete(conversation, max_new_tokens=30)  # transformers' generate, batch of one
        kind, completion = events[-1]
        assert kind == "done" and completion == alone
        assert "".join(v for k, v in events if k == "text").strip() == alone.text
    batcher.close(wait=True)


def test_stop_helpers():
    assert cut_at_stop("hello world", ["wor", "lo"]) == 3
    assert cut_at_stop("hello", ["x"]) is None
    assert hold_back("the end is ne", ["near", "x"]) == 2  # "ne" may become "near"
    assert hold_back("the end", ["near"]) == 0
    assert hold_back("caf\ufffd", []) == 1  # half a character


def test_a_cancelled_request_stops_within_a_step(chat_models):
    model = chat_models["tiny-base"]
    batcher = Batcher(model)
    request, events, done = submit(batcher, model, CONVERSATIONS[0], max_new_tokens=900)
    while not any(k == "text" for k, _ in events):
        time.sleep(0.001)
    request.cancel()
    assert done.wait(5)
    assert events[-1][0] == "error" and batcher.stats.cancelled == 1
    assert batcher.stats.tokens < 900
    batcher.close(wait=True)


def test_a_disconnected_client_cancels_its_generation(chat_models):
    """A stream closed by its client stops decoding; the next request is served at once."""
    from webtune.serve.server import ServeOptions, guarded_app
    from webtune.serve.table import ModelTable

    table = ModelTable.of_models({"m": chat_models["tiny-base"]})
    stats = table.get("m").engine.stats
    body = {"model": "m", "messages": CONVERSATIONS[0], "max_tokens": 900, "stream": True}
    with running(guarded_app(table, ServeOptions())) as url:
        with httpx.stream("POST", f"{url}/chat/completions", json=body) as response:
            lines = response.iter_lines()
            for _ in range(4):
                next(lines)
        deadline = time.time() + 5
        while stats.cancelled == 0 and time.time() < deadline:
            time.sleep(0.01)
        assert stats.cancelled == 1 and stats.tokens < 900
        started = time.time()
        reply = httpx.post(f"{url}/chat/completions", json={**body, "stream": False, "max_tokens": 3})
        assert reply.status_code == 200 and time.time() - started < 2
    # And a non-streamed request whose client gives up is cancelled too.
    table = ModelTable.of_models({"m": chat_models["tiny-base"]})
    stats = table.get("m").engine.stats
    with running(guarded_app(table, ServeOptions())) as url:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{url}/chat/completions", json={**body, "stream": False, "max_tokens": 990},
                       timeout=0.3)
        deadline = time.time() + 5
        while stats.cancelled == 0 and time.time() < deadline:
            time.sleep(0.01)
        assert stats.cancelled == 1
