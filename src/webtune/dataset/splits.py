"""Leak-free train/validation/test splits by a seeded hash over groups.

Examples are grouped by their near-duplicate cluster (``meta.cluster_id`` from clean) or, when
there is none, their source document, so one document and its near duplicates never land in two
splits. Groups are ordered by ``sha256(seed:group)``, and the test split, then the validation
split, take groups in that order until they reach their size; the rest is train. The same
data and seed always give the same splits, and adding data only moves a few groups.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import Any, Sequence

SPLITS = ("train", "validation", "test")


def group_key(meta: dict[str, Any]) -> str:
    """The group of an example: its cluster id, else its source document id."""
    cluster = meta.get("cluster_id")
    return f"cluster:{cluster}" if cluster not in (None, "") else f"doc:{meta.get('source_id')}"


def group_hash(seed: int, key: str) -> str:
    """The seeded hash that orders groups."""
    return hashlib.sha256(f"{seed}:{key}".encode("utf-8")).hexdigest()


def target_size(size: float, total: int, n_groups: int) -> int:
    """Examples a split should hold: a fraction of ``total`` (< 1) or a count (>= 1).

    A non-zero fraction gets at least one example when there are three or more groups, so
    small runs still have something to validate and test on.
    """
    if size >= 1:
        return min(int(size), total)
    target = int(round(size * total))
    if size > 0 and target == 0 and n_groups >= 3:
        target = 1
    return target


class SplitChooser:
    """Decides the split of each group, given groups one by one in hash order.

    Only the running sizes are kept, so a caller can stream the groups from disk.
    """

    def __init__(self, validation: float, test: float, total: int, n_groups: int):
        self.targets = {"test": target_size(test, total, n_groups),
                        "validation": target_size(validation, total, n_groups)}
        self.sizes = {"test": 0, "validation": 0}

    def choose(self, members: int) -> str:
        """The split of the next group, which holds ``members`` examples."""
        chosen = "train"
        for name in ("test", "validation"):
            need = self.targets[name] - self.sizes[name]
            # take the group if that brings the split closer to its target
            if need > 0 and abs(need - members) < need:
                chosen = name
                break
            if need > 0 and self.sizes[name] == 0 and members <= 2 * need:
                chosen = name  # an empty split takes a group that overshoots less than double
                break
        if chosen != "train":
            self.sizes[chosen] += members
        return chosen


def assign_splits(metas: Sequence[dict[str, Any]], validation: float, test: float, seed: int) -> list[str]:
    """The split name of each example (same order as ``metas``)."""
    groups: dict[str, list[int]] = defaultdict(list)
    for index, meta in enumerate(metas):
        groups[group_key(meta)].append(index)
    order = sorted(groups, key=lambda k: group_hash(seed, k))
    chooser = SplitChooser(validation, test, len(metas), len(groups))
    result = [""] * len(metas)
    for key in order:
        chosen = chooser.choose(len(groups[key]))
        for index in groups[key]:
            result[index] = chosen
    return result


class PinnedSplits:
    """The splits earlier dataset versions gave their groups (a refresh run's history).

    A group seen before keeps its split: a test or validation example of an earlier version (or
    a changed record of it, which clean puts in the same cluster) never moves into a later
    training split, and an earlier training group never leaks into a later test split. Groups
    not seen before are split by `SplitChooser` as usual.
    """

    def __init__(self, pins: dict[str, str]):
        self.pins = pins

    def split_of(self, meta: dict[str, Any]) -> str | None:
        """The pinned split of an example's group, None when its group is new."""
        return self.pins.get(group_key(meta))


def split_assignments(metas: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Group key -> split of examples that carry ``meta.split`` (what a version persists)."""
    return {group_key(meta): meta["split"] for meta in metas if meta.get("split") in SPLITS}
