"""Held-out loss of a causal LM on chat examples, counted on assistant tokens only.

Examples are encoded with `webtune.chat_format.encode_chat`, the encoding training uses,
so the evaluation loss and the training loss measure the same thing.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

IGNORE = -100


def encode_examples(tokenizer: Any, conversations: Sequence[list[dict[str, str]]],
                    max_len: int | None = None) -> list[dict[str, list[int]]]:
    """``{"input_ids", "labels"}`` per conversation (labels -100 off the assistant tokens)."""
    from webtune.chat_format import encode_chat

    encoded = []
    for messages in conversations:
        item = encode_chat(tokenizer, messages, max_len=max_len)
        encoded.append({"input_ids": list(map(int, item["input_ids"])),
                        "labels": list(map(int, item["labels"]))})
    return encoded


def loss_batches(lengths: list[int], max_tokens: int) -> list[list[int]]:
    """Indices grouped so a batch's padded size (rows x longest) stays within ``max_tokens``.

    Sorted by length first, so little of each batch is padding; a single example longer
    than ``max_tokens`` gets a batch of its own.
    """
    batches: list[list[int]] = []
    current: list[int] = []
    for index in sorted(range(len(lengths)), key=lambda i: lengths[i]):
        longest = max([lengths[i] for i in current] + [lengths[index]])
        if current and longest * (len(current) + 1) > max_tokens:
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


def example_losses(model: Any, encoded: list[dict[str, list[int]]], pad_id: int, device: str = "cpu",
                   max_tokens: int = 4096, on_batch: Callable[[int], None] | None = None
                   ) -> tuple[list[float], list[int]]:
    """Summed NLL of each example's labelled tokens and how many tokens that is."""
    import torch
    import torch.nn.functional as F

    nll = [0.0] * len(encoded)
    counts = [0] * len(encoded)
    lengths = [len(e["input_ids"]) for e in encoded]
    model.eval()
    with torch.inference_mode():
        for batch in loss_batches(lengths, max_tokens):
            width = max(lengths[i] for i in batch)
            ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
            labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, index in enumerate(batch):  # right padding: positions stay as in training
                n = lengths[index]
                ids[row, :n] = torch.tensor(encoded[index]["input_ids"])
                labels[row, :n] = torch.tensor(encoded[index]["labels"])
                mask[row, :n] = 1
            # Token t predicts token t+1, as in the model's own loss. Positions before the first
            # label of the batch need no logits: the vocabulary projection is skipped there.
            first = int((labels != IGNORE).float().argmax(dim=1).min()) - 1
            keep = width - max(first, 0)
            logits = _logits(model, ids.to(device), mask.to(device), keep)
            shift_logits, shift_labels = logits[:, :-1], labels[:, width - keep + 1:].to(device)
            token_nll = F.cross_entropy(shift_logits.transpose(1, 2), shift_labels,
                                        ignore_index=IGNORE, reduction="none")
            valid = shift_labels != IGNORE
            for row, index in enumerate(batch):
                nll[index] = float(token_nll[row][valid[row]].sum())
                counts[index] = int(valid[row].sum())
            if on_batch:
                on_batch(len(batch))
    return nll, counts


def _logits(model: Any, ids: Any, mask: Any, keep: int) -> Any:
    """Float logits of the last ``keep`` positions (all of them if the model cannot limit them)."""
    try:
        out = model(input_ids=ids, attention_mask=mask, logits_to_keep=keep)
    except TypeError:  # a model without ``logits_to_keep``
        out = model(input_ids=ids, attention_mask=mask)
    return out.logits[:, -keep:].float()


def tuned_tokenizer(train_dir: Any, train_result: Any, base_path: Any, chat_template: str | None) -> Any:
    """The tokenizer of the model the train stage wrote (its adapter's, else the model's or the
    base's), rendering with ``chat_template`` when given (the template training rendered with)."""
    from webtune.models import load_tokenizer
    from webtune.serve.loader import ModelRef, tokenizer_dir

    adapter, full = train_result.local_dirs(train_dir)
    tokenizer = load_tokenizer(tokenizer_dir(ModelRef("tuned", model_path=full or base_path, adapter_path=adapter)))
    if chat_template:
        tokenizer.chat_template = chat_template
    return tokenizer
