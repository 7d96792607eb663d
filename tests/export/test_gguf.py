"""GGUF export: metadata an independent reader finds, and the round trip through transformers' GGUF loader."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from webtune.errors import InputError
from webtune.export import gguf_file
from webtune.export.roundtrip import check_gguf
from webtune.export.source import ExportSource


def test_f16_answers_token_for_token_and_q8_0_agrees(exported):
    _, out, output = exported
    report = json.loads((out / "gguf" / "roundtrip.json").read_text())["results"]
    f16, q8 = report["f16"], report["q8_0"]
    assert f16["prompt_source"].endswith("dataset/test.jsonl") and f16["prompts"] == 2
    assert f16["prompts_tokenized_equal"] == 2  # the GGUF's own tokenizer and template give the same ids
    assert f16["exact_answers"] == 2 and f16["token_agreement"] == 1.0 and f16["passed"]
    assert f16["tokens_compared"] > 0
    assert q8["token_agreement"] >= 0.95 and q8["passed"]
    assert "GGUF round trip" in output and "pass" in output


def test_metadata_holds_template_special_tokens_and_types(exported, tiny_model_dir):
    import gguf
    from transformers import AutoTokenizer

    _, out, _ = exported
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    for quant, matrix_type in (("f16", gguf.GGMLQuantizationType.F16), ("q8_0", gguf.GGMLQuantizationType.Q8_0)):
        reader = gguf.GGUFReader(str(out / "gguf" / f"tiny-v1-{quant}.gguf"))
        meta = {key: field.contents() for key, field in reader.fields.items()}
        assert meta["general.architecture"] == "llama"
        assert meta["tokenizer.ggml.model"] == "gpt2" and meta["tokenizer.ggml.pre"] == "smollm"
        assert meta["tokenizer.chat_template"] == tokenizer.chat_template
        im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
        assert meta["tokenizer.ggml.eos_token_id"] == im_end and meta["tokenizer.ggml.eot_token_id"] == im_end
        assert meta["tokenizer.ggml.bos_token_id"] == tokenizer.convert_tokens_to_ids("<|im_start|>")
        assert meta["tokenizer.ggml.padding_token_id"] == tokenizer.pad_token_id
        assert len(meta["tokenizer.ggml.tokens"]) == len(tokenizer)
        assert meta["tokenizer.ggml.token_type"][:3] == [gguf.TokenType.CONTROL] * 3  # the ChatML specials
        assert len(meta["tokenizer.ggml.merges"]) > 100
        assert meta["llama.attention.head_count_kv"] == 2 and meta["llama.block_count"] == 2
        types = {t.name: t.tensor_type for t in reader.tensors}
        assert "output.weight" not in types  # tied embeddings: llama.cpp reuses token_embd
        assert types["blk.0.attn_q.weight"] == matrix_type and types["blk.0.attn_norm.weight"] == 0  # F32


def test_round_trip_fails_without_the_rotary_permutation(tiny_version, tmp_path, monkeypatch):
    """The q/k permutation is what makes transformers' loader (which reverses it) read the weights back."""
    registry, version = tiny_version
    source = ExportSource.open(version.label, registry, max_prompts=2, max_new_tokens=12)
    monkeypatch.setattr(gguf_file, "permute", lambda weights, n_head, n_head_kv: weights)
    path = gguf_file.write_gguf(source, tmp_path / "unpermuted.gguf", "f16")
    report = check_gguf(source, path, "f16")
    assert not report["passed"] and report["token_agreement"] < 1.0


def test_other_architectures_and_tokenizers_are_refused_in_one_line():
    qwen = SimpleNamespace(architectures=["Qwen2ForCausalLM"], model_type="qwen2")
    with pytest.raises(InputError, match=r"^m: gguf export supports LlamaForCausalLM; this model is Qwen2ForCausalLM$"):
        gguf_file.check_architecture(qwen, "m")
    spec = {"pre_tokenizer": {"type": "Metaspace"}}
    with pytest.raises(InputError, match="cannot name this pre-tokenizer"):
        gguf_file.pre_tokenizer_name(spec, "m")


def test_permute_matches_the_inverse_transformers_applies():
    import numpy as np
    from transformers.modeling_gguf_pytorch_utils import LlamaTensorProcessor

    weights = np.arange(16 * 4, dtype=np.float32).reshape(16, 4)
    permuted = gguf_file.permute(weights, 4, 2)
    assert not np.array_equal(permuted, weights)
    restored = LlamaTensorProcessor()._reverse_permute_weights(permuted, 4, 2)
    assert np.array_equal(restored, weights)
