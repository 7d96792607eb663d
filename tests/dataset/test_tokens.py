"""Token estimates shared by the dataset validator and the hosted trainer's cost estimate."""

from __future__ import annotations

from webtune.dataset.tokens import approx_file_tokens, approx_tokens
from webtune.jsonl import write_jsonl

CHATS = [[{"role": "user", "content": "x" * 40}, {"role": "assistant", "content": "y" * 8}],
         [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "hi"}]]


def test_approx_file_tokens_is_the_per_example_estimate_summed(tmp_path):
    write_jsonl(tmp_path / "train.jsonl", [{"messages": m, "meta": {"id": i}} for i, m in enumerate(CHATS)])
    assert approx_tokens(CHATS[0]) == (10 + 4) + (2 + 4) + 2
    assert approx_file_tokens(tmp_path / "train.jsonl") == sum(approx_tokens(m) for m in CHATS)


def test_the_hosted_estimate_uses_it_when_the_validator_gave_no_count(tmp_path):
    from webtune.hosted.jobs import JobRequest, estimate, prepare_split

    write_jsonl(tmp_path / "train.jsonl", [{"messages": m} for m in CHATS])
    split = prepare_split("train", tmp_path / "train.jsonl", tmp_path / "upload" / "train.jsonl", tokens=None)
    request = JobRequest(model="gpt-4o-mini-2024-07-18", method="supervised", hyperparameters={"n_epochs": 1},
                         suffix=None, seed=None, files={})
    figures = estimate({"train": split}, request)
    assert figures["train_tokens"] == sum(approx_tokens(m) for m in CHATS) and not figures["tokens_exact"]
