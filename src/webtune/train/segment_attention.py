"""Attention over packed rows that computes only each example's own causal block (CPU).

With SDPA, transformers turns the restarting ``position_ids`` of a packed row into a
block-diagonal mask over the whole row, and the kernel still computes every query against every
key of the row: a row of 512 tokens holding three examples pays for 512 x 512 scores where only
the three diagonal blocks count. FlashAttention's varlen kernel skips the blocked parts on a GPU;
this does the same on CPU by running one causal SDPA call per example (``is_causal=True``, no
mask, grouped-query attention without copying the key/value heads).

Registered with transformers as the attention implementation ``webtune_segments``. It takes the
segment path only where it is exact: no padding mask, no cache offset, as many keys as queries.
Everything else (padded batches, generation with a cache) goes to transformers' SDPA unchanged.
"""

from __future__ import annotations

from typing import Any

NAME = "webtune_segments"
_registered = False


def segment_bounds(position_ids: Any) -> list[tuple[int, int]]:
    """``(start, end)`` of each example in one packed row, from its restarting positions.

    A new example starts wherever the position does not follow the previous one (the rule
    transformers uses to detect packed rows), so a padding segment is a block of its own.
    """
    import torch

    length = int(position_ids.shape[-1])
    breaks = (torch.diff(position_ids) != 1).nonzero().flatten() + 1
    starts = [0] + breaks.tolist()
    return list(zip(starts, starts[1:] + [length]))


def segment_attention_forward(module: Any, query: Any, key: Any, value: Any, attention_mask: Any,
                              dropout: float = 0.0, scaling: float | None = None,
                              **kwargs: Any) -> tuple[Any, None]:
    """Causal attention within each packed example; transformers' SDPA for anything else.

    ``query`` is (batch, heads, length, head_dim), ``key``/``value`` (batch, kv_heads, length,
    head_dim); returns (batch, length, heads, head_dim) like transformers' attention functions.
    """
    import torch
    import torch.nn.functional as F
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    exact = (attention_mask is None and query.shape[2] == key.shape[2]
             and kwargs.get("softcap") is None and not kwargs.get("sliding_window"))
    if not exact:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout,
                                      scaling=scaling, **kwargs)
    position_ids = kwargs.get("position_ids")
    length = query.shape[2]
    gqa = query.shape[1] != key.shape[1]
    rows = []
    for b in range(query.shape[0]):
        if position_ids is None:
            bounds = [(0, length)]
        else:
            bounds = segment_bounds(position_ids[min(b, position_ids.shape[0] - 1)])
        parts = [F.scaled_dot_product_attention(
                    query[b:b + 1, :, s:e], key[b:b + 1, :, s:e], value[b:b + 1, :, s:e],
                    dropout_p=dropout if module.training else 0.0, is_causal=True, scale=scaling,
                    enable_gqa=gqa)
                 for s, e in bounds]
        rows.append(parts[0] if len(parts) == 1 else torch.cat(parts, dim=2))
    out = rows[0] if len(rows) == 1 else torch.cat(rows, dim=0)
    return out.transpose(1, 2).contiguous(), None


def segment_mask(*, attention_mask: Any = None, q_offset: Any = 0, kv_offset: Any = 0, **kwargs: Any) -> Any:
    """No mask where the attention function works from the positions; else SDPA's mask.

    transformers calls mask functions with keyword arguments only (``masking_utils``).
    """
    from transformers.masking_utils import sdpa_mask

    no_offset = isinstance(q_offset, int) and q_offset == 0 and isinstance(kv_offset, int) and kv_offset == 0
    # use_vmap: the model added mask functions of its own (e.g. image tokens); keep them.
    custom = kwargs.get("local_size") or kwargs.get("use_vmap")
    if attention_mask is None and no_offset and kwargs.get("q_length") == kwargs.get("kv_length") and not custom:
        return None
    return sdpa_mask(attention_mask=attention_mask, q_offset=q_offset, kv_offset=kv_offset, **kwargs)


def register() -> str:
    """Register ``webtune_segments`` with transformers (once per process); return its name."""
    global _registered
    if not _registered:
        from transformers import AttentionInterface
        from transformers.masking_utils import AttentionMaskInterface

        AttentionInterface.register(NAME, segment_attention_forward)
        AttentionMaskInterface.register(NAME, segment_mask)
        _registered = True
    return NAME


def supports_segments(config: Any) -> bool:
    """Whether a model's attention is plain causal (no sliding window, no logit soft-capping)."""
    if getattr(config, "use_sliding_window", True) and getattr(config, "sliding_window", None):
        return False
    if getattr(config, "attn_logit_softcapping", None):
        return False
    layer_types = getattr(config, "layer_types", None) or []
    return all(kind == "full_attention" for kind in layer_types)
