"""The ft: model from the openai trainer used downstream: the evaluate stage and `webtune chat`.

Training runs with ``train.base_url`` and no ``OPENAI_BASE_URL``: evaluate and chat must call
the endpoint recorded in ``train_result.json``, not the environment's (or OpenAI's).
"""

from __future__ import annotations

import json

import pytest
from rich.console import Console
from typer.testing import CliRunner

from tests.fakes.openai_server import FakeOpenAI
from tests.hosted.helpers import pipeline, write_dataset
from webtune.hosted.sunset import DEFAULT_HOSTED_MODEL
from webtune.openai_client import APIError
from webtune.pipeline import run_one_stage, stage_spec


@pytest.fixture()
def trained(monkeypatch, tmp_path):
    with FakeOpenAI() as server:
        monkeypatch.setenv("OPENAI_API_KEY", server.api_key)
        monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
        run_dir = tmp_path / "run"
        write_dataset(run_dir / "dataset")
        pipe = pipeline(server, tmp_path)
        run_one_stage(stage_spec("train"), pipe, run_dir, inputs={"dataset": run_dir / "dataset"},
                      console=Console(quiet=True))
        yield server, pipe, run_dir


def test_evaluate_stage_compares_base_and_fine_tuned_hosted_models(trained):
    server, pipe, run_dir = trained
    result = json.loads((run_dir / "train" / "train_result.json").read_text())
    assert result["api"] == {"base_url": server.base_url + "/", "api_key_env": "OPENAI_API_KEY"}
    manifest = run_one_stage(stage_spec("evaluate"), pipe, run_dir, console=Console(quiet=True),
                             inputs={"dataset": run_dir / "dataset", "train": run_dir / "train"})
    asked = {body["model"] for body in server.chat_requests}
    assert asked == {DEFAULT_HOSTED_MODEL, result["model_id"]}
    assert set(manifest.stats["metrics"]) == {"base", "tuned"}


def test_evaluate_fails_in_one_line_naming_the_recorded_url(trained, monkeypatch):
    _, pipe, run_dir = trained
    waits = []
    monkeypatch.setattr("webtune.retry.sleep", waits.append)  # retried, but on no real clock
    path = run_dir / "train" / "train_result.json"
    result = json.loads(path.read_text())
    result["api"]["base_url"] = "http://127.0.0.1:9/v1"  # nothing listens there
    path.write_text(json.dumps(result))
    with pytest.raises(APIError) as info:
        run_one_stage(stage_spec("evaluate"), pipe, run_dir, console=Console(quiet=True),
                      inputs={"dataset": run_dir / "dataset", "train": run_dir / "train"})
    message = str(info.value)
    assert "POST http://127.0.0.1:9/v1/chat/completions: connection refused" in message, message
    assert "\n" not in message and "gave up after 6 attempts" in message and len(waits) == 5


def test_chat_with_the_fine_tuned_model(trained, monkeypatch):
    from webtune.cli.main import app

    server, _, run_dir = trained
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)  # an unregistered id: the environment decides
    model_id = json.loads((run_dir / "train" / "train_result.json").read_text())["model_id"]
    result = CliRunner().invoke(app, ["chat", "--model", model_id, "--prompt", "Describe a stapler",
                                      "--registry", str(run_dir / "registry")])
    assert result.exit_code == 0, result.output
    assert f"[{model_id}] Describe a stapler" in result.output
    assert server.chat_requests[-1]["model"] == model_id


def test_registered_like_a_local_model_and_chat_by_name(trained, tmp_path, monkeypatch):
    from webtune.cli.main import app

    server, pipe, run_dir = trained
    monkeypatch.setenv("WEBTUNE_HOME", str(tmp_path / "home"))
    quiet = Console(quiet=True)
    stages = {"dataset": run_dir / "dataset", "train": run_dir / "train"}
    run_one_stage(stage_spec("evaluate"), pipe, run_dir, console=quiet, inputs=stages)
    manifest = run_one_stage(stage_spec("register"), pipe, run_dir, console=quiet,
                             inputs={**stages, "evaluate": run_dir / "evaluate"})
    version = json.loads((run_dir / "register" / "version.json").read_text())
    model_id = json.loads((run_dir / "train" / "train_result.json").read_text())["model_id"]
    assert version["model_id"] == model_id and manifest.counts.kept == 1
    assert version["api"] == {"base_url": server.base_url + "/", "api_key_env": "OPENAI_API_KEY"}
    result = CliRunner().invoke(app, ["chat", "--model", "hosted-test", "--prompt", "Describe a lamp"])
    assert result.exit_code == 0, result.output
    assert f"[{model_id}] Describe a lamp" in result.output
    # the bare ft: id finds its endpoint in the registry too
    result = CliRunner().invoke(app, ["chat", "--model", model_id, "--prompt", "Describe a desk"])
    assert result.exit_code == 0, result.output
    assert server.chat_requests[-1]["model"] == model_id
