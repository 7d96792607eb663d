"""The stage contract: manifests, skipping unchanged stages, atomic publishing, counts."""

import json

import pytest

from webtune.errors import StageError
from webtune.jsonl import read_jsonl, write_jsonl
from webtune.records import Reject
from webtune.stage import Counts, StageResult, read_manifest, redact_secrets, run_stage


def make_upper_stage(calls):
    def upper(ctx):
        calls.append(ctx.stage)
        rows = list(read_jsonl(ctx.input("src") / "docs.jsonl"))
        kept = [{"t": r["t"].upper()} for r in rows if r["t"]]
        for r in rows:
            if not r["t"]:
                ctx.rejects.write(Reject(stage=ctx.stage, step="nonempty", reason="empty_text", record=r))
        write_jsonl(ctx.output_dir / "docs.jsonl", kept)
        return StageResult(Counts(len(rows), len(kept), len(rows) - len(kept)), stats={"n": len(kept)})

    return upper


@pytest.fixture
def source(tmp_path):
    src = tmp_path / "src"
    write_jsonl(src / "docs.jsonl", [{"t": "a"}, {"t": ""}, {"t": "b"}])
    return src


def test_manifest_and_outputs(tmp_path, source):
    calls = []
    manifest = run_stage("upper", make_upper_stage(calls), run_dir=tmp_path / "run",
                         config={"api_token": "s3cret", "x": 1}, inputs={"src": source})
    out = tmp_path / "run" / "upper"
    assert [r["t"] for r in read_jsonl(out / "docs.jsonl")] == ["A", "B"]
    rejects = list(read_jsonl(out / "rejects.jsonl"))
    assert rejects[0]["reason"] == "empty_text"
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk["counts"] == {"in": 3, "kept": 2, "rejected": 1}
    assert on_disk["config"]["api_token"] == "***" and "s3cret" not in (out / "manifest.json").read_text()
    assert on_disk["inputs"][0]["files"][0]["sha256"]
    assert {o["path"] for o in on_disk["outputs"]} == {"docs.jsonl", "rejects.jsonl"}
    assert "python" in on_disk["versions"] and manifest.fingerprint == on_disk["fingerprint"]


def test_unchanged_stage_is_skipped_and_changes_rerun(tmp_path, source):
    calls = []
    fn = make_upper_stage(calls)
    run_stage("upper", fn, run_dir=tmp_path / "run", config={"x": 1}, inputs={"src": source})
    again = run_stage("upper", fn, run_dir=tmp_path / "run", config={"x": 1}, inputs={"src": source})
    assert again.skipped and len(calls) == 1
    run_stage("upper", fn, run_dir=tmp_path / "run", config={"x": 2}, inputs={"src": source})
    assert len(calls) == 2
    write_jsonl(source / "docs.jsonl", [{"t": "c"}])
    run_stage("upper", fn, run_dir=tmp_path / "run", config={"x": 2}, inputs={"src": source})
    assert len(calls) == 3
    run_stage("upper", fn, run_dir=tmp_path / "run", config={"x": 2}, inputs={"src": source}, force=True)
    assert len(calls) == 4


def test_a_hand_edited_upstream_stage_reruns_the_next_one(tmp_path, source):
    import os
    import shutil

    calls = []
    run = tmp_path / "run"
    run_stage("upper", make_upper_stage(calls), run_dir=run, config={}, inputs={"src": source})
    downstream = make_upper_stage(calls)

    def again():
        return run_stage("twice", downstream, run_dir=run, config={}, inputs={"src": run / "upper"})

    again()
    assert again().skipped and len(calls) == 2
    docs = run / "upper" / "docs.jsonl"
    # Same bytes, newer time (a copy, a touch): hashed, found unchanged, still skipped.
    os.utime(docs, ns=(docs.stat().st_atime_ns, docs.stat().st_mtime_ns + 10**9))
    assert again().skipped and len(calls) == 2
    shutil.copytree(run / "upper", tmp_path / "copy")
    shutil.rmtree(run / "upper")
    shutil.copytree(tmp_path / "copy", run / "upper", copy_function=shutil.copy)  # new times
    assert again().skipped and len(calls) == 2
    # Edited by hand, same size: the next stage runs again, on the edited data.
    docs.write_text(docs.read_text().replace("A", "Z"))
    manifest = again()
    assert not manifest.skipped and len(calls) == 3
    assert [r["t"] for r in read_jsonl(run / "twice" / "docs.jsonl")] == ["Z", "B"]
    assert manifest.inputs[0].files
    assert again().skipped and len(calls) == 3


def test_interrupted_stage_keeps_the_previous_output(tmp_path, source):
    run_stage("upper", make_upper_stage([]), run_dir=tmp_path / "run", config={}, inputs={"src": source})

    def killed(ctx):
        write_jsonl(ctx.output_dir / "docs.jsonl", [{"t": "half"}])
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_stage("upper", killed, run_dir=tmp_path / "run", config={"y": 1}, inputs={"src": source})
    out = tmp_path / "run" / "upper"
    assert [r["t"] for r in read_jsonl(out / "docs.jsonl")] == ["A", "B"]
    assert read_manifest(out).counts.kept == 2
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [".work", "upper"]


def test_counts_must_add_up(tmp_path, source):
    def lossy(ctx):
        return StageResult(Counts(seen=3, kept=1, rejected=1))

    with pytest.raises(StageError, match="counts do not add up"):
        run_stage("lossy", lossy, run_dir=tmp_path / "run", config={}, inputs={"src": source})
    assert not (tmp_path / "run" / "lossy").exists()


