"""The server follows registry aliases, says which version it serves, and guards its address."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest
from openai import OpenAI
from typer.testing import CliRunner

from tests.serve.conftest import free_port, running
from webtune.cli.main import app
from webtune.registry.store import STATE_FILE, ModelRegistry

runner = CliRunner()
MESSAGES = [{"role": "user", "content": "Tell me about the fox."}]


@pytest.fixture
def two_versions(tmp_path, tiny_model_dir, adapter):
    """writer@1 (the tuned adapter, production) and writer@2 (the base model), in a fresh registry."""
    registry = ModelRegistry(tmp_path / "registry")
    base = {"base_model": str(tiny_model_dir), "base_model_path": str(tiny_model_dir)}
    registry.register("writer", {**base, "kind": "adapter"}, artifact=adapter)
    registry.register("writer", {**base, "kind": "model"}, artifact=tiny_model_dir)
    registry.promote("writer", 1)
    return registry


def answer(client, model="writer"):
    return client.chat.completions.create(model=model, messages=MESSAGES, max_tokens=8).choices[0].message.content


def test_the_server_follows_the_production_alias(two_versions, chat_models):
    from webtune.cli.serve import load_table
    from webtune.serve.server import ServeOptions, guarded_app

    table = load_table(["writer"], two_versions, max_batch=4)
    tuned = chat_models["ft:tiny:1"].complete(MESSAGES, max_new_tokens=8).text
    base = chat_models["tiny-base"].complete(MESSAGES, max_new_tokens=8).text
    with running(guarded_app(table, ServeOptions())) as url:
        client = OpenAI(base_url=url, api_key="unused", max_retries=0)
        assert answer(client) == tuned
        card = client.models.retrieve("writer").model_extra["webtune"]
        assert card == {"label": "writer@1", "name": "writer", "version": 1, "aliases": ["production"],
                        "follows": None}
        two_versions.promote("writer", 2)
        assert answer(client) == base  # the next request sees the move
        assert sorted(m.id for m in client.models.list().data) == ["writer", "writer@2"]
        assert client.models.retrieve("writer").model_extra["webtune"]["version"] == 2
        two_versions.rollback("writer")
        assert answer(client) == tuned and table.get("writer").label == "writer@1"


def test_a_pinned_version_does_not_move(two_versions):
    from webtune.cli.serve import load_table

    table = load_table(["writer@1"], two_versions, max_batch=4)
    two_versions.promote("writer", 2)
    assert table.refresh(force=True) == [] and table.get("writer@1").info["version"] == 1
    assert "follows" not in table.get("writer@1").info


def test_off_loopback_an_api_key_is_required(tmp_path, tiny_model_dir, monkeypatch):
    import webtune.serve.server as server
    from webtune.cli.serve import is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.1")
    monkeypatch.delenv("WEBTUNE_API_KEY", raising=False)
    started = {}
    monkeypatch.setattr(server, "serve", lambda table, host, port, options: started.update(options=options))
    refused = runner.invoke(app, ["serve", "--model", str(tiny_model_dir), "--host", "0.0.0.0",
                                  "--registry", str(tmp_path)])
    assert refused.exit_code == 1 and not started
    assert "--host 0.0.0.0: not a loopback address" in refused.output and "WEBTUNE_API_KEY" in refused.output
    assert len(refused.output.strip().splitlines()) == 1
    key_file = tmp_path / "key"
    key_file.write_text("from-file\n")
    port = free_port()
    result = runner.invoke(app, ["serve", "--model", str(tiny_model_dir), "--host", "0.0.0.0", "--port", str(port),
                                 "--api-key-file", str(key_file), "--registry", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert started["options"].api_key == "from-file" and "from-file" not in result.output
    monkeypatch.setenv("WEBTUNE_API_KEY", "from-env")
    result = runner.invoke(app, ["serve", "--model", str(tiny_model_dir), "--host", "0.0.0.0", "--port", str(port),
                                 "--registry", str(tmp_path)])
    assert result.exit_code == 0 and started["options"].api_key == "from-env"


def _wait_for(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        assert process.poll() is None, process.stderr.read()
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("the server did not start")


def test_sighup_reloads_and_sigterm_stops_within_bounds(two_versions, tmp_path):
    """A real `webtune serve` process: SIGHUP picks up a move its mtime check missed; SIGTERM
    ends it promptly though a long generation is streaming."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen(
        [sys.executable, "-c", "from webtune.cli.main import app; app()", "serve", "--model", "writer",
         "--port", str(port), "--registry", str(two_versions.root), "--shutdown-timeout", "2"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for(f"{base}/health", process)
        version = lambda: httpx.get(f"{base}/v1/models/writer").json()["webtune"]["version"]  # noqa: E731
        assert version() == 1
        paths = [two_versions.model_dir("writer") / STATE_FILE, two_versions.model_dir("writer")]
        stamps = [p.stat() for p in paths]
        two_versions.promote("writer", 2)
        for path, stamp in zip(paths, stamps):  # a move the mtime check cannot see
            os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
        assert version() == 1
        process.send_signal(signal.SIGHUP)
        deadline = time.time() + 20
        while version() != 2:
            assert time.time() < deadline, "SIGHUP did not reload"
            time.sleep(0.1)
        body = {"model": "writer", "messages": MESSAGES, "max_tokens": 900, "stream": True}
        with httpx.stream("POST", f"{base}/v1/chat/completions", json=body, timeout=30) as response:
            next(response.iter_lines())
            process.send_signal(signal.SIGTERM)
            started = time.time()
            process.wait(timeout=15)
        assert time.time() - started < 10
    finally:
        if process.poll() is None:
            process.kill()
    _, stderr = process.communicate()
    assert "serving writer@1 as writer (version 1, follows writer@production)" in stderr
    assert "now serving writer@2" in stderr


def test_a_version_that_fails_to_load_leaves_the_loaded_one_serving(two_versions):
    import shutil

    from webtune.cli.serve import load_table

    table = load_table(["writer"], two_versions, max_batch=4)
    shutil.rmtree(two_versions.version_dir("writer", 2) / "artifact")
    two_versions.promote("writer", 2)
    assert table.refresh() == [] and table.get("writer").info["version"] == 1
