"""The tiny random-weight model the rest of the test suite trains and serves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from webtune.models.tiny import TINY_SYSTEM_PROMPT, build_tiny_model

CHAT = [
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "Paris."},
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """A tiny model built once for this module."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="module")
def tokenizer(tiny):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny), local_files_only=True)


@pytest.fixture(scope="module")
def model(tiny):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(str(tiny), local_files_only=True)


def test_files_and_config(tiny):
    names = {p.name for p in tiny.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "generation_config.json"} <= names
    config = json.loads((tiny / "config.json").read_text())
    assert config["model_type"] == "llama"
    assert config["num_hidden_layers"] == 2 and config["hidden_size"] == 32
    assert config["num_key_value_heads"] == 2
    assert config["max_position_embeddings"] == 1024
    assert 500 <= config["vocab_size"] <= 1000


def test_special_tokens(tokenizer, model):
    assert tokenizer.convert_tokens_to_ids(["<|endoftext|>", "<|im_start|>", "<|im_end|>"]) == [0, 1, 2]
    assert tokenizer.eos_token == tokenizer.pad_token == "<|im_end|>"
    assert tokenizer.bos_token == "<|im_start|>"
    assert model.generation_config.eos_token_id == tokenizer.eos_token_id
    assert model.config.pad_token_id == tokenizer.pad_token_id
    ids = tokenizer("hello world")["input_ids"]
    assert tokenizer.decode(ids) == "hello world"  # no bos added, byte-level round trip
    assert tokenizer.model_max_length == 1024


def test_generates(tokenizer, model):
    enc = tokenizer.apply_chat_template(
        CHAT[:1], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    out = model.generate(**enc, max_new_tokens=4, min_new_tokens=4, do_sample=False)
    assert out.shape[1] == enc["input_ids"].shape[1] + 4


def test_forward_backward(tokenizer, model):
    import torch

    enc = tokenizer(["one two three", "four"], padding=True, return_tensors="pt")
    out = model(**enc, labels=enc["input_ids"])
    assert torch.isfinite(out.loss)
    out.loss.backward()
    assert model.model.embed_tokens.weight.grad is not None
    model.zero_grad()


def test_chat_template_renders(tokenizer):
    text = tokenizer.apply_chat_template(CHAT, tokenize=False)
    assert text == (
        f"<|im_start|>system\n{TINY_SYSTEM_PROMPT}<|im_end|>\n"
        "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n"
        "<|im_start|>assistant\nParis.<|im_end|>\n"
    )
    prompt = tokenizer.apply_chat_template(CHAT[:1], tokenize=False, add_generation_prompt=True)
    assert prompt.endswith("<|im_end|>\n<|im_start|>assistant\n")
    with_system = [{"role": "system", "content": "Be brief."}, *CHAT]
    assert tokenizer.apply_chat_template(with_system, tokenize=False).count("system") == 1


def test_assistant_mask(tokenizer):
    two_turns = [*CHAT, {"role": "user", "content": "And Italy?"}, {"role": "assistant", "content": "Rome."}]
    enc = tokenizer.apply_chat_template(two_turns, return_assistant_tokens_mask=True, return_dict=True)
    masked = [i for i, m in zip(enc["input_ids"], enc["assistant_masks"]) if m]
    assert tokenizer.decode(masked) == "Paris.<|im_end|>Rome.<|im_end|>"


def test_deterministic(tmp_path, tiny):
    again = build_tiny_model(tmp_path / "again")
    other = build_tiny_model(tmp_path / "other", seed=1)
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        assert (again / name).read_bytes() == (tiny / name).read_bytes(), name
    assert (other / "model.safetensors").read_bytes() != (tiny / "model.safetensors").read_bytes()
    assert (other / "tokenizer.json").read_bytes() == (tiny / "tokenizer.json").read_bytes()


def test_vocab_corpus_and_sizes(tmp_path, tokenizer):
    from transformers import AutoConfig, AutoTokenizer

    word = "zyxwvutsrq"
    out = build_tiny_model(
        tmp_path / "custom", vocab_corpus=[f"{word} {word}"] * 20, hidden_size=16, layers=1, heads=2,
        max_position_embeddings=256,
    )
    custom = AutoTokenizer.from_pretrained(str(out), local_files_only=True)
    assert len(custom(word)["input_ids"]) < len(tokenizer(word)["input_ids"])
    config = AutoConfig.from_pretrained(str(out), local_files_only=True)
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads) == (16, 1, 2)
    assert config.max_position_embeddings == 256
