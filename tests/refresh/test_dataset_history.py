"""Split assignments persist across versions; retraining takes every earlier version's examples."""

from __future__ import annotations

from webtune.config import validate_pipeline
from webtune.dataset.splits import PinnedSplits, group_key
from webtune.pipeline import run_one_stage, stage_spec
from webtune.refresh.history import History
from tests.dataset.helpers import demo_dataset_section, product, read_split, write_docs


def run_version(tmp_path, model_dir, docs, version_dir: str, train: str = "continue"):
    clean = write_docs(tmp_path / version_dir / "clean", docs)
    pipeline = validate_pipeline({"name": "t", "base_model": str(model_dir), "seed": 7,
                                  "dataset": demo_dataset_section(),
                                  "refresh": {"history": "history", "train": train}}, base_dir=tmp_path)
    manifest = run_one_stage(stage_spec("dataset"), pipeline, tmp_path / version_dir, inputs={"clean": clean},
                             force=True)
    return manifest, tmp_path / version_dir / "dataset"


def commit(history: History, version: int, out) -> dict[str, str]:
    from webtune.dataset.splits import split_assignments

    metas = [e["meta"] for split in ("train", "validation", "test") for e in read_split(out, split)]
    pins = split_assignments(metas)
    history.commit(version, {f"{s}.jsonl": out / f"{s}.jsonl" for s in ("train", "validation", "test")}, {}, pins)
    return pins


def test_groups_keep_their_earlier_split_and_new_groups_are_split_as_usual(tmp_path, tiny_model_dir):
    history = History(tmp_path / "history")
    docs = [product(i) for i in range(40)]
    _, out1 = run_version(tmp_path, tiny_model_dir, docs, "v1")
    pins = commit(history, 1, out1)
    v1_test = {e["meta"]["cluster_id"] for e in read_split(out1, "test")}
    assert v1_test and set(pins.values()) == {"train", "validation", "test"}

    # v2: changed records of v1's test and validation groups (clean gave them their earlier cluster)
    # among new products whose hash order would put some of them into test
    pinned_groups = [c for c, s in ((k.removeprefix("cluster:"), v) for k, v in pins.items()) if s != "train"]
    changed = [product(100 + n, description=f"New copy number {n} for a pinned product, reworded twice.")
               for n in range(len(pinned_groups))]
    for doc, cluster in zip(changed, pinned_groups):
        doc["meta"]["cluster_id"] = cluster
    manifest, out2 = run_version(tmp_path, tiny_model_dir, changed + [product(i) for i in range(200, 240)], "v2")
    splits = {e["meta"]["cluster_id"]: split for split in ("train", "validation", "test")
              for e in read_split(out2, split)}
    for cluster in pinned_groups:
        assert splits[cluster] == pins[f"cluster:{cluster}"]
    assert not v1_test & {e["meta"]["cluster_id"] for e in read_split(out2, "train")}
    refresh = manifest.stats["refresh"]
    assert sum(refresh["pinned_examples"].values()) == len(pinned_groups)
    assert read_split(out2, "test")  # the new groups still make a test split of their own
    assert refresh["history_examples"] == {}  # continue: the new data only


def test_retrain_adds_every_earlier_versions_train_and_validation_examples(tmp_path, tiny_model_dir):
    history = History(tmp_path / "history")
    _, out1 = run_version(tmp_path, tiny_model_dir, [product(i) for i in range(40)], "v1")
    commit(history, 1, out1)
    manifest, out2 = run_version(tmp_path, tiny_model_dir, [product(i) for i in range(300, 330)], "v2",
                                 train="retrain")
    old_train = read_split(out1, "train")
    from_v1 = [e for e in read_split(out2, "train") if e["meta"].get("from_version") == 1]
    assert [e["messages"] for e in from_v1] == [e["messages"] for e in old_train]
    assert manifest.stats["refresh"]["history_examples"] == {"train": len(old_train),
                                                             "validation": len(read_split(out1, "validation"))}
    assert not any(e["meta"].get("from_version") for e in read_split(out2, "test"))  # tests stay new
    counts = manifest.counts
    assert counts.seen == counts.kept + counts.rejected


def test_pinned_splits_look_up_the_group_of_an_example():
    pins = PinnedSplits({"cluster:c1": "test", "doc:d9": "validation"})
    assert pins.split_of({"cluster_id": "c1"}) == "test"
    assert pins.split_of({"source_id": "d9"}) == "validation"
    assert pins.split_of({"cluster_id": "new"}) is None
    assert group_key({"source_id": "d9"}) == "doc:d9"


def test_preference_records_follow_their_groups_pinned_split():
    """A document's preference records go where its chat examples go: a pinned split first
    (dataset.stage.write_preferences), the group's hashed split otherwise."""
    from types import SimpleNamespace

    from webtune.dataset.generators.base import Candidate
    from webtune.dataset.stage import write_preferences

    cands = [Candidate(None, {"cluster_id": c, "source_id": f"d-{c}"}, kind="preference") for c in ("old", "new")]
    written, docs = {}, []
    checked = SimpleNamespace(read=lambda: iter(cands))
    index = SimpleNamespace(split_of=lambda group_hash: "train", add_doc=docs.append)
    output = SimpleNamespace(preference=lambda cand, split: written.__setitem__(cand.meta["cluster_id"], split),
                             reject=lambda reject: None)
    write_preferences(checked, index, 0, output, PinnedSplits({"cluster:old": "test"}))
    assert written == {"old": "test", "new": "train"} and docs == ["d-old", "d-new"]
