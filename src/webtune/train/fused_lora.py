"""LoRA layers computed as one matrix product, with the adapter merged into the weight (CPU, fp32).

PEFT computes a LoRA linear layer as ``base(x) + lora_B(lora_A(x)) * scaling``: the base
product, two thin products (rank r), then a scaling pass and an addition over the layer's whole
output, each a fresh tensor of tokens x out_features; the backward pass repeats the pattern.
On CPU those memory-bound passes are a large share of a step: in the profile of a LoRA step on
SmolLM2-135M with rows of 1024 tokens (bench/RESULTS.md), the element-wise multiplications and
additions took 18 % of the time, the thin products 5 %.

Here the layer multiplies once by the merged weight ``W' = W + scaling * B @ A`` (a rank-r
update of a weight matrix: out x in values, fewer than the tokens x out of the output, and
formed again in the backward pass rather than kept):

    forward   y  = x W'^T (+ bias),           h = x A^T (kept for the backward pass)
    backward  dx = dy W',   dB = s dy^T h,   dA = s (dy B)^T x

which is PEFT's LoRA exactly, in exact arithmetic (``tests/train/test_fused_lora.py`` compares
outputs, gradients and the losses of the first training steps); float rounding differs slightly.

With a bf16 base (``train.precision: bf16`` on a CPU with AVX512-BF16 or AMX, where bf16 products
run several times faster than fp32 ones) the merged weight would lose the update: a rank-16 change
far below a bf16 weight's rounding step is rounded away. There the layer keeps the two products
apart but adds the thin one into the base output in place (``y.addmm_(h, B^T)``: one matrix
kernel with beta 1, no extra pass over the output), and likewise ``dx = dy W + s (dy B) A`` in the
backward pass; the products run in bf16 (as under PEFT with autocast) and the adapter's gradients
are returned in the adapter's own fp32.

It applies only where that holds and pays: a plain ``nn.Linear`` base layer, one active adapter,
no dropout, no DoRA or other variant, not merged, on CPU, fp32 without autocast or a bf16 base.
Everything else (GPU, fp16, QLoRA, several adapters) takes PEFT's own forward unchanged.
"""

from __future__ import annotations

import types
from typing import Any, Callable

INSTALLED = "_webtune_fused_lora"


def _merged_lora_function() -> Any:
    import torch
    import torch.nn.functional as F

    class MergedLoraLinear(torch.autograd.Function):
        """``x (W + s B A)^T + bias`` with gradients for x, A and B (W and bias are frozen)."""

        @staticmethod
        def forward(ctx: Any, x: Any, weight: Any, bias: Any, lora_a: Any, lora_b: Any, scaling: float) -> Any:
            merged = torch.addmm(weight, lora_b, lora_a, alpha=scaling)
            h = torch.matmul(x, lora_a.t())
            ctx.save_for_backward(x, h, weight, lora_a, lora_b)
            ctx.scaling = scaling
            return F.linear(x, merged, bias)

        @staticmethod
        def backward(ctx: Any, grad: Any) -> Any:
            x, h, weight, lora_a, lora_b = ctx.saved_tensors
            scaling = ctx.scaling
            grad2 = grad.reshape(-1, grad.shape[-1])
            x2, h2 = x.reshape(-1, x.shape[-1]), h.reshape(-1, h.shape[-1])
            grad_x = None
            if ctx.needs_input_grad[0]:
                merged = torch.addmm(weight, lora_b, lora_a, alpha=scaling)
                grad_x = torch.mm(grad2, merged).view(x.shape)
            grad_a = torch.mm(torch.mm(grad2, lora_b).t(), x2).mul_(scaling)
            grad_b = torch.mm(h2.t(), grad2).t().mul_(scaling)  # (h^T dy)^T: the faster order in MKL
            return grad_x, None, None, grad_a, grad_b, None

    return MergedLoraLinear


