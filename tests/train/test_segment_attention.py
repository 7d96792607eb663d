"""Per-example causal attention over packed rows (CPU): exact, isolated, and only where it applies."""

from __future__ import annotations

import random

import pytest

from webtune.train.packing import Encoded, collate_packed
from webtune.train.segment_attention import register, segment_bounds, supports_segments


@pytest.fixture(scope="module")
def tiny_pair(tiny_model_dir):
    """The tiny model twice, with the same weights: transformers' SDPA and webtune's segments."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    models = [AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), attn_implementation=impl,
                                                   dtype=torch.float32).eval()
              for impl in ("sdpa", register())]
    return models


def test_segment_bounds_follow_restarting_positions():
    import torch

    assert segment_bounds(torch.tensor([0, 1, 2, 0, 1, 0, 1, 2, 3])) == [(0, 3), (3, 5), (5, 9)]
    assert segment_bounds(torch.tensor([0, 1, 2, 3])) == [(0, 4)]
    # A row that continues a sequence (positions not from 0) is still one segment.
    assert segment_bounds(torch.tensor([5, 6, 7])) == [(0, 3)]


def _packed_batch():
    rng = random.Random(3)
    examples = [Encoded(ids := [rng.randint(3, 500) for _ in range(n)], ids) for n in (23, 9, 31)]
    return examples, collate_packed([examples, examples[:1]], pad_id=2)  # row 2 ends in padding


def test_packed_logits_equal_sdpa_and_each_example_alone(tiny_pair):
    import torch

    sdpa, segments = tiny_pair
    examples, batch = _packed_batch()
    with torch.no_grad():
        ours = segments(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False).logits
        theirs = sdpa(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False).logits
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-4)
        start = 0
        for example in examples:
            alone = sdpa(input_ids=torch.tensor([example.input_ids])).logits[0]
            torch.testing.assert_close(ours[0, start:start + len(example)], alone, atol=1e-5, rtol=1e-4)
            start += len(example)


def test_packed_gradients_equal_sdpa(tiny_pair):
    import torch

    _, batch = _packed_batch()
    grads = []
    for model in tiny_pair:
        model.zero_grad()
        logits = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False).logits
        (logits.float() ** 2).mean().backward()
        grads.append(model.model.layers[0].self_attn.q_proj.weight.grad.clone())
    assert grads[0].abs().max() > 0
    torch.testing.assert_close(grads[1], grads[0], atol=1e-6, rtol=1e-4)


def test_padded_batches_and_generation_fall_back_to_sdpa(tiny_pair):
    import torch

    sdpa, segments = tiny_pair
    ids = torch.randint(3, 500, (2, 12))
    mask = torch.ones_like(ids)
    mask[1, 8:] = 0
    with torch.no_grad():
        ours = segments(input_ids=ids, attention_mask=mask).logits
        theirs = sdpa(input_ids=ids, attention_mask=mask).logits
    torch.testing.assert_close(ours[mask.bool()], theirs[mask.bool()], atol=1e-5, rtol=1e-4)
    kwargs = {"max_new_tokens": 6, "do_sample": False, "pad_token_id": 2}
    assert segments.generate(ids[:1], **kwargs).tolist() == sdpa.generate(ids[:1], **kwargs).tolist()


def test_only_plain_causal_models_use_segments(tiny_model_dir):
    from transformers import AutoConfig, MistralConfig

    from webtune.train.modeling import attention_implementation

    llama = AutoConfig.from_pretrained(str(tiny_model_dir))
    assert supports_segments(llama)
    assert attention_implementation("cpu", llama) == "webtune_segments"
    assert attention_implementation("cpu", None) == "sdpa"
    windowed = MistralConfig(sliding_window=16)
    assert not supports_segments(windowed)
    assert attention_implementation("cpu", windowed) == "sdpa"


def test_saved_model_does_not_name_the_webtune_attention(tiny_model_dir, tmp_path):
    """A fully fine-tuned model saved from training loads anywhere, without webtune registered."""
    import json

    from webtune.train.backends.local_config import LocalTrainConfig
    from webtune.train.modeling import load_for_training

    model = load_for_training(tiny_model_dir, LocalTrainConfig(method="full"), "cpu", "no")
    assert model.config._attn_implementation == "webtune_segments"
    model.save_pretrained(tmp_path / "out")
    saved = json.loads((tmp_path / "out" / "config.json").read_text())
    assert "webtune_segments" not in json.dumps(saved)
