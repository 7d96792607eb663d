"""Dedup against history: earlier versions' persisted signatures (not their data) recognise exact
and near duplicates as ``seen_before``; a changed record keeps its earlier split group."""

from __future__ import annotations

import json

from webtune.clean.config import CleanConfig
from webtune.clean.stage import run_clean
from webtune.collect.documents import make_document
from webtune.refresh.history import SIGNATURES
from webtune.stage import run_stage
from tests.refresh.conftest import read_lines, refresh_shared

WORDS = ("stapler paper binder marker folder envelope notebook pencil eraser ruler scissors tape glue clip "
         "label calendar planner desk lamp chair cabinet shelf tray drawer board pin ink cartridge toner").split()


def text(seed: int, n: int = 40) -> str:
    return " ".join(WORDS[(seed * 7 + i * (seed % 5 + 1)) % len(WORDS)] + str((seed * 31 + i) % 97) for i in range(n))


def doc(title: str, description: str, key: str) -> dict:
    d = make_document(kind="files", uri="snap.json", fields={"title": title, "description": description})
    d["meta"]["record_key"] = key
    return d


def clean(tmp_path, history, version: int, docs: list[dict]):
    collect = tmp_path / f"v{version}" / "collect"
    collect.mkdir(parents=True)
    (collect / "documents.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    config = CleanConfig.model_validate({"steps": [{"step": "dedup", "fields": ["title", "description"]}],
                                         "workers": 1})
    manifest = run_stage("clean", run_clean, run_dir=tmp_path / f"v{version}", config=config,
                         inputs={"collect": collect}, shared=refresh_shared(history, version))
    out = tmp_path / f"v{version}" / "clean"
    if version:
        history.commit(version, {SIGNATURES: out / SIGNATURES}, {}, {})
    return manifest, read_lines(out / "documents.jsonl"), read_lines(out / "rejects.jsonl"), out


def test_earlier_records_and_their_near_duplicates_are_seen_before(tmp_path, history):
    a, b, c = (doc(f"Item {i}", text(i), f"url:{i}") for i in (1, 2, 3))
    _, kept1, rejects1, out1 = clean(tmp_path, history, 1, [a, b, c])
    assert len(kept1) == 3 and not rejects1
    saved = read_lines(out1 / SIGNATURES)
    assert [s["id"] for s in saved] == [a["id"], b["id"], c["id"]]
    assert len(saved[0]["parts"][0][0]) == 128  # the MinHash values, not the text

    # the data of v1 is gone: only its signatures remain
    (tmp_path / "v1" / "clean" / "documents.jsonl").unlink()
    (tmp_path / "v1" / "collect" / "documents.jsonl").unlink()
    b_near = doc("Item 2", text(2) + " now with a spare refill", "url:2b")
    c_changed = doc("Item 3 second edition", text(33), "url:3")  # the same product, new copy
    d = doc("Item 4", text(4), "url:4")
    manifest, kept2, rejects2, out2 = clean(tmp_path, history, 2, [dict(a), b_near, c_changed, d, dict(d)])
    by_reason = {}
    for r in rejects2:
        by_reason.setdefault(r["reason"], []).append(r)
    assert sorted(by_reason) == ["exact_duplicate", "seen_before"]
    seen = {r["record"]["id"]: r for r in by_reason["seen_before"]}
    assert set(seen) == {a["id"], b_near["id"]}
    assert seen[a["id"]]["value"] == 1.0 and seen[a["id"]]["duplicate_of"] == a["id"]
    # a near duplicate (other text, so not the exact key), verified on its shingles against b's
    assert b_near["fields"]["description"] != b["fields"]["description"]
    assert seen[b_near["id"]]["duplicate_of"] == b["id"] and seen[b_near["id"]]["value"] >= 0.8
    assert seen[b_near["id"]]["version"] == 1
    counts = manifest.counts
    assert (counts.seen, counts.kept, counts.rejected) == (5, 2, 3)
    assert manifest.stats["steps"]["dedup"]["history_signatures"] == 3
    clusters = {k["id"]: k["meta"]["cluster_id"] for k in kept2}
    assert clusters == {c_changed["id"]: c["id"], d["id"]: d["id"]}  # the changed record keeps its group
    assert [s["id"] for s in read_lines(out2 / SIGNATURES)] == [c_changed["id"], d["id"]]


def test_signatures_of_other_dedup_settings_are_not_compared(tmp_path, history):
    a = doc("Item 1", text(1), "url:1")
    clean(tmp_path, history, 1, [a])
    for line in (history.version_dir(1) / SIGNATURES).read_text().splitlines():
        entry = json.loads(line)
        assert entry["params"].startswith("128:1:containment:3")
    sig = history.version_dir(1) / SIGNATURES
    sig.chmod(0o644)
    sig.write_text(sig.read_text().replace("128:1:", "64:1:"))
    manifest, kept, _, _ = clean(tmp_path, history, 2, [dict(a)])
    assert len(kept) == 1 and manifest.stats["steps"]["dedup"]["history_incomparable"] == 1
