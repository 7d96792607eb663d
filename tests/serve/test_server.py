"""The OpenAI-compatible server, exercised with the openai SDK as the client."""

from __future__ import annotations

import json

import openai
import pytest
from openai import OpenAI

from tests.evaluate.helpers import make_examples, make_pipeline, publish_inputs
from webtune.pipeline import run_one_stage, stage_spec

MESSAGES = [{"role": "system", "content": "You are a tiny test assistant."},
            {"role": "user", "content": "Tell me about the fox."}]


@pytest.fixture
def client(server_url):
    return OpenAI(base_url=server_url, api_key="unused", max_retries=0)


def test_models_are_listed(client):
    assert sorted(m.id for m in client.models.list().data) == ["ft:tiny:1", "tiny-base"]


def test_completion_is_the_models_greedy_answer(client, chat_models):
    expected = chat_models["ft:tiny:1"].complete(MESSAGES, max_new_tokens=12)
    response = client.chat.completions.create(model="ft:tiny:1", messages=MESSAGES, max_tokens=12,
                                              temperature=0)
    assert response.choices[0].message.content == expected.text
    assert response.choices[0].finish_reason == expected.finish_reason
    assert response.usage.completion_tokens == expected.completion_tokens > 0
    assert response.usage.prompt_tokens == expected.prompt_tokens > 0
    other = client.chat.completions.create(model="tiny-base", messages=MESSAGES, max_tokens=12)
    assert other.choices[0].message.content != response.choices[0].message.content


def test_streaming_sends_the_same_answer_in_pieces(client, chat_models):
    done = chat_models["ft:tiny:1"].complete(MESSAGES, max_new_tokens=12)
    expected = done.text
    chunks = list(client.chat.completions.create(model="ft:tiny:1", messages=MESSAGES, max_tokens=12,
                                                 stream=True))
    pieces = [c.choices[0].delta.content for c in chunks if c.choices[0].delta.content]
    assert len(pieces) > 1
    assert "".join(pieces).strip() == expected
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == done.finish_reason


def test_unknown_model_and_bad_request_are_openai_errors(client):
    with pytest.raises(openai.NotFoundError, match="'nope' does not exist"):
        client.chat.completions.create(model="nope", messages=MESSAGES)
    with pytest.raises(openai.BadRequestError, match="messages"):
        client.chat.completions.create(model="tiny-base", messages=[])


