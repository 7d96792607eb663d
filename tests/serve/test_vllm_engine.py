"""`--engine vllm`: a one-line refusal where vLLM cannot run, and the wiring to vLLM's API.

No GPU and no vLLM here: the wiring is driven through tests/serve/fake_vllm, a stand-in package
with the part of vLLM's documented async API webtune calls, decoding greedily on CPU. Its answers
must equal webtune's own engine's token for token, through the official OpenAI SDK.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from openai import OpenAI
from typer.testing import CliRunner

from tests.evaluate.helpers import make_pipeline, publish_inputs
from tests.serve.conftest import running
from webtune.cli.main import app
from webtune.errors import WebtuneError

FAKE = Path(__file__).parent / "fake_vllm"
PROMPTS = [[{"role": "user", "content": "Describe a stapler."}], [{"role": "user", "content": "Name a pen."}]]


@pytest.fixture
def fake_vllm(monkeypatch):
    """The stand-in importable as ``vllm``, and a GPU reported present."""
    monkeypatch.syspath_prepend(str(FAKE))
    for name in [m for m in sys.modules if m == "vllm" or m.startswith("vllm.")]:
        monkeypatch.delitem(sys.modules, name)
    import vllm

    vllm.CALLS.clear()
    monkeypatch.setattr("webtune.serve.vllm_engine.gpu_present", lambda: True)
    return vllm


def test_serve_engine_vllm_without_vllm_is_one_line(monkeypatch, tiny_model_dir):
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm -> ImportError
    result = CliRunner().invoke(app, ["serve", "--model", str(tiny_model_dir), "--engine", "vllm"])
    assert result.exit_code != 0
    message = result.output.strip()
    assert "webtune serve --engine vllm needs vLLM, which is not installed: pip install vllm" in message
    assert len(message.splitlines()) == 1


def test_serve_engine_vllm_without_a_gpu_is_one_line(monkeypatch, tiny_model_dir):
    monkeypatch.syspath_prepend(str(FAKE))
    monkeypatch.setattr("webtune.serve.vllm_engine.gpu_present", lambda: False)
    result = CliRunner().invoke(app, ["serve", "--model", str(tiny_model_dir), "--engine", "vllm"])
    assert result.exit_code != 0
    assert "--engine vllm needs a CUDA GPU and found none" in result.output
    assert len(result.output.strip().splitlines()) == 1
    bad = CliRunner().invoke(app, ["serve", "--model", str(tiny_model_dir), "--engine", "tensorrt"])
    assert bad.exit_code != 0 and "--engine tensorrt: use one of transformers, vllm" in bad.output


def test_vllm_engine_answers_like_webtune_engine_through_the_sdk(fake_vllm, tiny_model_dir, adapter, chat_models):
    from webtune.serve.server import ServeOptions, guarded_app
    from webtune.serve.table import ModelTable
    from webtune.serve.vllm_engine import VllmChatModel, VllmEngine

    tokenizer = chat_models["tiny-base"].tokenizer
    models = {"tiny-base": VllmChatModel(tiny_model_dir, tokenizer, name="tiny-base"),
              "ft:tiny:1": VllmChatModel(tiny_model_dir, tokenizer, adapter, name="tuned")}
    table = ModelTable.of_models(models)
    assert all(isinstance(table.get(m).engine, VllmEngine) for m in models)
    with running(guarded_app(table, ServeOptions())) as url:
        client = OpenAI(base_url=url, api_key="x", max_retries=0)
        for model_id in ("tiny-base", "ft:tiny:1"):
            for messages in PROMPTS:
                ours = chat_models[model_id].complete(messages, max_new_tokens=12)
                got = client.chat.completions.create(model=model_id, messages=messages, max_tokens=12,
                                                     temperature=0)
                assert got.choices[0].message.content == ours.text
                assert got.usage.completion_tokens == ours.completion_tokens
                assert got.choices[0].finish_reason == ("length" if ours.finish_reason == "length" else "stop")
                streamed = client.chat.completions.create(model=model_id, messages=messages, max_tokens=12,
                                                          temperature=0, stream=True)
                text = "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
                assert text.strip() == ours.text
        # A stop string ends the answer before it, as OpenAI's does.
        full = chat_models["ft:tiny:1"].complete(PROMPTS[0], max_new_tokens=12).text
        stop = full.split()[1] if len(full.split()) > 1 else full[1:3]
        cut = client.chat.completions.create(model="ft:tiny:1", messages=PROMPTS[0], max_tokens=12,
                                             temperature=0, stop=[stop])
        assert cut.choices[0].message.content == full[:full.index(stop)].strip()
        assert cut.choices[0].finish_reason == "stop"
    requests = [c for c in fake_vllm.CALLS if "request_id" in c]
    assert {c["lora"].lora_path if c["lora"] else None for c in requests} == {None, str(adapter)}
    lora_engine = [c for c in fake_vllm.CALLS if "engine_args" in c and c["engine_args"].get("enable_lora")]
    assert lora_engine and lora_engine[0]["engine_args"]["max_lora_rank"] >= 4
    assert all(c["params"].stop_token_ids for c in requests)  # the chat template's end token stops vLLM


def test_evaluate_with_engine_vllm_gives_the_same_answers(fake_vllm, tmp_path, tiny_model_dir, adapter):
    from webtune.pipeline import run_one_stage, stage_spec

    def answers(run_dir: Path, engine: str) -> list[tuple[str, str, str]]:
        publish_inputs(run_dir, tiny_model_dir, adapter)
        pipeline = make_pipeline(tiny_model_dir, tmp_path / "registry",
                                 evaluate={"engine": engine, "forgetting": {"enabled": False}})
        run_one_stage(stage_spec("evaluate"), pipeline, run_dir, force=True)
        rows = [json.loads(l) for l in (run_dir / "evaluate" / "samples.jsonl").read_text().splitlines()]
        return [(r["answers"]["base"], r["answers"]["tuned"], r["finish"]["tuned"]) for r in rows]

    ours = answers(tmp_path / "transformers", "transformers")
    assert answers(tmp_path / "vllm", "vllm") == ours
    asked = [c for c in fake_vllm.CALLS if "request_id" in c]
    assert len(asked) == 2 * len(ours)  # the base and the tuned side, all through vLLM
    assert sum(1 for c in asked if c["lora"]) == len(ours)


def test_evaluate_with_engine_vllm_and_no_gpu_is_one_line(monkeypatch, tmp_path, tiny_model_dir, adapter):
    from webtune.pipeline import run_one_stage, stage_spec

    monkeypatch.syspath_prepend(str(FAKE))
    monkeypatch.setattr("webtune.serve.vllm_engine.gpu_present", lambda: False)
    publish_inputs(tmp_path, tiny_model_dir, adapter)
    pipeline = make_pipeline(tiny_model_dir, tmp_path / "registry", evaluate={"engine": "vllm"})
    with pytest.raises(WebtuneError, match=r"^evaluate --engine vllm needs a CUDA GPU and found none"):
        run_one_stage(stage_spec("evaluate"), pipeline, tmp_path, force=True)
