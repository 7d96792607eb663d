"""Held-out preference accuracy: base vs tuned on the dataset stage's preference pairs."""

from __future__ import annotations

import json

import pytest

from tests.evaluate.helpers import ITEMS, SYSTEM, cached_adapter, make_examples, make_pipeline, publish_inputs
from webtune.evaluate.preference import IGNORE, last_answer_only, pair_scores, summarise
from webtune.pipeline import run_one_stage, stage_spec


def test_sum_and_mean_scores_can_disagree_on_a_hand_worked_pair():
    # chosen: NLL 10 over 10 tokens (log-lik -10, -1 per token); rejected: NLL 6 over 2 tokens (-6, -3 per token)
    nll, tokens = [10.0, 6.0, 1.0, 2.0], [10, 2, 1, 1]
    wins, margins = pair_scores(nll, tokens, "sum")
    assert wins == [0.0, 1.0] and margins == pytest.approx([-4.0, 1.0])
    wins, margins = pair_scores(nll, tokens, "mean")
    assert wins == [1.0, 1.0] and margins == pytest.approx([2.0, 1.0])
    assert pair_scores([3.0, 3.0], [1, 1], "sum")[0] == [0.0]  # a tie is not a win


def test_only_the_final_answer_is_scored():
    labels = [IGNORE, 5, 6, IGNORE, IGNORE, 7, 8, 9, IGNORE]
    assert last_answer_only(labels) == [IGNORE] * 5 + [7, 8, 9, IGNORE]
    assert last_answer_only([IGNORE, IGNORE]) == [IGNORE, IGNORE]


def test_summary_has_accuracies_intervals_and_the_paired_delta():
    wins = {"base": [0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0], "tuned": [1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0]}
    margins = {"base": [-1.0] * 8, "tuned": [2.0] * 8}
    p = summarise(wins, margins, source="x", unscored=1, score="sum", resamples=500, seed=0)
    assert (p.base_accuracy, p.tuned_accuracy, p.delta) == (0.375, 0.75, 0.375)
    assert p.base_ci95[0] <= 0.375 <= p.base_ci95[1] and p.tuned_ci95[0] <= 0.75 <= p.tuned_ci95[1]
    assert 0 < p.delta_ci95[0] <= 0.375 <= p.delta_ci95[1]  # tuned never loses a pair base won
    assert p.base_margin == -1.0 and p.tuned_margin == 2.0 and p.pairs == 8
    assert "base 37.5%" in p.note and "tuned 75.0%" in p.note and "1 unscored" in p.note


def preference_pairs():
    """Chosen: the answers the adapter was trained on; rejected: the same with its third word replaced."""
    pairs = []
    for i, (topic, answer) in enumerate(ITEMS):
        words = answer.split()
        other = " ".join(words[:2] + ["pencil"] + words[3:])
        pairs.append({"prompt": [{"role": "system", "content": SYSTEM},
                                 {"role": "user", "content": f"Tell me about the {topic}."}],
                      "chosen": answer, "rejected": other, "meta": {"source_id": f"doc-{i}"}})
    pairs.append({"prompt": [{"role": "user", "content": "q"}], "completion": "a", "desirable": True})  # KTO: skipped
    return pairs


def base_wins_by_hand(model_dir, pairs):
    """Mean log-prob per token of each answer with a plain forward pass, prompt found by rendering it alone."""
    import torch

    from webtune.models import load_causal_lm, load_tokenizer

    tokenizer, model = load_tokenizer(model_dir), load_causal_lm(model_dir).eval()
    wins = []
    for pair in pairs:
        scores = []
        for answer in (pair["chosen"], pair["rejected"]):
            prompt = tokenizer.apply_chat_template(pair["prompt"], tokenize=False, add_generation_prompt=True)
            full = tokenizer.apply_chat_template(pair["prompt"] + [{"role": "assistant", "content": answer}],
                                                 tokenize=False)
            n_prompt = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
            ids = torch.tensor([tokenizer(full, add_special_tokens=False)["input_ids"]])
            with torch.no_grad():
                logprobs = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), dim=-1)
            targets = ids[0, 1:]
            picked = logprobs[torch.arange(len(targets)), targets][n_prompt - 1:]
            scores.append(float(picked.mean()))
        wins.append(scores[0] > scores[1])
    return wins


