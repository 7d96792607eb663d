"""The losses of the first training steps on the tiny model are those of a plain PEFT loop.

webtune's step computes the same mathematics in a cheaper way: per-example attention over packed
rows (segment_attention), logits only where there is a label (loop.batch_nll) and one merged
product per LoRA layer (fused_lora). The reference is what transformers and PEFT do unmodified:
SDPA with the block-diagonal mask, the model's own loss over full logits, PEFT's LoRA forward.
Any change to the step that changes the training, beyond float rounding, fails here.
"""

from __future__ import annotations

import random

import pytest

torch = pytest.importorskip("torch")

STEPS = 4


def _batches():
    from webtune.train.packing import Encoded, collate_packed

    rng = random.Random(5)
    rows = []
    for _ in range(STEPS):
        row = []
        for n in (rng.randint(20, 60), rng.randint(20, 60), rng.randint(10, 30)):
            ids = [rng.randint(3, 700) for _ in range(n)]
            cut = n // 3  # a prompt without labels, then the "reply"
            row.append(Encoded(ids, [-100] * cut + ids[cut:]))
        rows.append(collate_packed([row], pad_id=2))
    return rows


def _train(model, batches, step_loss):
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=5e-2)
    losses = []
    for batch in batches:
        loss = step_loss(model, batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
    return losses


def test_first_steps_losses_match_plain_transformers_and_peft(tiny_model_dir):
    from transformers import AutoModelForCausalLM

    from webtune.train.backends.local_config import LocalTrainConfig
    from webtune.train.loop import batch_nll
    from webtune.train.modeling import add_lora, load_for_training

    config = LocalTrainConfig(lora={"r": 8, "alpha": 16, "dropout": 0.0})
    batches = _batches()

    torch.manual_seed(0)
    ours = load_for_training(tiny_model_dir, config, "cpu", "no").train()
    assert ours.config._attn_implementation == "webtune_segments"

    def our_loss(model, batch):
        nll, n = batch_nll(model, batch, "cpu")
        return nll / n

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), attn_implementation="sdpa",
                                                dtype=torch.float32)
    reference = add_lora(base, config.lora).train()  # PEFT's own forward

    def reference_loss(model, batch):
        return model(input_ids=batch["input_ids"], position_ids=batch["position_ids"],
                     labels=batch["labels"], use_cache=False).loss

    expected = _train(reference, batches, reference_loss)
    got = _train(ours, batches, our_loss)
    assert got == pytest.approx(expected, rel=1e-4, abs=1e-5)
    # The adapters trained (B starts at zero), so the later steps compared trained adapters.
    for model in (ours, reference):
        b = [p for n, p in model.named_parameters() if "lora_B" in n]
        assert min(float(p.detach().abs().max()) for p in b) > 1e-3




def _logits_and_adapter_grads(model, batch, bf16):
    """One forward and backward of ``model`` on ``batch`` (under bf16 autocast when asked):
    the labelled logits and the adapters' gradients, in fp32."""
    from webtune.train.loop import batch_nll

    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        nll, n = batch_nll(model, batch, "cpu")
    loss = nll / n
    loss.backward()
    grads = torch.cat([p.grad.flatten().float() for _, p in sorted(model.named_parameters()) if p.requires_grad])
    model.zero_grad(set_to_none=True)
    return float(loss.detach()), grads


def test_bf16_step_is_as_close_to_fp32_as_peft_under_autocast(tiny_model_dir):
    """`train.precision: bf16` on CPU (a bf16 base, fp32 adapters, autocast as accelerate sets
    it; fused_lora's in-place LoRA product and per-example attention) computes the fp32 step up
    to bf16 rounding: its loss and adapter gradients are as close to the fp32 ones as those of
    PEFT's own forward with SDPA under the same autocast. (A tiny random model barely learns, so
    bf16 training trajectories there are rounding noise amplified by Adam; one step's gradients
    are what can be compared.)"""
    from webtune.train import fused_lora
    from webtune.train.backends.local_config import LocalTrainConfig
    from webtune.train.modeling import load_for_training

    config = LocalTrainConfig(lora={"r": 8, "alpha": 16, "dropout": 0.0})
    batch = _batches()[0]

    def model(precision, **kwargs):
        torch.manual_seed(0)
        m = load_for_training(tiny_model_dir, config, "cpu", precision, **kwargs).train()
        generator = torch.Generator().manual_seed(1)
        with torch.no_grad():  # a trained adapter (B starts at zero)
            for name, p in sorted(m.named_parameters()):
                if "lora_B" in name:
                    p.copy_(torch.randn(p.shape, generator=generator) * 0.05)
        return m

    ours = model("bf16")
    layer = next(m for m in ours.modules() if getattr(m, fused_lora.INSTALLED, False))
    assert layer.base_layer.weight.dtype == torch.bfloat16
    assert layer.lora_A["default"].weight.dtype == torch.float32  # the adapter trains in fp32
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert fused_lora.kind_of(layer, torch.zeros(1, 2, layer.in_features, dtype=torch.bfloat16)) == "bf16"

    truth_loss, truth = _logits_and_adapter_grads(model("no", attention="sdpa", fused_lora=False), batch, False)
    peft_loss, peft = _logits_and_adapter_grads(model("bf16", attention="sdpa", fused_lora=False), batch, True)
    our_loss, got = _logits_and_adapter_grads(ours, batch, True)

    def error(g):
        return float((g - truth).norm() / truth.norm())

    assert 0 < error(peft) < 0.05  # bf16 rounding, not nothing
    assert error(got) < 1.5 * error(peft)
    assert abs(our_loss - truth_loss) < 1e-2
