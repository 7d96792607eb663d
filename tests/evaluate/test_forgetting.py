"""Which general set the forgetting check scores, and how a rise in its loss is flagged."""

from __future__ import annotations

import json

import pytest

from webtune.errors import InputError
from webtune.evaluate.forgetting import BUILTIN, ForgettingConfig, GeneralSet, builtin_path, pick_general_set, summarise
from webtune.records import Example


def write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def chat(q, a):
    return {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}


def test_webtune_ships_a_general_set_of_valid_short_examples():
    rows = [json.loads(l) for l in builtin_path().read_text().splitlines()]
    assert 30 <= len(rows) <= 50
    assert all(Example.model_validate(r).messages[-1].role == "assistant" for r in rows)
    assert len({r["messages"][0]["content"] for r in rows}) == len(rows)


def test_the_mix_sets_are_used_without_the_rows_trained_on(tmp_path):
    mix = write(tmp_path / "general.jsonl", [chat("q1", "a1"), chat("q2", "a2"),
                                             {"instruction": "q3", "input": "", "output": "a3"}])
    train = write(tmp_path / "train.jsonl", [chat("q2", "a2")])
    found = pick_general_set(ForgettingConfig(), [str(mix)], train)
    assert "dataset.mix" in found.source
    assert [c[0]["content"] for c in found.conversations] == ["q1", "q3"]  # q2 was trained on


def test_an_explicit_set_wins_and_without_one_webtune_s_own_is_used(tmp_path):
    own = write(tmp_path / "mine.jsonl", [chat("x", "y")])
    assert pick_general_set(ForgettingConfig(general=own), [], None).source == str(own)
    fallback = pick_general_set(ForgettingConfig(max_examples=5), [str(tmp_path / "missing.jsonl")], None)
    assert fallback.source == BUILTIN and len(fallback.conversations) == 5
    with pytest.raises(InputError, match="evaluate.forgetting.general: .*nope.jsonl: file not found"):
        pick_general_set(ForgettingConfig(general=tmp_path / "nope.jsonl"), [], None)


def test_a_rise_past_the_threshold_is_flagged_and_a_small_one_is_not():
    general = GeneralSet("s", [[{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]] * 2)
    tokens = {"base": [10, 10], "tuned": [10, 10]}
    flagged = summarise(general, {"base": [20.0, 20.0], "tuned": [23.0, 23.0]}, tokens, 0.05)
    assert flagged.flagged and flagged.relative_increase == pytest.approx(0.15) and flagged.base_loss == 2.0
    calm = summarise(general, {"base": [20.0, 20.0], "tuned": [20.5, 20.5]}, tokens, 0.05)
    assert not calm.flagged and "within the 5% threshold" in calm.note
