"""The evaluate stage on the tiny model: base vs a trained LoRA adapter, on held-out examples."""

from __future__ import annotations

import json
import math

import pytest

from tests.evaluate.helpers import cached_adapter, make_examples, make_pipeline, publish_inputs
from webtune.errors import InputError
from webtune.pipeline import run_one_stage, stage_spec


@pytest.fixture
def adapter(tiny_model_dir, tmp_path_factory):
    return cached_adapter(tiny_model_dir, tmp_path_factory.mktemp("adapter"))


def run_evaluate(run_dir, pipeline):
    return run_one_stage(stage_spec("evaluate"), pipeline, run_dir, force=True)


def test_evaluate_compares_base_and_tuned(tmp_path, tiny_model_dir, adapter):
    lines = make_examples(6) + ["{not json", {"messages": [{"role": "user", "content": "no reply"}]},
                                {"messages": [{"role": "robot", "content": "x"}]}]
    publish_inputs(tmp_path, tiny_model_dir, adapter, test_lines=lines)
    pipeline = make_pipeline(tiny_model_dir, tmp_path / "registry")
    manifest = run_evaluate(tmp_path, pipeline)
    out = tmp_path / "evaluate"

    # 9 lines: 6 evaluated, 3 rejected with reasons; past max_examples (4) is not a reject.
    assert manifest.counts.to_json() == {"in": 9, "kept": 6, "rejected": 3}
    reasons = sorted(json.loads(l)["reason"] for l in (out / "rejects.jsonl").read_text().splitlines())
    assert reasons == ["invalid_example", "invalid_json", "no_assistant_reply"]

    report = json.loads((out / "report.json").read_text())
    base, tuned = report["metrics"]["base"], report["metrics"]["tuned"]
    # The adapter was trained on these replies: its held-out loss must be lower.
    assert tuned["loss"] < base["loss"]
    assert math.isclose(base["perplexity"], math.exp(base["loss"]), rel_tol=1e-6)
    assert report["deltas"]["loss"] == pytest.approx(tuned["loss"] - base["loss"])
    assert {r["metric"]: r["verdict"] for r in report["rows"]}["loss"] == "better"
    assert set(base) >= {"loss", "perplexity", "rouge_l", "exact_match", "words", "length_ratio"}
    assert 0.0 <= tuned["rouge_l"] <= 1.0
    assert report["counts"] == {"test_examples": 9, "evaluated": 6, "rejected": 3, "loss_examples": 6,
                                "generated": 4, "contaminated": 0}

    samples = [json.loads(l) for l in (out / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 4
    assert samples[0]["reference"] == make_examples()[0]["messages"][-1]["content"]
    assert set(samples[0]["answers"]) == {"base", "tuned"}
    assert samples[0]["answers"]["base"] != samples[0]["answers"]["tuned"]  # both really generated
    assert samples[0]["loss"]["tuned"] < samples[0]["loss"]["base"]

    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "<table" in html and samples[0]["reference"] in html
    assert (out / "metrics.png").read_bytes()[:4] == b"\x89PNG"
    md = (out / "report.md").read_text()
    assert "| loss |" in md and "### Sample 1" in md
    assert "Showing 4 of 4 answers" in md and "see rejects.jsonl" in md  # 3 rejects: the file exists
    assert (out / "rejects.jsonl").is_file()
    # Every per-example figure has its interval and outcomes; the loss's holds the delta.
    loss_row = next(r for r in report["rows"] if r["metric"] == "loss")
    lo, hi = loss_row["delta_ci95"]
    assert lo <= loss_row["delta"] <= hi
    assert loss_row["wins"] + loss_row["ties"] + loss_row["losses"] == 6
    rouge_row = next(r for r in report["rows"] if r["metric"] == "rouge_l")
    assert rouge_row["wins"] + rouge_row["ties"] + rouge_row["losses"] == 4
    # The always-recorded generation checks: no answer of 8 tokens ends by itself here.
    assert 0.0 <= tuned["eot_fraction"] <= 1.0 and 0.0 <= tuned["repetition_rate"] <= 1.0
    assert "timings:" in html and "{'" not in html  # formatted, not a raw dict


def test_eval_loss_matches_the_models_own_loss(tiny_model_dir):
    """The batched, padded loss equals transformers' own loss on each example alone."""
    import torch

    from webtune.chat_format import encode_chat
    from webtune.evaluate.scoring import example_losses
    from webtune.models import load_causal_lm, load_tokenizer

    tokenizer, model = load_tokenizer(tiny_model_dir), load_causal_lm(tiny_model_dir)
    encoded = [encode_chat(tokenizer, e["messages"]) for e in make_examples(3)]
    nll, tokens = example_losses(model, encoded, pad_id=tokenizer.pad_token_id, max_tokens=10_000)
    for e, n, t in zip(encoded, nll, tokens):
        with torch.no_grad():
            own = model(input_ids=torch.tensor([e["input_ids"]]), labels=torch.tensor([e["labels"]])).loss
        assert n / t == pytest.approx(float(own), rel=1e-4)


def test_loss_batches_respect_the_token_budget():
    from webtune.evaluate.scoring import loss_batches

    lengths = [5, 50, 10, 40, 8, 200]
    batches = loss_batches(lengths, max_tokens=100)
    assert sorted(i for b in batches for i in b) == list(range(6))
    for batch in batches:
        assert len(batch) == 1 or max(lengths[i] for i in batch) * len(batch) <= 100


def test_max_len_cutting_all_reply_tokens_is_a_reject(tmp_path, tiny_model_dir, adapter):
    publish_inputs(tmp_path, tiny_model_dir, adapter, test_lines=make_examples(2))
    pipeline = make_pipeline(tiny_model_dir, tmp_path / "registry", evaluate={"max_len": 8})
    manifest = run_evaluate(tmp_path, pipeline)
    assert manifest.counts.to_json() == {"in": 2, "kept": 0, "rejected": 2}
    reject = json.loads((tmp_path / "evaluate" / "rejects.jsonl").read_text().splitlines()[0])
    assert reject["reason"] == "no_assistant_tokens"


def test_missing_train_result_is_a_clear_error(tmp_path, tiny_model_dir, adapter):
    publish_inputs(tmp_path, tiny_model_dir, adapter)
    (tmp_path / "train" / "train_result.json").unlink()
    with pytest.raises(InputError, match="train_result.json: not found"):
        run_evaluate(tmp_path, make_pipeline(tiny_model_dir, tmp_path / "registry"))
    assert not (tmp_path / "evaluate").exists()


def test_adapter_for_another_base_model_is_refused(tmp_path, tiny_model_dir, adapter):
    publish_inputs(tmp_path, tiny_model_dir, adapter, train_result={"base_model": "some-other-model"})
    with pytest.raises(InputError, match="base_model: the tuned model was trained on 'some-other-model'"):
        run_evaluate(tmp_path, make_pipeline(tiny_model_dir, tmp_path / "registry"))


def test_unknown_metric_is_a_config_error(tiny_model_dir, tmp_path):
    from webtune.errors import ConfigError

    with pytest.raises(ConfigError, match="evaluate.metrics.1: .*'bleu'"):
        make_pipeline(tiny_model_dir, tmp_path, evaluate={"metrics": ["loss", "bleu"]})


def test_a_full_model_is_evaluated_like_the_adapter_it_was_merged_from(tmp_path, tiny_model_dir, adapter):
    """train_result.model_dir (a full fine-tune): same weights as base+adapter, same figures."""
    from webtune.models import load_tokenizer
    from webtune.serve.loader import load_weights

    merged = tmp_path / "merged"
    load_weights(tiny_model_dir, adapter).save_pretrained(merged)
    load_tokenizer(tiny_model_dir).save_pretrained(merged)
    pipeline = make_pipeline(tiny_model_dir, tmp_path / "registry")
    figures = {}
    for name, kwargs in (("adapter", {"adapter": adapter}), ("full", {"adapter": None, "model": merged})):
        run_dir = tmp_path / name
        publish_inputs(run_dir, tiny_model_dir, test_lines=make_examples(3), **kwargs)
        run_evaluate(run_dir, pipeline)
        figures[name] = json.loads((run_dir / "evaluate" / "report.json").read_text())["metrics"]["tuned"]
    assert figures["full"]["loss"] == pytest.approx(figures["adapter"]["loss"], rel=1e-5)
    assert figures["full"]["rouge_l"] == pytest.approx(figures["adapter"]["rouge_l"])


@pytest.mark.parametrize("lines,message", [([], "is empty: the dataset stage made no test split"),
                                           (["{not json", {"messages": []}], "none of the 2 lines of")])
def test_no_usable_test_example_is_a_clear_error(tmp_path, tiny_model_dir, adapter, lines, message):
    """No test example means no evaluation: one line naming the file, and nothing published."""
    publish_inputs(tmp_path, tiny_model_dir, adapter, test_lines=lines)
    with pytest.raises(InputError, match=message) as info:
        run_evaluate(tmp_path, make_pipeline(tiny_model_dir, tmp_path / "registry"))
    assert str(tmp_path / "dataset" / "test.jsonl") in str(info.value)
    assert not (tmp_path / "evaluate").exists()


def test_evaluate_encodes_as_training_recorded_not_as_the_pipeline_says(tmp_path, tiny_model_dir, adapter):
    """max_seq_len and chat_template come from train_result.json; train's own settings are not
    evaluate's business (outside its fingerprint, never read)."""
    from webtune.models.catalog import chatml_template

    pipeline = make_pipeline(tiny_model_dir, tmp_path / "registry")  # train.max_seq_len: the default 1024
    shouting = chatml_template().replace("'\\n' + message['content']", "'\\n' + message['content'] | upper")
    losses = {}
    for name, recorded in (("plain", {}), ("shouting", {"chat_template": shouting})):
        publish_inputs(tmp_path / name, tiny_model_dir, adapter, test_lines=make_examples(2), train_result=recorded)
        run_evaluate(tmp_path / name, pipeline)
        losses[name] = json.loads((tmp_path / name / "evaluate" / "report.json").read_text())["metrics"]["base"]["loss"]
    # The prompts were rendered by the template training recorded (the same input gives the same loss).
    assert abs(losses["shouting"] - losses["plain"]) > 1e-4

    publish_inputs(tmp_path / "short", tiny_model_dir, adapter, test_lines=make_examples(2),
                   train_result={"max_seq_len": 8})
    manifest = run_evaluate(tmp_path / "short", pipeline)
    assert manifest.counts.to_json() == {"in": 2, "kept": 0, "rejected": 2}  # cut at train's 8 tokens, not 1024
    other_train = make_pipeline(tiny_model_dir, tmp_path / "registry", train={"max_seq_len": 64, "epochs": 5})
    assert run_one_stage(stage_spec("evaluate"), other_train, tmp_path / "short").skipped


def test_contaminated_test_examples_are_flagged_counted_and_left_out_of_the_figures(tmp_path, tiny_model_dir,
                                                                                    adapter):
    test_lines = make_examples(6)
    leaked = json.loads(json.dumps(test_lines[0]))  # the fox example, also in the training split
    leaked["messages"][-1]["content"] += " It then runs into the forest and is never seen again by anyone."
    test_lines[0] = leaked
    test_lines[1]["messages"][1]["content"] = "Tell me about the journey.\nIn two lines,\nplease."
    publish_inputs(tmp_path, tiny_model_dir, adapter, test_lines=test_lines, train_lines=[leaked])
    pipeline = make_pipeline(tiny_model_dir, tmp_path / "registry", evaluate={"max_examples": None})
    run_evaluate(tmp_path, pipeline)
    out = tmp_path / "evaluate"
    report = json.loads((out / "report.json").read_text())
    assert report["counts"]["contaminated"] == 1 and report["counts"]["generated"] == 6
    assert report["contamination"]["flagged"][0]["line"] == 1
    assert report["contamination"]["flagged"][0]["sources"] == ["train"]
    # The headline covers the 5 clean examples only: the outcomes count 5, not 6.
    rouge = next(r for r in report["rows"] if r["metric"] == "rouge_l")
    assert rouge["wins"] + rouge["ties"] + rouge["losses"] == 5
    loss = next(r for r in report["rows"] if r["metric"] == "loss")
    assert loss["n"] == 5
    samples = [json.loads(l) for l in (out / "samples.jsonl").read_text().splitlines()]
    assert samples[0]["contaminated"] == ["train"] and samples[1]["contaminated"] == []

    md = (out / "report.md").read_text()
    assert "## Contamination" in md and "1 of 6 test examples share a 13-word n-gram" in md
    assert "Tell me about the journey.\nIn two lines,\nplease." in md  # the prompt keeps its line breaks
    assert "rejects.jsonl" not in md and not (out / "rejects.jsonl").exists()  # nothing was rejected
    assert "Showing 6 of 6 answers" in md
    html = (out / "report.html").read_text()
    assert "<h2>Contamination</h2>" in html and 'class="flag"' in html
    assert 'name="viewport"' in html and "@media (max-width: 640px)" in html
    assert html.count("data-deltas=") == 6 and "<script src" not in html  # all answers, no CDN
