"""The dataset stage's disk-backed state: duplicate keys, split groups and candidates on disk."""

from __future__ import annotations

import random
from collections import Counter

from webtune.dataset.generators import Candidate
from webtune.dataset.spill import DiskIndex, SpillFile, digest
from webtune.dataset.splits import SplitChooser, assign_splits, group_hash, group_key
from webtune.dataset.tokens import distribution, histogram_distribution


def test_groups_on_disk_get_the_same_splits_as_in_memory(tmp_path):
    rng = random.Random(3)
    metas = [{"source_id": f"d{i}", "cluster_id": rng.choice([None, f"c{rng.randrange(60)}"])} for i in range(500)]
    index = DiskIndex(tmp_path / "index.sqlite")
    for meta in metas:
        index.add_to_group(group_hash(11, group_key(meta)))
    chooser = SplitChooser(0.1, 25, len(metas), index.group_count())
    index.assign_groups(chooser.choose)
    on_disk = [index.split_of(group_hash(11, group_key(m))) for m in metas]
    assert on_disk == assign_splits(metas, 0.1, 25, seed=11)
    assert set(on_disk) == {"train", "validation", "test"}
    index.close()


def test_duplicate_keys_are_found_once(tmp_path):
    index = DiskIndex(tmp_path / "index.sqlite")
    keys = [digest(t) for t in ("a", "b", "a", "c", "b")]
    assert [index.first_time(k) for k in keys] == [True, True, False, True, False]
    index.close()


def test_spilled_candidates_read_back_in_order(tmp_path):
    spill = SpillFile(tmp_path / "lane.jsonl")
    spill.write(Candidate([{"role": "user", "content": "é"}], {"source_id": "x"}, tokens=5))
    spill.write(Candidate(None, {"source_id": "y"}, reject={"reason": "bad"}, source={"kind": "files", "uri": "u"}))
    spill.close()
    first, second = spill.read()
    assert (first.messages, first.meta, first.tokens, first.reject) == ([{"role": "user", "content": "é"}],
                                                                       {"source_id": "x"}, 5, None)
    assert second.reject == {"reason": "bad"} and second.source == {"kind": "files", "uri": "u"}


def test_token_distribution_from_a_histogram_matches_the_values():
    rng = random.Random(5)
    for n in (1, 2, 19, 20, 21, 400):
        values = [rng.randrange(1, 90) for _ in range(n)]
        ordered = sorted(values)
        expected = {"count": n, "min": ordered[0], "mean": round(sum(values) / n, 1),
                    "p50": ordered[max(0, -(-n // 2) - 1)], "p95": ordered[max(0, -(-95 * n // 100) - 1)],
                    "max": ordered[-1], "total": sum(values)}
        assert histogram_distribution(Counter(values)) == distribution(values) == expected
    assert histogram_distribution(Counter())["count"] == 0


def test_the_stage_leaves_no_spill_behind_and_clears_a_killed_runs(tmp_path, tiny_model_dir):
    from tests.dataset.helpers import demo_dataset_section, product, run_dataset_stage

    stale = tmp_path / "run" / ".work" / "dataset" / "spill-killed"
    stale.mkdir(parents=True)
    (stale / "lane-0.jsonl").write_text("{}\n")
    run_dataset_stage(tmp_path, tiny_model_dir, demo_dataset_section(), [product(i) for i in range(12)])
    assert not list((tmp_path / "run" / ".work" / "dataset").glob("spill-*"))
