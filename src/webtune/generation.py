"""Batched generation with a transformers causal LM: one place for every caller that answers many
prompts at once (evaluate through `LocalChatModel.generate_batch`, `bench/evaluate_speed.py`; the
server may use it for offline batches too).

How a batch is made, and why:

* **Per-batch length sorting.** Prompts are sorted by token length and cut into batches of
  ``batch_size``, so a batch holds prompts of similar length and little padding; answers are put
  back in the callers' order.
* **Left padding.** A decoder-only model continues from the right end of each row, so pads go
  on the left; transformers derives position ids from the attention mask, so a padded prompt
  is seen exactly as the same prompt alone.
* **KV cache.** ``use_cache=True``: each new token costs one position, not the whole prefix.
* **Greedy by default** (``temperature`` 0): answers are reproducible, and batched answers equal
  one-at-a-time answers token for token (tested in tests/core/test_generation.py).
* **Stop tokens.** Generation of a row ends at any of ``stop_ids``; an answer that hits
  ``max_new_tokens`` first is marked ``finish_reason="length"``.

transformers' ``generate`` does the decoding; what is hand-written here is only the batching
around it (transformers has no "sort, batch, restore order" helper).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable


@dataclass
class Generated:
    """One answer as token ids (cut before the stop token), its prompt length and why it stopped."""

    ids: list[int]
    prompt_tokens: int
    finish_reason: str  # "stop": a stop token ended it; "length": max_new_tokens did


def generation_config(max_new_tokens: int, stop_ids: Iterable[int], pad_id: int | None,
                      temperature: float = 0.0, top_p: float = 1.0) -> Any:
    """A transformers `GenerationConfig`: greedy unless ``temperature`` > 0, KV cache on."""
    from transformers import GenerationConfig

    sample = temperature is not None and temperature > 0
    kwargs: dict[str, Any] = {"max_new_tokens": max_new_tokens, "do_sample": sample, "use_cache": True,
                              "eos_token_id": sorted(set(stop_ids)), "pad_token_id": pad_id}
    if sample:
        kwargs.update(temperature=temperature, top_p=top_p)
    return GenerationConfig(**kwargs)


def length_sorted_batches(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Indices of ``lengths`` in batches of at most ``batch_size``, shortest prompts first."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [order[start:start + batch_size] for start in range(0, len(order), batch_size)]


def cut_at_stop(ids: list[int], stops: set[int]) -> tuple[list[int], str]:
    """The ids before the first stop token, and ``stop`` or ``length``."""
    cut = next((i for i, token in enumerate(ids) if token in stops), None)
    return (ids, "length") if cut is None else (ids[:cut], "stop")


def generate_batch(model: Any, tokenizer: Any, prompts: list[str], *, max_new_tokens: int,
                   stop_ids: Iterable[int], batch_size: int = 8, temperature: float = 0.0,
                   top_p: float = 1.0, device: str = "cpu",
                   on_batch: Callable[[int], None] | None = None) -> list[Generated]:
    """Answer every rendered prompt (text that ends where the answer starts), in the given order.

    ``on_batch(n)`` is called after each batch with the number of prompts it answered.
    """
    import torch

    stops = set(stop_ids)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    encoded = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    config = generation_config(max_new_tokens, stops, pad_id, temperature, top_p)
    results: list[Generated | None] = [None] * len(prompts)
    with torch.inference_mode():
        for chunk in length_sorted_batches([len(e) for e in encoded], batch_size):
            input_ids, mask = left_padded([encoded[i] for i in chunk], pad_id, device)
            out = model.generate(input_ids=input_ids, attention_mask=mask, generation_config=config)
            new_tokens = out[:, input_ids.shape[1]:].tolist()
            for row, index in enumerate(chunk):
                ids, reason = cut_at_stop(new_tokens[row], stops)
                results[index] = Generated(ids=ids, prompt_tokens=len(encoded[index]), finish_reason=reason)
            if on_batch:
                on_batch(len(chunk))
    return [r for r in results if r is not None]


def left_padded(rows: list[list[int]], pad_id: int, device: str = "cpu") -> tuple[Any, Any]:
    """A (batch, width) tensor of ids padded on the left, and its attention mask (the server's
    batcher uses it too)."""
    import torch

    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for n, row in enumerate(rows):
        if row:
            ids[n, width - len(row):] = torch.tensor(row, dtype=torch.long)
            mask[n, width - len(row):] = 1
    return ids.to(device), mask.to(device)
