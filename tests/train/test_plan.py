"""The data order: fixed by the seed, resumable at any step, split across processes."""

from __future__ import annotations

from webtune.train.plan import StepPlan, shard_for_eval

UNITS = [[i] for i in range(10)]


def test_plan_covers_every_unit_once_per_epoch_in_a_seeded_order():
    plan = StepPlan(UNITS, batch_size=2, accumulation=1, seed=5, epochs=2)
    assert plan.total_steps == 10
    first = [u for s in range(5) for mb in plan.micro_batches(s) for u in mb]
    second = [u for s in range(5, 10) for mb in plan.micro_batches(s) for u in mb]
    assert sorted(first) == sorted(second) == list(range(10))
    assert first != second  # reshuffled each epoch
    assert StepPlan(UNITS, batch_size=2, seed=5, epochs=2).order == plan.order
    assert StepPlan(UNITS, batch_size=2, seed=6, epochs=2).order != plan.order


def test_fractional_epochs_accumulation_and_max_steps():
    plan = StepPlan(UNITS, batch_size=1, accumulation=3, epochs=1.5)
    assert len(plan.order) == 15 and plan.total_steps == 5
    assert [len(mb) for mb in plan.micro_batches(0)] == [1, 1, 1]
    assert StepPlan(UNITS, epochs=3, max_steps=4).total_steps == 4


def test_processes_get_disjoint_shares_and_equal_counts():
    plan = StepPlan(UNITS, batch_size=2, world_size=2, seed=1, epochs=1)
    assert plan.total_steps == 3  # 10 units, 4 per step: the last step wraps around
    for step in range(plan.total_steps):
        a, b = plan.micro_batches(step, 0), plan.micro_batches(step, 1)
        assert len(a) == len(b)
        if step < 2:
            assert not set(sum(a, [])) & set(sum(b, []))
    shares = [shard_for_eval([[0], [1], [2]], 2, rank) for rank in (0, 1)]
    assert [len(s) for s in shares] == [2, 2]
    assert sorted(u[0] for s in shares for u, counts in s if counts) == [0, 1, 2]
