"""`webtune chat`, the closing answer of a pipeline run, and model references."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.evaluate.helpers import make_pipeline, publish_inputs
from webtune.cli.main import app
from webtune.errors import InputError
from webtune.registry.stage import run_register
from webtune.registry.store import ModelRegistry
from webtune.serve.chat import conversation, pipeline_chat_answer
from webtune.serve.loader import resolve_ref
from webtune.stage import run_stage

runner = CliRunner()


@pytest.fixture
def registered(tmp_path, tiny_model_dir, adapter):
    """A run whose register stage stored the tuned adapter as writer@1."""
    run_dir, registry = tmp_path / "run", tmp_path / "registry"
    publish_inputs(run_dir, tiny_model_dir, adapter)
    pipeline = make_pipeline(tiny_model_dir, registry, register={"model_name": "writer"},
                             chat={"prompt": "Tell me about the fox.", "system": "You are a tiny test assistant.",
                                   "max_new_tokens": 10})
    run_stage("register", run_register, run_dir=run_dir, config=pipeline.register_, shared={"name": pipeline.name},
              inputs={"dataset": run_dir / "dataset", "train": run_dir / "train"})
    return pipeline, run_dir, ModelRegistry(registry)


def test_pipeline_chat_answer_uses_the_registered_version(registered, chat_models):
    pipeline, run_dir, _ = registered
    answer = pipeline_chat_answer(pipeline, run_dir)
    messages = conversation(pipeline.chat.prompt, pipeline.chat.system)
    assert answer == chat_models["ft:tiny:1"].complete(messages, max_new_tokens=10).text
    assert answer != chat_models["tiny-base"].complete(messages, max_new_tokens=10).text


def test_chat_one_shot_from_the_cli(registered, chat_models):
    _, _, registry = registered
    messages = conversation("Tell me about the web.")
    expected = chat_models["ft:tiny:1"].complete(messages, max_new_tokens=8).text
    result = runner.invoke(app, ["chat", "--model", "writer@1", "--prompt", "Tell me about the web.",
                                 "--max-new-tokens", "8", "--registry", str(registry.root)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == expected
    # Without --model the only registered model answers, the same way.
    again = runner.invoke(app, ["chat", "--prompt", "Tell me about the web.", "--max-new-tokens", "8",
                                "--registry", str(registry.root)])
    assert again.stdout.strip() == expected


def test_chat_repl_keeps_the_conversation(registered):
    _, _, registry = registered
    result = runner.invoke(app, ["chat", "--model", "writer", "--max-new-tokens", "4",
                                 "--registry", str(registry.root)], input="hello\n/reset\nagain\n/exit\n")
    assert result.exit_code == 0, result.output
    assert "conversation forgotten" in result.output and "chatting with writer@1" in result.output


def test_chat_errors_are_one_line(tmp_path):
    result = runner.invoke(app, ["chat", "--prompt", "hi", "--registry", str(tmp_path)])
    assert result.exit_code == 1 and "say which model with --model" in result.output
    result = runner.invoke(app, ["chat", "--model", "ghost@2", "--prompt", "hi", "--registry", str(tmp_path)])
    assert result.exit_code == 1 and "'ghost@2'" in result.output and "Traceback" not in result.output



def test_a_malformed_version_file_is_one_line_naming_it(tmp_path):
    """A registry version directory or a run's register/version.json that is not a version record."""
    from webtune.serve.chat import registered_ref

    (tmp_path / "register").mkdir()
    (tmp_path / "register" / "version.json").write_text(json.dumps({"name": "writer", "kind": "adapter"}))
    with pytest.raises(InputError, match=r"register/version.json: version: Field required$"):
        registered_ref(tmp_path)
    result = runner.invoke(app, ["chat", "--model", str(tmp_path / "register"), "--prompt", "hi"])
    assert result.exit_code == 1 and "version.json: version: Field required" in result.output
    assert "Traceback" not in result.output


def test_references_resolve_to_what_they_name(registered, tiny_model_dir, adapter):
    _, run_dir, registry = registered
    by_name = resolve_ref("writer", registry)
    assert by_name.label == "writer@1" and by_name.adapter_path.name == "artifact"
    assert by_name.model_path == tiny_model_dir
    assert resolve_ref(str(adapter), registry).adapter_path == adapter
    assert resolve_ref(str(tiny_model_dir), registry).adapter_path is None
    version_dir = json.loads((run_dir / "register/version.json").read_text())["path"]
    assert resolve_ref(version_dir, registry).label == "writer@1"
    assert resolve_ref("ft:gpt-4o-mini:org::x", registry).hosted
    with pytest.raises(InputError, match="not in the registry"):
        resolve_ref("nothing-here", registry)
