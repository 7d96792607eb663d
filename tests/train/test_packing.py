"""Best-fit-decreasing packing, its efficiency, and isolation of packed examples."""

from __future__ import annotations

import random

import pytest

from webtune.train.packing import (IGNORE_INDEX, Encoded, best_fit_decreasing, collate_packed,
                                   collate_padded, packing_efficiency)


def test_bfd_places_every_item_once_within_capacity():
    rng = random.Random(1)
    lengths = [rng.randint(20, 400) for _ in range(300)]
    rows = best_fit_decreasing(lengths, 1024)
    assert sorted(i for row in rows for i in row) == list(range(len(lengths)))
    assert all(sum(lengths[i] for i in row) <= 1024 for row in rows)
    # Close to the lower bound on the number of rows; far fuller than one example per row.
    assert len(rows) <= -(-sum(lengths) // 1024) + 2
    assert packing_efficiency(lengths, rows, 1024) > 0.95
    assert best_fit_decreasing(lengths, 1024) == rows  # deterministic


def test_bfd_packs_longest_first_into_the_tightest_row():
    # 7s open two rows with 3 slots left; each 3 fills one of them exactly; the last 3 opens a row.
    assert best_fit_decreasing([3, 3, 3, 7, 7], 10) == [[3, 0], [4, 1], [2]]
    # The 4 goes to the row with exactly 4 slots left rather than the one with 5.
    assert best_fit_decreasing([5, 6, 4], 10) == [[1, 2], [0]]


def test_bfd_rejects_items_longer_than_a_row():
    with pytest.raises(ValueError, match="more than the row size"):
        best_fit_decreasing([5, 11], 10)


def test_collate_packed_restarts_positions_and_masks_example_starts():
    a, b, c = Encoded([5, 6, 7], [5, 6, 7]), Encoded([8, 9], [IGNORE_INDEX, 9]), Encoded([4], [4])
    batch = collate_packed([[a, b], [c]], pad_id=0)
    assert batch["input_ids"].tolist() == [[5, 6, 7, 8, 9], [4, 0, 0, 0, 0]]
    assert batch["position_ids"].tolist() == [[0, 1, 2, 0, 1], [0, 0, 1, 2, 3]]
    assert batch["labels"].tolist() == [[-100, 6, 7, -100, 9], [-100, -100, -100, -100, -100]]
    assert "attention_mask" not in batch
    assert (batch["n_real"], batch["n_slots"], batch["n_labels"]) == (6, 10, 3)
    padded = collate_padded([a, b], pad_id=0)
    assert padded["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert (padded["n_real"], padded["n_slots"]) == (5, 6)


@pytest.fixture(scope="module")
def tiny_lm(tiny_model_dir):
    from webtune.models import load_causal_lm

    return load_causal_lm(tiny_model_dir).eval()


def test_packed_example_logits_equal_its_logits_alone(tiny_lm):
    """Examples in one row cannot attend to each other (block-diagonal mask from position_ids)."""
    import torch

    rng = random.Random(0)
    examples = [Encoded(ids := [rng.randint(3, 500) for _ in range(n)], ids) for n in (17, 9, 30)]
    batch = collate_packed([examples, examples[1:2]], pad_id=2)  # second row ends in a pad segment
    with torch.no_grad():
        packed = tiny_lm(input_ids=batch["input_ids"], position_ids=batch["position_ids"],
                         use_cache=False).logits
        start = 0
        for example in examples:
            alone = tiny_lm(input_ids=torch.tensor([example.input_ids])).logits[0]
            torch.testing.assert_close(packed[0, start:start + len(example)], alone, atol=1e-5, rtol=1e-4)
            start += len(example)
        alone = tiny_lm(input_ids=torch.tensor([examples[1].input_ids])).logits[0]
        torch.testing.assert_close(packed[1, :len(examples[1])], alone, atol=1e-5, rtol=1e-4)
        # Without restarting positions (one long causal sequence) the later examples would differ.
        plain = tiny_lm(input_ids=batch["input_ids"][:1], use_cache=False).logits
        assert (plain[0, 17:26] - packed[0, 17:26]).abs().max() > 1e-3


def test_row_length_is_pack_length_else_max_seq_len():
    from webtune.train.backends.local_config import LocalTrainConfig
    from webtune.train.loop import row_length

    assert row_length(LocalTrainConfig(max_seq_len=1024), [300, 200]) == 1024
    assert row_length(LocalTrainConfig(max_seq_len=256), [100]) == 256
    assert row_length(LocalTrainConfig(pack_length=384), [100]) == 384
    assert row_length(LocalTrainConfig(pack_length=384), [700]) == 700  # never shorter than an example
