"""A running OpenAI-compatible webtune server on a free port, serving the tiny base and tuned models."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from tests.evaluate.helpers import cached_adapter


@pytest.fixture(scope="module")
def adapter(tiny_model_dir, tmp_path_factory):
    return cached_adapter(tiny_model_dir, tmp_path_factory.mktemp("adapter"))


@pytest.fixture(scope="module")
def chat_models(tiny_model_dir, adapter):
    """``{"tiny-base": base, "ft:tiny:1": tuned}`` as local chat models."""
    from webtune.serve.loader import ModelRef, load_chat_model

    base = load_chat_model(ModelRef("tiny-base", model_path=tiny_model_dir), device="cpu")
    tuned = load_chat_model(ModelRef("tuned", model_path=tiny_model_dir, adapter_path=adapter), device="cpu")
    return {"tiny-base": base, "ft:tiny:1": tuned}


@pytest.fixture(scope="module")
def server_url(chat_models):
    import uvicorn

    from webtune.serve.server import create_app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(chat_models), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started:
        if time.time() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/v1"
    server.should_exit = True
    thread.join(timeout=10)
