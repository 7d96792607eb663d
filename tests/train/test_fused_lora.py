"""The merged LoRA product (webtune.train.fused_lora) computes what PEFT's LoRA computes."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")


def _lora_linear(in_features: int = 24, out_features: int = 40, r: int = 4, dropout: float = 0.0):
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    net = torch.nn.Sequential()
    net.add_module("proj", torch.nn.Linear(in_features, out_features, bias=True))
    model = get_peft_model(net, LoraConfig(r=r, lora_alpha=2 * r, lora_dropout=dropout, target_modules=["proj"]))
    layer = model.base_model.model.proj
    with torch.no_grad():  # B starts at zero in PEFT; a trained adapter is what must match
        layer.lora_B["default"].weight.normal_(0, 0.5)
    return model, layer


def _outputs_and_grads(layer, x):
    x = x.clone().requires_grad_(True)
    y = layer(x)
    (y * torch.linspace(-1, 1, y.shape[-1])).sum().backward()
    grads = (x.grad.clone(), layer.lora_A["default"].weight.grad.clone(),
             layer.lora_B["default"].weight.grad.clone())
    layer.zero_grad(set_to_none=True)
    return y.detach(), grads


def test_merged_product_matches_peft_outputs_and_gradients():
    from webtune.train import fused_lora

    model, layer = _lora_linear()
    x = torch.randn(2, 7, 24)
    expected = _outputs_and_grads(layer, x)
    assert fused_lora.install(model) == 1
    assert fused_lora.fusable(layer, x, {}) == "default"
    got = _outputs_and_grads(layer, x)
    torch.testing.assert_close(got[0], expected[0], rtol=1e-5, atol=1e-5)
    for g, e in zip(got[1], expected[1]):
        torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-5)


def test_peft_forward_is_kept_where_the_merged_product_does_not_apply():
    from webtune.train import fused_lora

    model, layer = _lora_linear(dropout=0.1)
    fused_lora.install(model)
    x = torch.randn(3, 24)
    assert fused_lora.fusable(layer, x, {}) is None  # dropout
    model2, layer2 = _lora_linear()
    fused_lora.install(model2)
    assert fused_lora.fusable(layer2, x.double(), {}) is None  # not fp32
    with model2.disable_adapter():
        torch.testing.assert_close(layer2(x), layer2.base_layer(x))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert fused_lora.fusable(layer2, x, {}) is None


def _bf16_lora_linear():
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    net = torch.nn.Sequential()
    net.add_module("proj", torch.nn.Linear(64, 96, bias=True))
    model = get_peft_model(net.to(torch.bfloat16), LoraConfig(r=4, lora_alpha=8, target_modules=["proj"]))
    layer = model.base_model.model.proj
    with torch.no_grad():
        layer.lora_B["default"].weight.normal_(0, 0.5)
    return model, layer


def _autocast_outputs_and_grads(layer, x):
    x = x.clone().requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = layer(x)
    (y.float() * torch.linspace(-1, 1, y.shape[-1])).sum().backward()
    grads = (x.grad.float(), layer.lora_A["default"].weight.grad.clone(), layer.lora_B["default"].weight.grad.clone())
    layer.zero_grad(set_to_none=True)
    return y.detach().float(), grads


def test_bf16_base_adds_the_thin_product_like_peft_under_autocast():
    """A bf16 base with fp32 adapters (train.precision: bf16 on CPU): the same output up to one
    bf16 rounding step, the adapter's gradients in fp32 and equal to PEFT's."""
    from webtune.train import fused_lora

    model, layer = _bf16_lora_linear()
    assert layer.lora_A["default"].weight.dtype == torch.float32
    x = torch.randn(3, 5, 64).bfloat16()
    expected = _autocast_outputs_and_grads(layer, x)
    fused_lora.install(model)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert fused_lora.kind_of(layer, x) == "bf16"
        assert fused_lora.kind_of(layer, x.float()) is None  # autocast's own casting: PEFT's path
    assert fused_lora.kind_of(layer, x) == "bf16"
    got = _autocast_outputs_and_grads(layer, x)
    scale = float(expected[0].abs().max())
    torch.testing.assert_close(got[0], expected[0], rtol=0, atol=scale * 2 ** -7)
    torch.testing.assert_close(got[1][0], expected[1][0], rtol=0, atol=float(expected[1][0].abs().max()) * 2 ** -7)
    for g, e in zip(got[1][1:], expected[1][1:]):
        assert g.dtype == torch.float32
        torch.testing.assert_close(g, e, rtol=1e-2, atol=1e-2 * float(e.abs().max()))
    # the update is not rounded away: without the adapter the output moves
    with model.disable_adapter(), torch.autocast("cpu", dtype=torch.bfloat16):
        assert float((layer(x).float() - got[0]).abs().max()) > scale * 0.05