def _half_lora_function() -> Any:
    import torch
    import torch.nn.functional as F

    class HalfLoraLinear(torch.autograd.Function):
        """``x W^T + bias + s (x A^T) B^T`` for a half-precision base, the thin product added in
        place; gradients for x, A and B (A and B may be fp32: their gradients come back so)."""

        @staticmethod
        def forward(ctx: Any, x: Any, weight: Any, bias: Any, lora_a: Any, lora_b: Any, scaling: float) -> Any:
            a, b = lora_a.to(x.dtype), lora_b.to(x.dtype)
            x2 = x.reshape(-1, x.shape[-1])
            h = torch.mm(x2, a.t())
            y = F.linear(x2, weight, bias).addmm_(h, b.t(), alpha=scaling)
            ctx.save_for_backward(x2, h, weight, a, b)
            ctx.scaling, ctx.shape = scaling, x.shape
            ctx.dtypes = (lora_a.dtype, lora_b.dtype)
            return y.view(*x.shape[:-1], y.shape[-1])

        @staticmethod
        def backward(ctx: Any, grad: Any) -> Any:
            x2, h, weight, a, b = ctx.saved_tensors
            scaling = ctx.scaling
            grad2 = grad.reshape(-1, grad.shape[-1]).to(x2.dtype)
            gb = torch.mm(grad2, b)  # tokens x r
            grad_x = None
            if ctx.needs_input_grad[0]:
                grad_x = torch.mm(grad2, weight).addmm_(gb, a, alpha=scaling).view(ctx.shape)
            grad_a = torch.mm(gb.t(), x2).to(ctx.dtypes[0]).mul_(scaling)
            grad_b = torch.mm(h.t(), grad2).t().to(ctx.dtypes[1]).mul_(scaling)
            return grad_x, None, None, grad_a, grad_b, None

    return HalfLoraLinear


_FUNCTIONS: dict[str, Any] = {}


def _function(kind: str = "fp32") -> Any:
    if kind not in _FUNCTIONS:
        _FUNCTIONS[kind] = _merged_lora_function() if kind == "fp32" else _half_lora_function()
    return _FUNCTIONS[kind]


def kind_of(layer: Any, x: Any) -> str | None:
    """Which fused product fits ``layer(x)``'s precisions: "fp32" (merged weight), "bf16" (a bf16
    base, the thin product added in place), or None (PEFT's forward)."""
    import torch

    weight = layer.base_layer.weight
    adapters = (layer.lora_A[layer.active_adapters[0]].weight, layer.lora_B[layer.active_adapters[0]].weight)
    if torch.is_autocast_enabled("cpu"):
        # autocast would compute a float32 input in bf16; only an input already in the base's
        # bf16 is computed the same way here
        return "bf16" if x.dtype == weight.dtype == torch.bfloat16 else None
    if x.dtype == weight.dtype == adapters[0].dtype == adapters[1].dtype == torch.float32:
        return "fp32"
    if x.dtype == weight.dtype == torch.bfloat16 and all(a.dtype in (torch.float32, torch.bfloat16)
                                                           for a in adapters):
        return "bf16"
    return None


def fusable(layer: Any, x: Any, kwargs: dict[str, Any]) -> str | None:
    """The adapter name when ``layer(x)`` can take the merged product, else None."""
    import torch

    if kwargs or layer.disable_adapters or layer.merged or x.device.type != "cpu":
        return None
    active = layer.active_adapters
    if len(active) != 1:
        return None
    name = active[0]
    if name not in layer.lora_A or name in getattr(layer, "lora_variant", {}):
        return None
    base, lora_a, lora_b = layer.base_layer, layer.lora_A[name], layer.lora_B[name]
    if type(base) is not torch.nn.Linear or base.weight.requires_grad or getattr(layer, "fan_in_fan_out", False):
        return None
    if base.bias is not None and base.bias.requires_grad:
        return None
    if not isinstance(layer.lora_dropout[name], torch.nn.Identity):
        return None
    if lora_a.bias is not None or lora_b.bias is not None:
        return None
    return name if kind_of(layer, x) else None


def _fused_forward(original: Callable[..., Any]) -> Callable[..., Any]:
    def forward(self: Any, x: Any, *args: Any, **kwargs: Any) -> Any:
        name = None if args else fusable(self, x, kwargs)
        if name is None:
            return original(x, *args, **kwargs)
        base = self.base_layer
        return _function(kind_of(self, x)).apply(x, base.weight, base.bias, self.lora_A[name].weight,
                                                 self.lora_B[name].weight, float(self.scaling[name]))

    return forward


def install(model: Any) -> int:
    """Give every PEFT LoRA linear layer of ``model`` the merged forward (where it applies, see
    `fusable`; PEFT's forward otherwise). Returns the number of layers changed."""
    from peft.tuners.lora.layer import Linear as LoraLinear

    count = 0
    for module in model.modules():
        if type(module) is LoraLinear and not getattr(module, INSTALLED, False):
            module.forward = types.MethodType(_fused_forward(module.forward), module)
            setattr(module, INSTALLED, True)
            count += 1
    return count
