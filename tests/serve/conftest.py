"""A running OpenAI-compatible webtune server on a free port, serving the tiny base and tuned models."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any, Iterator

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running(app: Any) -> Iterator[str]:
    """Serve the ASGI ``app`` on 127.0.0.1 in a thread; yield its ``/v1`` base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started:
        if time.time() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def served(chat_models):
    """The server's model table (its batchers' stats tell what was merged)."""
    from webtune.serve.table import ModelTable

    return ModelTable.of_models(chat_models)


@pytest.fixture(scope="module")
def server_url(served):
    from webtune.serve.server import ServeOptions, guarded_app

    with running(guarded_app(served, ServeOptions(max_body_bytes=64_000))) as url:
        yield url