def test_the_stage_reports_preference_accuracy_next_to_the_checks(tmp_path, tiny_model_dir, tmp_path_factory):
    adapter = cached_adapter(tiny_model_dir, tmp_path_factory.mktemp("adapter"))
    pairs = preference_pairs()
    publish_inputs(tmp_path, tiny_model_dir, adapter, test_lines=make_examples(6),
                   extra_files={"preference_test.jsonl": pairs})
    pipeline = make_pipeline(tiny_model_dir, tmp_path / "registry",
                             evaluate={"forgetting": {"enabled": False}, "bootstrap_resamples": 200,
                                       "preference": {"score": "mean"}})
    manifest = run_one_stage(stage_spec("evaluate"), pipeline, tmp_path, force=True)
    report = json.loads((tmp_path / "evaluate" / "report.json").read_text())
    p = report["preference"]
    assert p["status"] == "done" and p["pairs"] == 6 and p["score"] == "mean"
    # the tuned adapter was trained on the chosen answers: it prefers every one of them; the random
    # base model does not (checked by hand below)
    assert p["tuned_accuracy"] == 1.0 and p["tuned_margin"] > p["base_margin"]
    hand = base_wins_by_hand(tiny_model_dir, [q for q in pairs if "chosen" in q])
    assert p["base_accuracy"] == pytest.approx(sum(hand) / len(hand)) and p["base_accuracy"] < 1.0
    assert p["delta"] == pytest.approx(1.0 - p["base_accuracy"]) and p["delta_ci95"][0] > 0
    assert p["base_ci95"][0] <= p["base_accuracy"] <= p["base_ci95"][1]
    assert manifest.stats["preference"]["tuned_accuracy"] == 1.0
    md = (tmp_path / "evaluate" / "report.md").read_text()
    assert "preference accuracy (mean log-prob) on 6 held-out pairs" in md


def test_without_preference_pairs_there_is_no_section(tmp_path, tiny_model_dir, tmp_path_factory):
    adapter = cached_adapter(tiny_model_dir, tmp_path_factory.mktemp("adapter"))
    publish_inputs(tmp_path, tiny_model_dir, adapter, test_lines=make_examples(6))
    pipeline = make_pipeline(tiny_model_dir, tmp_path / "registry", evaluate={"forgetting": {"enabled": False}})
    run_one_stage(stage_spec("evaluate"), pipeline, tmp_path, force=True)
    report = json.loads((tmp_path / "evaluate" / "report.json").read_text())
    assert report["preference"] is None
    assert "preference accuracy" not in (tmp_path / "evaluate" / "report.md").read_text()


def test_a_pair_whose_answers_max_len_cuts_away_is_unscored(tiny_model_dir):
    from webtune.dataset.preference import read_record
    from webtune.evaluate.preference import encode_pairs
    from webtune.models import load_tokenizer

    tokenizer = load_tokenizer(tiny_model_dir)
    short = read_record({"prompt": [{"role": "user", "content": "Hi."}], "chosen": "Yes.", "rejected": "No."})
    long_prompt = read_record({"prompt": [{"role": "user", "content": "word " * 60}], "chosen": "Yes.",
                               "rejected": "No."})
    encoded, kept = encode_pairs(tokenizer, [short, long_prompt], max_len=40)
    assert kept == [0] and len(encoded) == 2
    chosen_labels = [label for label in encoded[0]["labels"] if label != IGNORE]
    assert tokenizer.decode(chosen_labels).startswith("Yes.")  # only the answer (and its end of turn) is scored