def test_redact_secrets_is_recursive():
    cfg = {"a": {"OPENAI_API_KEY": "k", "api_key_env": "OPENAI_API_KEY"}, "l": [{"password": "p"}]}
    assert redact_secrets(cfg) == {"a": {"OPENAI_API_KEY": "***", "api_key_env": "OPENAI_API_KEY"},
                                   "l": [{"password": "***"}]}


def test_work_dir_is_cleared_only_after_the_output_is_published(tmp_path, source):
    work = tmp_path / "run" / ".work" / "upper"
    seen_on_entry = []

    def resumable(fail: bool):
        def stage(ctx):
            seen_on_entry.append(sorted(p.name for p in ctx.work_dir.iterdir()))
            (ctx.work_dir / "progress.json").write_text("{}")
            (ctx.work_dir / "checkpoints").mkdir(exist_ok=True)
            (ctx.work_dir / "paid-cache.json").write_text("{}")
            if fail:
                raise StageError("a later part failed")
            write_jsonl(ctx.output_dir / "docs.jsonl", [])
            return StageResult(Counts(), keep_work=("paid-cache.json",))
        return stage

    with pytest.raises(StageError):
        run_stage("upper", resumable(fail=True), run_dir=tmp_path / "run", config={}, inputs={"src": source})
    assert sorted(p.name for p in work.iterdir()) == ["checkpoints", "paid-cache.json", "progress.json"]

    run_stage("upper", resumable(fail=False), run_dir=tmp_path / "run", config={}, inputs={"src": source})
    assert seen_on_entry[1] == ["checkpoints", "paid-cache.json", "progress.json"]  # the retry resumed
    assert read_manifest(tmp_path / "run" / "upper") is not None
    assert sorted(p.name for p in work.iterdir()) == ["paid-cache.json"]  # kept on request, the rest cleared


def make_output(folder, text):
    folder.mkdir(parents=True)
    (folder / "out.txt").write_text(text)
    return folder


@pytest.mark.parametrize("atomic", [True, False])
def test_publish_replaces_the_output_and_leaves_nothing_aside(tmp_path, monkeypatch, atomic):
    from webtune import stage

    if not atomic:
        monkeypatch.setattr(stage, "exchange", lambda a, b: False)
    final = make_output(tmp_path / "clean", "old")
    stage.publish(make_output(tmp_path / ".clean.tmp-0a", "new"), final)
    assert (final / "out.txt").read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["clean"]


def test_exchange_swaps_two_directories_in_one_step(tmp_path):
    import sys

    from webtune.stage import exchange

    a, b = make_output(tmp_path / "a", "A"), make_output(tmp_path / "b", "B")
    swapped = exchange(a, b)
    assert swapped or not sys.platform.startswith("linux")
    if swapped:
        assert (a / "out.txt").read_text() == "B" and (b / "out.txt").read_text() == "A"


def test_recovery_puts_back_an_output_a_kill_left_aside(tmp_path):
    from webtune.stage import recover_outputs

    # Killed between the fallback's renames: the old output aside, the new one unpublished.
    make_output(tmp_path / ".clean.old-1f", "old")
    make_output(tmp_path / ".clean.tmp-2e", "new")
    # Killed after them: the new output in place, the old one still aside.
    make_output(tmp_path / "dataset", "new")
    make_output(tmp_path / ".dataset.old-3d", "old")
    assert recover_outputs(tmp_path) == [tmp_path / "clean"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clean", "dataset"]
    assert (tmp_path / "clean" / "out.txt").read_text() == "old"
    assert (tmp_path / "dataset" / "out.txt").read_text() == "new"


def test_a_stage_reads_an_input_restored_from_aside(tmp_path, source):
    """The next stage to start (any of the run) puts its input back before reading it."""
    run_dir = tmp_path / "run"
    run_stage("upper", make_upper_stage([]), run_dir=run_dir, config={}, inputs={"src": source})
    (run_dir / "upper").rename(run_dir / ".upper.old-5a")  # a kill between publish's renames

    def count(ctx):
        rows = list(read_jsonl(ctx.input("upper") / "docs.jsonl"))
        return StageResult(Counts(len(rows), len(rows), 0))

    manifest = run_stage("count", count, run_dir=run_dir, config={}, inputs={"upper": run_dir / "upper"})
    assert manifest.counts.kept == 2 and read_manifest(run_dir / "upper") is not None


def test_a_skipped_stage_clears_what_a_kill_after_publishing_left_in_its_work_dir(tmp_path, source):
    def keeping(ctx):
        (ctx.work_dir / "cache").mkdir()
        return StageResult(Counts(1, 1, 0), keep_work=("cache",))

    run_dir = tmp_path / "run"
    assert run_stage("keep", keeping, run_dir=run_dir, config={}, inputs={"src": source}).keep_work == ["cache"]
    (run_dir / ".work" / "keep" / "checkpoint").mkdir()  # as if killed before clearing it
    assert run_stage("keep", keeping, run_dir=run_dir, config={}, inputs={"src": source}).skipped
    assert [p.name for p in (run_dir / ".work" / "keep").iterdir()] == ["cache"]


def test_clear_work_dir_keeps_nested_paths_alone(tmp_path):
    from webtune.stage import clear_work_dir

    for name in ("source-0-brightdata/brightdata.json", "source-0-brightdata/snapshot-s_1.ndjson",
                 "source-1-crawl/crawl.log", "top.json"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    clear_work_dir(tmp_path, keep=("source-0-brightdata/brightdata.json", "top.json"))
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == [
        "source-0-brightdata", "source-0-brightdata/brightdata.json", "top.json"]
