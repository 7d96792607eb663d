"""The evaluate stage's judge and forgetting sections on the tiny model, with a fake judge server."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from tests.evaluate.helpers import cached_adapter, make_pipeline, publish_inputs
from tests.fakes import judge as fake_judge
from tests.fakes.openai_server import FakeOpenAI
from webtune.evaluate.checks import print_checks
from webtune.handoffs import EvalReport
from webtune.pipeline import run_one_stage, stage_spec
from webtune.registry.config import PromotionGates
from webtune.registry.gates import check_gates


@pytest.fixture
def adapter(tiny_model_dir, tmp_path_factory):
    return cached_adapter(tiny_model_dir, tmp_path_factory.mktemp("adapter"))


def evaluate(run_dir, pipeline):
    run_one_stage(stage_spec("evaluate"), pipeline, run_dir, force=True)
    return EvalReport.read(run_dir / "evaluate")


def test_without_a_judge_endpoint_the_report_and_table_say_it_was_skipped(tmp_path, tiny_model_dir, adapter):
    publish_inputs(tmp_path, tiny_model_dir, adapter)
    report = evaluate(tmp_path, make_pipeline(tiny_model_dir, tmp_path / "registry",
                                              evaluate={"forgetting": {"max_examples": 6}}))
    assert report.judge.status == "skipped"
    line = "judge skipped: no judge endpoint configured (set evaluate.judge)"
    assert report.judge.note == line
    assert f"- {line}" in (tmp_path / "evaluate" / "report.md").read_text()
    assert line in (tmp_path / "evaluate" / "report.html").read_text()
    console = Console(record=True, width=200)
    print_checks(report, console)
    assert line in console.export_text()
    # Forgetting ran on webtune's own general set.
    assert report.forgetting.status == "done" and report.forgetting.examples == 6
    assert "built-in general set" in report.forgetting.source
    assert not (tmp_path / "evaluate" / "judgements.jsonl").exists()


def test_a_configured_judge_judges_both_orders_and_keeps_its_cache(tmp_path, tiny_model_dir, adapter, monkeypatch):
    publish_inputs(tmp_path, tiny_model_dir, adapter)
    with FakeOpenAI() as server:
        monkeypatch.setenv("OPENAI_API_KEY", server.api_key)
        server.chat_reply = fake_judge.always_first
        judge = {"backend": {"judge": "openai", "model": "gpt-4o-mini", "base_url": server.base_url},
                 "pairs": ["tuned_vs_base", "tuned_vs_reference"], "bootstrap_samples": 200}
        pipeline = make_pipeline(tiny_model_dir, tmp_path / "registry",
                                 evaluate={"judge": judge, "forgetting": {"max_examples": 3}})
        report = evaluate(tmp_path, pipeline)
        # 4 answered examples x 2 pairings x 2 orders, plus 3 general prompts x 2 orders.
        assert len(server.chat_requests) == 4 * 2 * 2 + 3 * 2
        tuned_vs_base = report.judge.pairs[0]
        assert tuned_vs_base.position_bias_rate == 1.0 and tuned_vs_base.win_rate == 0.5
        assert tuned_vs_base.ties == 4
        assert report.forgetting.judge.position_bias_rate == 1.0
        out = tmp_path / "evaluate"
        judgements = [json.loads(l) for l in (out / "judgements.jsonl").read_text().splitlines()]
        assert len(judgements) == 22 and all(j["reason"] for j in judgements)
        samples = [json.loads(l) for l in (out / "samples.jsonl").read_text().splitlines()]
        assert len(samples[0]["judge"]) == 4
        assert "position bias 100.0%" in (out / "report.md").read_text()
        # The cache outlives publishing: evaluating again asks the judge nothing.
        assert (tmp_path / ".work" / "evaluate" / "judge-cache.jsonl").is_file()
        server.chat_requests.clear()
        again = evaluate(tmp_path, pipeline)
        assert server.chat_requests == [] and again.judge.cached == 16


def train_narrow(base_dir, out_dir, steps=40):
    """The tiny model fully fine-tuned, hard, on one narrow reply: it will say little else."""
    import shutil

    import torch

    from webtune.chat_format import encode_chat
    from webtune.models import load_causal_lm, load_tokenizer

    torch.manual_seed(0)
    tokenizer, model = load_tokenizer(base_dir), load_causal_lm(base_dir)
    enc = encode_chat(tokenizer, [{"role": "user", "content": "Say the word."},
                                  {"role": "assistant", "content": "zebra zebra zebra zebra zebra zebra"}])
    ids, labels = torch.tensor([enc["input_ids"]]), torch.tensor([enc["labels"]])
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(steps):
        model(input_ids=ids, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.save_pretrained(out_dir)
    for name in base_dir.iterdir():  # the tokenizer files beside the weights
        if "token" in name.name or name.name.endswith(".jinja"):
            shutil.copy(name, out_dir / name.name)
    return out_dir


def test_a_model_trained_hard_on_narrow_data_forgets_and_the_gate_blocks(tmp_path, tiny_model_dir):
    narrow = train_narrow(tiny_model_dir, tmp_path / "narrow-model")
    publish_inputs(tmp_path, tiny_model_dir, None, model=narrow)
    report = evaluate(tmp_path, make_pipeline(tiny_model_dir, tmp_path / "registry",
                                              evaluate={"forgetting": {"max_examples": 10, "threshold": 0.05}}))
    f = report.forgetting
    assert f.tuned_loss > f.base_loss * 1.05 and f.flagged
    assert "FLAGGED" in f.note
    [gate] = check_gates(PromotionGates(tuned_loss_below_base=False, no_forgetting=True), report)
    assert gate.gate == "no_forgetting" and not gate.passed
    # Without a forgetting check the gate fails too: no promotion on missing evidence.
    report.forgetting = None
    assert not check_gates(PromotionGates(tuned_loss_below_base=False, no_forgetting=True), report)[0].passed


def test_a_judge_over_its_cost_limit_refuses_before_the_models_run(tmp_path, tiny_model_dir, adapter, monkeypatch):
    from webtune.errors import ConfigError

    publish_inputs(tmp_path, tiny_model_dir, adapter)
    ran = []
    monkeypatch.setattr("webtune.evaluate.stage.run_local", lambda *a, **k: ran.append(1))
    judge = {"backend": {"judge": "openai", "model": "gpt-4o-mini", "base_url": "http://127.0.0.1:9/v1"},
             "price_output_per_1m": 100.0, "max_cost_usd": 0.01}
    with pytest.raises(ConfigError, match="max_cost_usd: the 24 uncached judge requests are estimated"):
        evaluate(tmp_path, make_pipeline(tiny_model_dir, tmp_path / "registry", evaluate={"judge": judge}))
    assert ran == []