def test_hosted_evaluation_goes_through_the_openai_api(tmp_path, tiny_model_dir, server_url, chat_models,
                                                       monkeypatch):
    """A hosted tuned model (ft:...) is evaluated through an OpenAI-compatible API: no loss."""
    monkeypatch.setenv("OPENAI_BASE_URL", server_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    publish_inputs(tmp_path, tiny_model_dir, None, test_lines=make_examples(5), train_result={
        "backend": "openai", "base_model": "tiny-base", "model_id": "ft:tiny:1"})
    pipeline = make_pipeline(tiny_model_dir, tmp_path / "registry", evaluate={"max_examples": 3})
    manifest = run_one_stage(stage_spec("evaluate"), pipeline, tmp_path, force=True)
    assert manifest.counts.to_json() == {"in": 5, "kept": 3, "rejected": 2}
    rejects = [json.loads(l) for l in (tmp_path / "evaluate/rejects.jsonl").read_text().splitlines()]
    assert {r["reason"] for r in rejects} == {"beyond_max_examples"}
    report = json.loads((tmp_path / "evaluate/report.json").read_text())
    assert "loss" not in report["metrics"]["tuned"] and "rouge_l" in report["metrics"]["tuned"]
    samples = [json.loads(l) for l in (tmp_path / "evaluate/samples.jsonl").read_text().splitlines()]
    prompt = make_examples(1)[0]["messages"][:-1]
    assert samples[0]["answers"]["tuned"] == chat_models["ft:tiny:1"].complete(prompt, max_new_tokens=8).text
    assert "test-key" not in (tmp_path / "evaluate/manifest.json").read_text()


def test_hosted_model_without_a_key_is_a_clear_error(tmp_path, tiny_model_dir, monkeypatch):
    from webtune.openai_client import APIAuthError

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    publish_inputs(tmp_path, tiny_model_dir, None, train_result={
        "backend": "openai", "base_model": "tiny-base", "model_id": "ft:tiny:1",
        "api": {"base_url": "http://127.0.0.1:9/v1", "api_key_env": "TEAM_KEY"}})
    with pytest.raises(APIAuthError, match="no API key for http://127.0.0.1:9/v1: set the environment variable "
                                           "TEAM_KEY or OPENAI_API_KEY"):
        run_one_stage(stage_spec("evaluate"), make_pipeline(tiny_model_dir, tmp_path / "r"), tmp_path, force=True)


def test_serve_command_loads_each_model_it_is_given(tmp_path, tiny_model_dir, adapter, monkeypatch):
    """`webtune serve --model A --model B` hands both loaded models to the server, by their names."""
    from typer.testing import CliRunner

    import webtune.serve.server as server
    from webtune.cli.main import app
    from webtune.serve.models import LocalChatModel

    served = {}
    monkeypatch.setattr(server, "serve", lambda table, host, port, options: served.update(table=table, port=port))
    result = CliRunner().invoke(app, ["serve", "--model", str(tiny_model_dir), "--model", str(adapter),
                                      "--port", "8123", "--registry", str(tmp_path)])
    assert result.exit_code == 0, result.output
    table = served["table"]
    assert served["port"] == 8123 and table.ids() == sorted([str(tiny_model_dir), str(adapter)])
    assert all(isinstance(table.get(i).model, LocalChatModel) for i in table.ids())
    assert "serving" in result.output


def test_serve_answers_a_registered_model_by_its_bare_name(tmp_path, tiny_model_dir, adapter, monkeypatch):
    """With no --model, the registered version is served as NAME@N and also as NAME, which clients send."""
    from typer.testing import CliRunner

    import webtune.serve.server as server
    from tests.evaluate.helpers import make_pipeline, publish_inputs
    from webtune.cli.main import app
    from webtune.registry.stage import run_register
    from webtune.stage import run_stage

    run_dir, registry = tmp_path / "run", tmp_path / "registry"
    publish_inputs(run_dir, tiny_model_dir, adapter)
    pipeline = make_pipeline(tiny_model_dir, registry, register={"model_name": "writer"})
    run_stage("register", run_register, run_dir=run_dir, config=pipeline.register_, shared={"name": pipeline.name},
              inputs={"dataset": run_dir / "dataset", "train": run_dir / "train"})
    served = {}
    monkeypatch.setattr(server, "serve", lambda table, host, port, options: served.update(table=table))
    result = CliRunner().invoke(app, ["serve", "--registry", str(registry)])
    assert result.exit_code == 0, result.output
    table = served["table"]
    assert table.ids() == ["writer", "writer@1"]
    assert table.get("writer") is table.get("writer@1")
    assert table.get("writer").info == {"label": "writer@1", "name": "writer", "version": 1,
                                        "aliases": [], "follows": None}
    assert "serving writer@1 as writer (version 1, follows writer@production)" in result.output


def test_serve_on_a_port_in_use_fails_in_one_line_before_loading(tmp_path, tiny_model_dir, monkeypatch):
    import socket

    from typer.testing import CliRunner

    import webtune.serve.loader as loader
    from webtune.cli.main import app

    monkeypatch.setattr(loader, "load_chat_model", lambda *a, **k: pytest.fail("loaded a model"))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(app, ["serve", "--model", str(tiny_model_dir), "--port", str(port),
                                          "--registry", str(tmp_path)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"cannot listen on 127.0.0.1:{port}" in " ".join(result.output.split())
