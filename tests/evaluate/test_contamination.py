"""13-gram contamination between the test split, the train split and benchmark files."""

from __future__ import annotations

import json

import pytest

from webtune.errors import InputError
from webtune.evaluate.contamination import build_index, find_contaminated, normalize_words
from webtune.evaluate.runner import EvalItem

PLANTED = ("The stapler holds two hundred sheets and never jams, even when the office is "
           "busy on a Monday morning.")


def item(line, reply, prompt="Describe the product."):
    messages = [{"role": "system", "content": "You write product copy for a shop."},
                {"role": "user", "content": prompt}, {"role": "assistant", "content": reply}]
    return EvalItem(line=line, id=f"t{line}", messages=messages, prompt=messages[:-1], reference=reply)


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_normalisation_lowercases_and_drops_punctuation():
    assert normalize_words("Hello, WORLD! It's 12:30 -- fine_tuned.") == [
        "hello", "world", "it", "s", "12", "30", "fine", "tuned"]


def test_planted_overlaps_are_flagged_with_their_source_and_clean_examples_are_not(tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", [
        {"messages": [{"role": "user", "content": "Describe the product."},
                      {"role": "assistant", "content": "Intro. " + PLANTED.upper().replace(",", ";")}]}])
    bench = write_jsonl(tmp_path / "bench.jsonl", [{"question": "q", "answer": "A tidy desk drawer keeps "
                        "pens, clips and notes in order so that mornings start calmly and well."}])
    items = [item(1, PLANTED),  # the train text, re-cased and re-punctuated
             item(2, "Our drawer: a tidy desk drawer keeps pens clips and notes in order so that "
                     "mornings start calmly"),
             item(3, "A short and entirely new description of a blue pen that writes smoothly on paper."),
             item(4, "two hundred sheets and never jams"),  # 6 words: shorter than a 13-gram
             ]
    index = build_index(train, [bench], n=13)
    flags = {f.line: f for f in find_contaminated(items, index)}
    assert set(flags) == {1, 2}
    assert flags[1].sources == ["train"] and flags[2].sources == ["benchmark:bench.jsonl"]
    assert len(flags[1].ngram.split()) == 13 and flags[1].ngram in " ".join(normalize_words(PLANTED))
    assert index.texts == {"train": 1, "benchmark:bench.jsonl": 1}


def test_a_shared_prompt_template_alone_is_not_contamination(tmp_path):
    template = "Write a product description for this item using exactly the facts listed below and nothing else."
    train = write_jsonl(tmp_path / "train.jsonl", [{"messages": [
        {"role": "user", "content": template + " Title: Pen"}, {"role": "assistant", "content": "A fine pen."}]}])
    flags = find_contaminated([item(1, "A sturdy stapler.", prompt=template + " Title: Stapler")],
                              build_index(train, []))
    assert flags == []


def test_a_plain_text_benchmark_and_a_missing_one(tmp_path):
    text = tmp_path / "bench.txt"
    text.write_text("Some header.\n" + PLANTED + "\n")
    assert find_contaminated([item(1, PLANTED)], build_index(None, [text]))[0].sources == ["benchmark:bench.txt"]
    with pytest.raises(InputError, match="missing.jsonl: benchmark file not found"):
        build_index(None, [tmp_path / "missing.jsonl"])


def test_a_stock_phrase_is_not_contamination_but_a_copied_reply_is(tmp_path):
    """With ``min_coverage`` an example is flagged only when shared n-grams cover most of its reply."""
    stock = "A bright, practical set for school, the office, and creative projects at home or at work."
    train = write_jsonl(tmp_path / "train.jsonl", [{"messages": [
        {"role": "user", "content": "Describe the product."},
        {"role": "assistant", "content": "Sturdy binders in six colours. " + stock}]}])
    index = build_index(train, [])
    own_words = ("Gel pens with quick drying ink that resists smudging and a soft grip for long sessions "
                 "of note taking in lectures. ")
    items = [item(1, own_words + stock),  # about 40% of the reply is the stock phrase
             item(2, "Sturdy binders in six colours. " + stock)]  # the training reply itself
    assert {f.line for f in find_contaminated(items, index)} == {1, 2}  # any shared 13-gram (GPT-3)
    assert {f.line for f in find_contaminated(items, index, min_coverage=0.8)} == {2}
    _, _, coverage = index.check("Describe the product.", own_words + stock)
    assert 0.3 < coverage < 0.6
