"""The data order of a training run, fixed before the first step.

Every optimizer step's micro-batches are a pure function of (units, seed, epochs, batch size,
accumulation, world size) and the step number, so a resumed run continues with exactly the
data an uninterrupted run would have seen, and every process of a distributed run agrees on it.

A *unit* is a packed row (a list of example indices) or, without packing, one example.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field


@dataclass
class StepPlan:
    """Which units each process trains on at each optimizer step."""

    units: list[list[int]]
    batch_size: int = 1
    accumulation: int = 1
    world_size: int = 1
    seed: int = 0
    epochs: float = 1.0
    max_steps: int | None = None
    order: list[int] = field(init=False)
    total_steps: int = field(init=False)

    def __post_init__(self) -> None:
        if not self.units:
            raise ValueError("nothing to train on")
        n = len(self.units)
        order: list[int] = []
        for epoch in range(math.ceil(self.epochs)):
            perm = list(range(n))
            random.Random(f"{self.seed}-{epoch}").shuffle(perm)
            take = n if epoch + 1 <= self.epochs else max(1, round(n * (self.epochs - epoch)))
            order += perm[:take]
        per_step = self.units_per_step
        steps = math.ceil(len(order) / per_step)
        if self.max_steps is not None:
            steps = min(steps, self.max_steps)
        if self.world_size > 1:
            # Every process must run the same number of micro-batches (collectives would hang):
            # fill the last step by wrapping around, as DistributedSampler does.
            need = steps * per_step
            order = (order * math.ceil(need / len(order)))[:need]
        self.order = order
        self.total_steps = steps

    @property
    def units_per_step(self) -> int:
        return self.batch_size * self.accumulation * self.world_size

    @property
    def steps_per_epoch(self) -> float:
        return len(self.units) / self.units_per_step

    def micro_batches(self, step: int, rank: int = 0) -> list[list[int]]:
        """The micro-batches (lists of unit indices) process ``rank`` runs at ``step``."""
        start = step * self.units_per_step
        mine = self.order[start:start + self.units_per_step][rank::self.world_size]
        return [mine[i:i + self.batch_size] for i in range(0, len(mine), self.batch_size)]

    def epoch_at(self, step: int) -> float:
        """Epochs completed after ``step`` steps (fractional)."""
        return min(step * self.units_per_step, len(self.order)) / len(self.units)


def shard_for_eval(units: list[list[int]], world_size: int, rank: int) -> list[tuple[list[int], bool]]:
    """Process ``rank``'s share of the evaluation units as ``(unit, counts)`` pairs.

    Every process gets the same number of units (FSDP and DeepSpeed forwards are collective);
    fillers repeat the first unit and are marked ``counts=False``.
    """
    per_rank = math.ceil(len(units) / world_size) if units else 0
    mine = units[rank::world_size]
    return [(u, True) for u in mine] + [(units[0], False)] * (per_rank - len(mine))
