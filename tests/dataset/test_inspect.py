"""`webtune dataset --inspect`: loss tokens shown, and the end-of-turn, truncation and serve-template checks."""

from __future__ import annotations

import json

import yaml
from typer.testing import CliRunner

from tests.evaluate.helpers import make_examples
from webtune.cli.main import app
from webtune.dataset.inspect import end_of_turn_ids, inspect_split
from webtune.models import load_tokenizer

# The tiny model's template with the end-of-turn token moved OUT of the generation block:
# the trainer would never teach the model to stop.
NO_EOT_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'assistant' %}{{ '<|im_start|>assistant\\n' }}"
    "{% generation %}{{ message['content'] }}{% endgeneration %}{{ '<|im_end|>\\n' }}"
    "{% else %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")


def setup(tmp_path, model_dir, train=None, examples=None):
    (tmp_path / "run" / "dataset").mkdir(parents=True)
    rows = examples or make_examples(4)
    (tmp_path / "run" / "dataset" / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    pipeline = {"name": "inspect-test", "base_model": str(model_dir), "run_dir": str(tmp_path / "run"),
                "train": {"max_seq_len": 256, **(train or {})}}
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(pipeline))
    return path


def test_a_good_dataset_shows_its_loss_tokens_and_passes(tmp_path, tiny_model_dir):
    pipeline = setup(tmp_path, tiny_model_dir)
    result = CliRunner().invoke(app, ["dataset", "-p", str(pipeline), "--inspect", "2"])
    assert result.exit_code == 0, result.output
    assert "4 examples checked; 0 problems" in result.output
    assert "train.jsonl:1 ·" in result.output and "train.jsonl:3 ·" not in result.output  # 2 rendered
    page = (tmp_path / "run" / "dataset-inspect.html").read_text()
    # The reply and its closing <|im_end|> carry loss; the prompt does not.
    assert "<span class='t'>&lt;|im_end|&gt;</span>" in page
    assert "<span class='n'>&lt;|im_start|&gt;</span>" in page
    assert page.count("<h2>line ") == 2


def test_a_template_without_the_end_of_turn_token_in_the_trained_span_fails(tmp_path, tiny_model_dir):
    pipeline = setup(tmp_path, tiny_model_dir, train={"chat_template": NO_EOT_TEMPLATE})
    out = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["dataset", "-p", str(pipeline), "--inspect", "1", "-o", str(out)])
    assert result.exit_code == 1
    lines = [l for l in result.output.splitlines() if "eot_outside_loss" in l]
    assert len(lines) == 4 and "train.jsonl:1: eot_outside_loss: assistant turn 1's trained span ends with" in lines[0]
    # Training with a template of its own while the saved tokenizer serves the base one is flagged too.
    assert "train.chat_template: template_mismatch" in result.output
    assert "eot_outside_loss" in out.read_text()


def test_examples_longer_than_max_seq_len_are_reported_not_cut_silently(tmp_path, tiny_model_dir):
    tokenizer = load_tokenizer(tiny_model_dir)
    long = make_examples(2)
    long[1]["messages"][-1]["content"] = "word " * 300
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in long))
    result = inspect_split(path, tokenizer, max_seq_len=128, chat_template=None,
                           serve_template=tokenizer.chat_template, eot_ids=end_of_turn_ids(tokenizer, tiny_model_dir))
    assert [(p.where, p.check) for p in result.problems] == [(f"{path}:2", "truncated")]
    assert "longer than train.max_seq_len 128" in result.problems[0].message
