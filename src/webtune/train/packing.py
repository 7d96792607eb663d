"""Best-fit-decreasing packing of tokenized examples into rows, and the batches fed to the model.

Packed rows are padding-free: the examples of a row are concatenated and ``position_ids``
restart at 0 for each of them. With no ``attention_mask`` (and ``use_cache=False``)
transformers derives a block-diagonal causal mask from those restarts (SDPA/eager) or the
sequence boundaries (FlashAttention varlen), and webtune's CPU attention
(`webtune.train.segment_attention`) runs one causal attention per example, so no token attends
to another example.

Also here: the naive alternative (batches of examples padded to the longest, with an attention
mask), used by the benchmark to show what packing buys.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any, Sequence

IGNORE_INDEX = -100


@dataclass(frozen=True)
class Encoded:
    """One tokenized example: token ids and labels (-100 where there is no loss)."""

    input_ids: list[int]
    labels: list[int]

    def __len__(self) -> int:
        return len(self.input_ids)


def best_fit_decreasing(lengths: Sequence[int], capacity: int) -> list[list[int]]:
    """Pack item indices into bins of ``capacity`` with best-fit decreasing.

    Items are placed longest first, each into the open bin with the least room left that still
    fits it (a new bin if none does). Deterministic: ties keep index order. Items longer than
    ``capacity`` are an error (truncate them first).
    """
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    room: list[tuple[int, int]] = []  # (free slots, bin id), kept sorted
    bins: list[list[int]] = []
    for index in order:
        length = lengths[index]
        if length > capacity:
            raise ValueError(f"item {index} has {length} tokens, more than the row size {capacity}")
        at = bisect.bisect_left(room, (length, -1))
        if at == len(room):
            bins.append([index])
            bisect.insort(room, (capacity - length, len(bins) - 1))
        else:
            free, bin_id = room.pop(at)
            bins[bin_id].append(index)
            bisect.insort(room, (free - length, bin_id))
    return bins


def packing_efficiency(lengths: Sequence[int], rows: Sequence[Sequence[int]], capacity: int) -> float:
    """Real tokens / token slots: how full the rows of ``capacity`` tokens are."""
    slots = len(rows) * capacity
    return sum(lengths) / slots if slots else 0.0


def collate_packed(rows: Sequence[Sequence[Encoded]], pad_id: int) -> dict[str, Any]:
    """A micro-batch of packed rows: ``input_ids``, ``labels``, ``position_ids`` (no mask).

    Rows shorter than the longest in the batch are filled with a padding *segment* whose
    positions restart at 0 too, so it is a separate sequence no real token attends to, and whose
    labels are -100. Also returns ``n_real`` (non-pad tokens) and ``n_labels`` (tokens with
    loss, after the shift).
    """
    import torch

    width = max(sum(len(e) for e in row) for row in rows)
    ids, labels, positions, n_real = [], [], [], 0
    for row in rows:
        r_ids, r_lab, r_pos = [], [], []
        for example in row:
            r_ids += example.input_ids
            # The first token of an example is never predicted from the one before it.
            r_lab += [IGNORE_INDEX] + example.labels[1:]
            r_pos += list(range(len(example)))
        n_real += len(r_ids)
        pad = width - len(r_ids)
        ids.append(r_ids + [pad_id] * pad)
        labels.append(r_lab + [IGNORE_INDEX] * pad)
        positions.append(r_pos + list(range(pad)))
    labels_t = torch.tensor(labels)
    return {
        "input_ids": torch.tensor(ids),
        "labels": labels_t,
        "position_ids": torch.tensor(positions),
        "n_real": n_real,
        "n_slots": width * len(rows),
        "n_labels": int((labels_t[:, 1:] != IGNORE_INDEX).sum()),
    }


def collate_padded(examples: Sequence[Encoded], pad_id: int) -> dict[str, Any]:
    """A naive micro-batch: examples right-padded to the longest, with an ``attention_mask``."""
    import torch

    width = max(len(e) for e in examples)
    ids = [e.input_ids + [pad_id] * (width - len(e)) for e in examples]
    labels = [[IGNORE_INDEX] + e.labels[1:] + [IGNORE_INDEX] * (width - len(e)) for e in examples]
    mask = [[1] * len(e) + [0] * (width - len(e)) for e in examples]
    labels_t = torch.tensor(labels)
    return {
        "input_ids": torch.tensor(ids),
        "labels": labels_t,
        "attention_mask": torch.tensor(mask),
        "n_real": sum(len(e) for e in examples),
        "n_slots": width * len(examples),
        "n_labels": int((labels_t[:, 1:] != IGNORE_INDEX).sum()),
    }


def row_length(config: Any, lengths: list[int]) -> int:
    """Tokens per packed row: ``pack_length``, else ``max_seq_len``, and never shorter than the
    longest example."""
    base = config.pack_length if config.pack_length is not None else config.max_seq_len
    return max([base, *lengths])


def training_units(config: Any, lengths: list[int], row: int) -> list[list[int]]:
    """The units a step plan orders: examples packed into rows of ``row`` tokens, or one each."""
    return best_fit_decreasing(lengths, row) if config.packing else [[i] for i in range(len(lengths))]
