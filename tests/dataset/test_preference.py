"""Reading and checking preference records in webtune's, OpenAI's and TRL's formats."""

from __future__ import annotations

import json

import pytest

from webtune.dataset.preference import (PreferenceFormatError, check_record, read_record, to_openai_preference,
                                        to_trl, validate_preference_file)

PROMPT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name a pen."}]
OPENAI_ROW = {"input": {"messages": PROMPT},
              "preferred_output": [{"role": "assistant", "content": "Gel pen."}],
              "non_preferred_output": [{"role": "assistant", "content": "A pen is a pen."}]}


def test_the_three_formats_read_to_the_same_record():
    ours = read_record({"prompt": PROMPT, "chosen": "Gel pen.", "rejected": "A pen is a pen.", "meta": {"a": 1}})
    openai = read_record(OPENAI_ROW, openai_only=True)
    trl_explicit = read_record({"prompt": PROMPT, "chosen": [{"role": "assistant", "content": "Gel pen."}],
                                "rejected": [{"role": "assistant", "content": "A pen is a pen."}]})
    trl_implicit = read_record({"chosen": PROMPT + [{"role": "assistant", "content": "Gel pen."}],
                                "rejected": PROMPT + [{"role": "assistant", "content": "A pen is a pen."}]})
    for record in (openai, trl_explicit, trl_implicit):
        assert (record.prompt, record.chosen, record.rejected) == (ours.prompt, ours.chosen, ours.rejected)
    kto = read_record({"prompt": "Name a pen.", "completion": "Gel pen.", "label": False})
    assert kto.desirable is False and not kto.paired and kto.prompt[0].role == "user"
    assert to_openai_preference(ours.to_json()) == OPENAI_ROW
    assert to_openai_preference(kto.to_json()) is None
    assert to_trl(kto.to_json()) == {"prompt": [{"role": "user", "content": "Name a pen."}],
                                     "completion": [{"role": "assistant", "content": "Gel pen."}], "label": False}


@pytest.mark.parametrize("row, field, message", [
    ({"chosen": PROMPT + [{"role": "assistant", "content": "a"}],
      "rejected": [{"role": "user", "content": "Another question?"}, {"role": "assistant", "content": "b"}]},
     "rejected", "another prompt than chosen"),
    ({"prompt": PROMPT, "chosen": "a"}, "rejected", "is missing"),
    ({"prompt": PROMPT, "chosen": "a", "rejected": "  "}, "rejected", "is empty"),
    ({"prompt": PROMPT, "chosen": 3, "rejected": "b"}, "chosen", "must be a string"),
    ({"prompt": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], "chosen": "a",
      "rejected": "b"}, "prompt[1].role", "must end with a user message"),
    ({"prompt": [{"role": "robot", "content": "q"}], "chosen": "a", "rejected": "b"}, "prompt[0].role",
     "must be one of"),
    ({"prompt": PROMPT, "completion": "a", "label": "yes"}, "label", "true or false"),
])
def test_a_malformed_record_names_its_field(row, field, message):
    with pytest.raises(PreferenceFormatError) as caught:
        read_record(row)
    assert caught.value.field == field and message in caught.value.message


def test_openai_format_is_strict_like_the_api():
    with pytest.raises(PreferenceFormatError, match="meta: unknown key"):
        read_record({**OPENAI_ROW, "meta": {}}, openai_only=True)
    with pytest.raises(PreferenceFormatError, match="preferred_output: must be a list of exactly one"):
        read_record({**OPENAI_ROW, "preferred_output": []}, openai_only=True)
    with pytest.raises(PreferenceFormatError, match="non_preferred_output\\[0\\].role: must be assistant"):
        read_record({**OPENAI_ROW, "non_preferred_output": [{"role": "user", "content": "x"}]}, openai_only=True)


def test_equal_answers_are_unusable():
    record = read_record({"prompt": PROMPT, "chosen": "Gel pen.", "rejected": " Gel pen. "})
    assert check_record(record)[0] == "chosen_equals_rejected"
    assert check_record(read_record(OPENAI_ROW)) is None


def test_validate_file_reports_every_bad_line_and_lengths(tmp_path, counter):
    rows = [OPENAI_ROW] * 10 + [{**OPENAI_ROW, "preferred_output": OPENAI_ROW["non_preferred_output"]}]
    rows.append({**OPENAI_ROW, "preferred_output": [{"role": "assistant", "content": "word " * 300}]})
    path = tmp_path / "pref.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n{broken\n")
    report = validate_preference_file(path, tokenizer=counter, max_tokens=100, openai_only=True)
    assert [(e.line, e.field) for e in report.errors] == [(11, "non_preferred_output"), (12, "(record)"),
                                                          (13, "(line)")]
    assert "over the limit of 100" in report.errors[1].message
    assert report.n_examples == 13 and report.stats["n_valid"] == 11
    ok = tmp_path / "ok.jsonl"
    ok.write_text("\n".join(json.dumps(OPENAI_ROW) for _ in range(10)) + "\n")
    assert validate_preference_file(ok, tokenizer=counter, openai_only=True).ok
    assert not validate_preference_file(ok, min_examples=11).ok


def test_cli_check_validates_a_preference_file_naming_lines(tmp_path, tiny_model_dir):
    from typer.testing import CliRunner

    from webtune.cli.main import app

    same = {**OPENAI_ROW, "non_preferred_output": OPENAI_ROW["preferred_output"]}
    bad = tmp_path / "pref.jsonl"
    bad.write_text("\n".join(json.dumps(r) for r in [OPENAI_ROW] * 10 + [same]) + "\n")
    result = CliRunner().invoke(app, ["dataset", "--check", str(bad)], terminal_width=250)
    assert result.exit_code == 1, result.output
    assert f"{bad}:11: rejected: chosen and rejected are the same answer" in result.output
    ok = tmp_path / "ok.jsonl"
    ok.write_text("\n".join(json.dumps(OPENAI_ROW) for _ in range(10)) + "\n")
    result = CliRunner().invoke(app, ["dataset", "--check", str(ok), "--model", str(tiny_model_dir)],
                                terminal_width=250)
    assert result.exit_code == 0 and "valid" in result.output, result.output
