"""Validation of chat JSONL files: every error with its line and field; token stats; cost."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from webtune.dataset.validate import DEFAULT_PRICES, estimate_cost, validate_file
from webtune.cli.main import app


def good(i: int) -> dict:
    return {"messages": [{"role": "system", "content": "You write copy."},
                         {"role": "user", "content": f"Describe pen {i}."},
                         {"role": "assistant", "content": f"Pen {i} writes smoothly."}]}


def write(path, rows) -> str:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return str(path)


# (broken line, field the error names, words in the message)
BROKEN = [
    ('{"messages": [', "(line)", "invalid JSON"),
    ("[1, 2]", "(line)", "must be a JSON object"),
    ({"prompt": "x", "completion": "y"}, "messages", "is missing"),
    ({"messages": []}, "messages", "is empty"),
    ({"messages": "hello"}, "messages", "must be a list"),
    ({"messages": [{"role": "user", "content": "Hi"}]}, "messages", "has no assistant message"),
    ({"messages": [{"role": "bot", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]},
     "messages[0].role", "must be one of"),
    ({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "  "}]},
     "messages[1].content", "is empty"),
    ({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant"}]}, "messages[1].content", "is missing"),
    ({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": 5}]},
     "messages[1].content", "must be a string"),
    ({"messages": [{"role": "user", "content": "Hi"}, {"role": "system", "content": "S"},
                   {"role": "assistant", "content": "A"}]}, "messages[1].role", "system message may only come first"),
    ({"messages": [{"role": "user", "content": "Hi"}, {"role": "user", "content": "Again"},
                   {"role": "assistant", "content": "A"}]}, "messages[1].role", "two user messages in a row"),
    ({"messages": [{"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Hi"},
                   {"role": "assistant", "content": "A"}]}, "messages[0].role", "must start with a user message"),
    ({"messages": [{"role": "user", "content": "Hi", "tool_calls": []}, {"role": "assistant", "content": "A"}]},
     "messages[0].tool_calls", "unknown key"),
    ({"messages": ["hi", {"role": "assistant", "content": "A"}]}, "messages[0]", "must be an object"),
    ({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "A", "weight": 2}]},
     "messages[1].weight", "0 or 1"),
]


def test_each_broken_line_is_found_with_its_line_and_field(tmp_path):
    rows = [good(i) for i in range(30)]
    for n, (row, _, _) in enumerate(BROKEN):
        rows.insert(2 * n + 1, row)
    positions = [2 * n + 2 for n in range(len(BROKEN))]  # 1-based lines of the broken rows
    report = validate_file(write(tmp_path / "bad.jsonl", rows))
    assert not report.ok
    assert report.n_examples == 30 + len(BROKEN)
    for line, (_, field, words) in zip(positions, BROKEN):
        found = [e for e in report.errors if e.line == line]
        assert any(e.field == field and words in e.message for e in found), (line, field, words, found)
    assert {e.line for e in report.errors} == set(positions)  # no false alarms on good lines


def test_a_valid_file_counts_tokens_with_the_chat_template(tmp_path, counter):
    rows = [good(i) for i in range(60)]
    report = validate_file(write(tmp_path / "ok.jsonl", rows), tokenizer=counter)
    assert report.ok and report.errors == [] and report.warnings == []
    expected = counter.count_chats([r["messages"] for r in rows])
    tokens = report.stats["tokens"]
    assert tokens["total"] == sum(expected) and tokens["max"] == max(expected) and tokens["min"] == min(expected)
    assert tokens["min"] <= tokens["p50"] <= tokens["p95"] <= tokens["max"]
    assert report.stats["tokens_estimated"] is False


def test_size_limits_warnings_and_max_tokens(tmp_path, counter):
    few = validate_file(write(tmp_path / "few.jsonl", [good(i) for i in range(5)]))
    assert not few.ok and few.errors[0].line == 0 and "at least 10" in few.errors[0].message
    some = [good(i) for i in range(20)] + [good(3)] + [{"messages": good(1)["messages"] + [{"role": "user", "content": "More?"}]}]
    report = validate_file(write(tmp_path / "some.jsonl", some))
    assert report.ok and report.stats["tokens_estimated"] is True
    messages = {w.message for w in report.warnings}
    assert "has only 22 examples; 50 or more are recommended" in messages
    assert "duplicate of line 4" in messages
    assert "does not end with an assistant message" in messages
    long = [good(i) for i in range(11)] + [{"messages": [{"role": "user", "content": "x"},
                                                         {"role": "assistant", "content": "word " * 200}]}]
    report = validate_file(write(tmp_path / "long.jsonl", long), tokenizer=counter, max_tokens=100)
    [err] = report.errors
    assert err.line == 12 and "over the limit of 100" in err.message


def test_estimate_cost_uses_the_price_table_and_overrides():
    cost = estimate_cost(2_000_000, epochs=3, model="gpt-4o-mini-2024-07-18")
    assert cost["billed_tokens"] == 6_000_000 and cost["usd"] == pytest.approx(18.0)
    assert DEFAULT_PRICES["gpt-4.1-2025-04-14"] == 25.0
    assert estimate_cost(1_000_000, 1, "my-model", prices={"my-model": 2.5})["usd"] == 2.5
    unknown = estimate_cost(1000, 1, "nope")
    assert unknown["usd"] is None and "no price" in unknown["note"]


def test_the_default_hosted_model_is_not_one_that_shuts_down_and_a_doomed_one_says_when():
    from webtune.dataset.config import HostedCostConfig
    from webtune.hosted.sunset import SHUTDOWNS
    from webtune.train.backends.openai_config import OpenAITrainConfig

    for default in (HostedCostConfig().model, OpenAITrainConfig(backend="openai").model):
        assert default not in SHUTDOWNS and default in DEFAULT_PRICES
        assert "shuts down" not in estimate_cost(1000, 1, default)["note"]
    assert "gpt-4o-mini-2024-07-18 shuts down on 2027-01-14" in estimate_cost(1000, 1, "gpt-4o-mini-2024-07-18")["note"]


def test_cli_check_prints_every_error_with_its_line_and_exits_non_zero(tmp_path, tiny_model_dir):
    rows = [good(i) for i in range(11)]
    rows.insert(3, {"messages": [{"role": "user", "content": "Hi"}]})
    rows.insert(7, "{broken")
    path = write(tmp_path / "user.jsonl", rows)
    runner = CliRunner()
    result = runner.invoke(app, ["dataset", "--check", path], terminal_width=250)
    assert result.exit_code == 1, result.output
    assert f"{path}:4: messages: has no assistant message" in result.output
    assert f"{path}:8: (line): invalid JSON" in result.output
    ok = write(tmp_path / "ok.jsonl", [good(i) for i in range(11)])
    result = runner.invoke(app, ["dataset", "--check", ok, "--model", str(tiny_model_dir), "--epochs", "2"],
                           terminal_width=250)
    assert result.exit_code == 0, result.output
    assert "valid" in result.output and "estimated hosted training cost" in result.output
    missing = runner.invoke(app, ["dataset", "--check", str(tmp_path / "nope.jsonl")])
    assert missing.exit_code != 0 and "not found" in missing.output


def test_cli_check_on_a_directory_says_it_is_a_directory(tmp_path):
    result = CliRunner().invoke(app, ["dataset", "--check", str(tmp_path)], terminal_width=250)
    assert result.exit_code == 1
    assert f"{tmp_path}: is a directory" in result.output and "Traceback" not in result.output


def test_cli_check_with_an_unknown_model_names_the_option(tmp_path):
    path = write(tmp_path / "ok.jsonl", [good(i) for i in range(11)])
    result = CliRunner().invoke(app, ["dataset", "--check", path, "--model", "no-such-model"], terminal_width=250)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "--model: unknown model 'no-such-model'" in result.output
