"""The job queue on disk: recovery after a restart, cancel as a final state."""

from __future__ import annotations

import json

import pytest

from tests.evaluate.helpers import make_examples
from webtune.serve.finetune.files import FileStore
from webtune.serve.finetune.jobs import FineTuneOptions, JobCancelled, JobRunner, JobStore, new_job


def make_runner(tmp_path, tiny_model_dir, status: str, checkpoint_step: int | None) -> tuple[JobRunner, str]:
    files = FileStore(tmp_path / "files", 1_000_000)
    data = "".join(json.dumps({"messages": e["messages"]}) + "\n" for e in make_examples(12)).encode()
    file = files.save_bytes(data, "t.jsonl", "fine-tune", "")
    store = JobStore(tmp_path / "jobs")
    state = new_job({"model": "base", "training_file": file["id"]}, "", "org", seq=1)
    state["job"]["status"] = status
    store.save(state)
    job_id = state["job"]["id"]
    if checkpoint_step is not None:
        store.add_checkpoint(job_id, {"step_number": checkpoint_step, "id": "ftckpt-x"})
    options = FineTuneOptions(data_dir=tmp_path, model_aliases={"base": str(tiny_model_dir)},
                              train={"max_seq_len": 128, "device": "cpu", "max_steps": 2})
    return JobRunner(options, files, on_model=lambda name, ref: None), job_id


def test_a_job_whose_checkpoint_is_gone_fails_with_the_reason(tmp_path, tiny_model_dir):
    runner, job_id = make_runner(tmp_path, tiny_model_dir, "running", checkpoint_step=4)
    state = runner.store.load(job_id)
    assert state["job"]["status"] == "queued" and state["resumed"]  # recovered by the constructor
    runner._run(state)
    job = runner.store.load(job_id)["job"]
    assert job["status"] == "failed" and job["error"]["code"] == "resume_failed"
    assert "checkpoint (step 4) is gone" in job["error"]["message"]
    assert not (tmp_path / "jobs" / job_id / "out" / "adapter").exists()  # not trained again from the start


def test_finished_jobs_stay_finished_and_cancel_is_final(tmp_path, tiny_model_dir):
    runner, job_id = make_runner(tmp_path, tiny_model_dir, "failed", checkpoint_step=None)
    assert runner.store.load(job_id)["job"]["status"] == "failed"  # recovery touches only unfinished jobs
    runner.store.update(job_id, status="queued")
    runner.cancel(job_id)
    with pytest.raises(JobCancelled):
        runner.store.update(job_id, status="running")  # the worker lost the race: it stops
    assert runner.store.load(job_id)["job"]["status"] == "cancelled"


def test_a_job_on_a_hub_model_downloads_it_in_the_worker_and_trains(tmp_path, tiny_model_dir, monkeypatch):
    """A script may name any Hub id: accepted at creation (nothing cached yet), downloaded by the
    worker from the Hub (the local stand-in), trained; a repo the Hub does not have fails the job."""
    from tests.fakes.hub import FakeHub, point_at
    from webtune.serve.finetune.jobs import resolve_base

    with FakeHub() as hub:
        point_at(hub, monkeypatch, tmp_path)
        commit = hub.add_repo("org/tiny-chat", tiny_model_dir)
        assert resolve_base("org/tiny-chat", {}) is None  # not cached: the worker will fetch it
        runner, job_id = make_runner(tmp_path, tiny_model_dir, "queued", checkpoint_step=None)
        runner.store.update(job_id, model="org/tiny-chat")
        runner._run(runner.store.load(job_id))
        job = runner.store.load(job_id)["job"]
        assert job["status"] == "succeeded", job["error"]
        assert any(path.endswith("config.json") for path in hub.downloads())
        assert resolve_base("org/tiny-chat", {}).name == commit  # now in the cache, at the Hub's commit
        missing_id = make_runner(tmp_path / "b", tiny_model_dir, "queued", checkpoint_step=None)
        runner2, job2 = missing_id
        runner2.store.update(job2, model="org/no-such-model")
        runner2._run(runner2.store.load(job2))
        failed = runner2.store.load(job2)["job"]
        assert failed["status"] == "failed" and failed["error"]["code"] == "model_not_available"
