"""Mixing general sets (JSONL, Parquet, saved HF dataset) by example or token ratio, with provenance."""

from __future__ import annotations

import json

import pytest

from webtune.dataset.mixing import RowError, to_messages

from tests.dataset.helpers import product, read_rejects, read_split, run_dataset_stage

TEMPLATE = {"name": "copy", "user": "Describe {{ title }} by {{ brand }}.", "assistant": "{{ description }}"}


def general_rows(n: int, words: int = 5) -> list[dict]:
    return [{"messages": [{"role": "user", "content": f"General question {i}?"},
                          {"role": "assistant", "content": " ".join(["answer"] * (words + i % 7))}]}
            for i in range(n)]


def test_row_shapes_openai_sharegpt_alpaca():
    assert to_messages({"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Yo"}]}) == [
        {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]
    assert to_messages({"instruction": "Sum", "input": "1 2", "output": "3", "system": "S"}) == [
        {"role": "system", "content": "S"}, {"role": "user", "content": "Sum\n\n1 2"}, {"role": "assistant", "content": "3"}]
    with pytest.raises(RowError):
        to_messages({"text": "plain"})


@pytest.mark.parametrize("ratio", [0.1, 0.25, 0.5])
def test_ratio_by_examples_is_within_one_example(tmp_path, tiny_model_dir, ratio):
    general = tmp_path / "general.jsonl"
    rows = general_rows(200)
    rows[1] = {"text": "not a chat"}  # drawn early by the seeded shuffle or not: either way accounted for
    general.write_text("\n".join(json.dumps(r) for r in rows) + "\n{bad json\n")
    docs = [product(i) for i in range(60)]
    dataset = {"templates": [TEMPLATE], "mix": [{"path": str(general), "ratio": ratio, "name": "chat"}]}
    manifest, out = run_dataset_stage(tmp_path, tiny_model_dir, dataset, docs)
    train = read_split(out, "train")
    n_general = sum(e["meta"]["source"] == "general:chat" for e in train)
    n_domain = len(train) - n_general
    assert abs(n_general - ratio * len(train)) <= 1
    assert n_domain == manifest.stats["by_template"]["copy"]["train"]
    # general examples only go to train (the default), validation/test stay domain-only
    for split in ("validation", "test"):
        assert all(e["meta"]["generator"] != "mix" for e in read_split(out, split))
    [prov] = manifest.stats["mix"]
    assert prov["name"] == "chat" and prov["split"] == "train" and prov["examples"] == n_general
    assert prov["drawn"] == prov["kept"] + prov["rejected"] and len(prov["sha256"]) == 64
    counts = manifest.counts
    assert counts.seen == counts.kept + counts.rejected == 60 + prov["drawn"]
    assert counts.rejected == len(read_rejects(out)) == prov["rejected"]


def test_ratio_by_tokens_across_two_sets_parquet_and_hf(tmp_path, tiny_model_dir):
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    sharegpt = [{"conversations": [{"from": "human", "value": f"Tell me fact {i}."},
                                   {"from": "gpt", "value": "Fact " * (3 + i % 11)}]} for i in range(300)]
    pq.write_table(pa.Table.from_pylist(sharegpt), tmp_path / "facts.parquet")
    alpaca = [{"instruction": f"Translate {i}", "input": "hello", "output": "hola " * (1 + i % 5)} for i in range(300)]
    datasets.DatasetDict({"train": datasets.Dataset.from_list(alpaca)}).save_to_disk(str(tmp_path / "alpaca_hf"))
    docs = [product(i) for i in range(50)]
    dataset = {"templates": [TEMPLATE], "split": {"validation": 0.1, "test": 0.1},
             "mix": [{"path": "facts.parquet", "ratio": 0.2, "by": "tokens"},
                     {"path": "alpaca_hf", "ratio": 0.1, "by": "tokens", "into": ["train", "validation"]}]}
    manifest, out = run_dataset_stage(tmp_path, tiny_model_dir, dataset, docs)
    for split in ("train", "validation"):
        examples = read_split(out, split)
        total = sum(e["meta"]["tokens"] for e in examples)
        for name, ratio in (("facts", 0.2), ("alpaca_hf", 0.1)):
            if name == "facts" and split == "validation":
                assert not any(e["meta"]["source"] == "general:facts" for e in examples)
                continue
            mine = [e["meta"]["tokens"] for e in examples if e["meta"]["source"] == f"general:{name}"]
            assert mine, (split, name)
            # within one (the largest) example of the token target
            assert abs(sum(mine) - ratio * total) <= max(mine), (split, name, sum(mine), total)
    names = {(p["name"], p["split"]) for p in manifest.stats["mix"]}
    assert names == {("facts", "train"), ("alpaca_hf", "train"), ("alpaca_hf", "validation")}
    assert read_split(out, "train")[-1]["meta"]["row"] >= 1  # provenance: row number in its source


def test_ratios_must_leave_room_for_the_domain_set(tmp_path, tiny_model_dir):
    from webtune.errors import WebtuneError

    general = tmp_path / "g.jsonl"
    general.write_text("\n".join(json.dumps(r) for r in general_rows(20)))
    dataset = {"templates": [TEMPLATE], "mix": [{"path": str(general), "ratio": 0.6}, {"path": str(general), "ratio": 0.5}]}
    with pytest.raises(WebtuneError, match="sum to less than 1"):
        run_dataset_stage(tmp_path, tiny_model_dir, dataset, [product(i) for i in range(20)])
