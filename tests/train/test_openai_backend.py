"""The openai trainer end to end through the train stage, against the local fake API."""

from __future__ import annotations

import json
import pytest

from tests.hosted.helpers import all_text_under, pipeline, write_dataset
from tests.train.helpers import run_logged
from webtune.errors import WebtuneError
from webtune.hosted.state import STATE_FILE
from webtune.hosted.sunset import DEFAULT_HOSTED_MODEL


def test_trains_and_writes_result(server, tmp_path):
    run_dir = tmp_path / "run"
    write_dataset(run_dir / "dataset")
    manifest, out = run_logged(pipeline(server, tmp_path), run_dir)

    result = json.loads((run_dir / "train" / "train_result.json").read_text())
    job = next(iter(server.jobs.values())).data
    assert result["backend"] == "openai" and result["method"] == "supervised"
    assert result["model_id"] == job["fine_tuned_model"] and result["model_id"].startswith(f"ft:{DEFAULT_HOSTED_MODEL}:")
    assert result["job_id"] == job["id"]
    assert result["base_model"] == DEFAULT_HOSTED_MODEL
    assert result["adapter_dir"] is None and result["model_dir"] is None and result["base_model_path"] is None
    assert result["metrics"]["train_loss"] == pytest.approx(2.0 * 0.8 ** 6, abs=1e-3)
    assert result["metrics"]["steps"] == 6
    assert result["metrics"]["valid_loss"] == pytest.approx(1.1 * 2.0 * 0.8 ** 6, abs=1e-3)
    assert result["metrics"]["full_valid_loss"] == pytest.approx(1.05 * 2.0 * 0.8 ** 6, abs=1e-3)
    assert result["metrics"]["trained_tokens"] == job["trained_tokens"]
    # the job got the settings of the config and metadata tying it to the run
    assert job["hyperparameters"] == {"n_epochs": 2, "batch_size": 1, "learning_rate_multiplier": 0.5}
    assert job["seed"] == 7 and job["suffix"] == "demo"
    assert job["metadata"]["webtune_pipeline"] == "hosted-test" and job["metadata"]["webtune_run"] == "run"
    assert job["validation_file"] is not None
    # uploaded files hold only the chat fields
    uploaded = [f["content"].decode() for f in server.files.values() if f["meta"]["purpose"] == "fine-tune"]
    assert len(uploaded) == 2 and all('"meta"' not in text for text in uploaded)
    assert sum(len(text.splitlines()) for text in uploaded) == 15
    # results: CSV, plot, metrics, checkpoints; counts add up
    for name in ("results.csv", "loss.png", "metrics.jsonl", "checkpoints.json", "events.jsonl"):
        assert (run_dir / "train" / name).stat().st_size > 0, name
    assert (run_dir / "train" / "results.csv").read_text().startswith("step,train_loss")
    assert manifest.counts.to_json() == {"in": 15, "kept": 15, "rejected": 0}
    assert manifest.stats["model_id"] == result["model_id"]
    assert "succeeded" in out and result["model_id"] in out
    # the key is nowhere: not in outputs, manifest, state or console
    assert server.api_key not in all_text_under(run_dir) and server.api_key not in out


def uploads(server) -> int:
    return server.counts["files.create"]


def test_ctrl_c_while_watching_then_rerun_reattaches(server, tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    write_dataset(run_dir / "dataset")
    pipe = pipeline(server, tmp_path)
    import webtune.hosted.monitor as monitor

    real_sleep = monitor.time.sleep
    calls = {"n": 0}

    def interrupt_once(seconds):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        real_sleep(seconds)

    monkeypatch.setattr(monitor.time, "sleep", interrupt_once)
    with pytest.raises(KeyboardInterrupt):
        run_logged(pipe, run_dir)
    assert not (run_dir / "train").exists()  # nothing published
    state = json.loads((run_dir / ".work" / "train" / STATE_FILE).read_text())
    job_id = state["job"]["id"]
    assert server.jobs[job_id].data["status"] not in ("succeeded", "failed", "cancelled")

    manifest, out = run_logged(pipe, run_dir)
    assert f"reattaching to job {job_id}" in out
    assert server.counts["jobs.create"] == 1 and len(server.jobs) == 1
    assert uploads(server) == 2
    assert manifest.stats["job_id"] == job_id


def test_crash_between_create_and_state_write_finds_job_by_metadata(server, tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    write_dataset(run_dir / "dataset")
    pipe = pipeline(server, tmp_path)
    from webtune.hosted.state import HostedState

    real = HostedState.remember_job

    def crash(self, *args, **kwargs):
        monkeypatch.setattr(HostedState, "remember_job", real)
        raise KeyboardInterrupt  # the API created the job, the id never reached the disk

    monkeypatch.setattr(HostedState, "remember_job", crash)
    with pytest.raises(KeyboardInterrupt):
        run_logged(pipe, run_dir)
    assert server.counts["jobs.create"] == 1
    assert json.loads((run_dir / ".work" / "train" / STATE_FILE).read_text())["job"] is None

    _, out = run_logged(pipe, run_dir)
    assert "found by its metadata" in out
    assert server.counts["jobs.create"] == 1 and uploads(server) == 2


def test_forced_rerun_reuses_finished_job_and_new_settings_reuse_uploads(server, tmp_path):
    run_dir = tmp_path / "run"
    write_dataset(run_dir / "dataset")
    first, _ = run_logged(pipeline(server, tmp_path), run_dir)
    again, out = run_logged(pipeline(server, tmp_path), run_dir, force=True)
    assert again.stats["model_id"] == first.stats["model_id"]
    assert server.counts["jobs.create"] == 1 and uploads(server) == 2

    changed, out = run_logged(pipeline(server, tmp_path, epochs=3), run_dir)
    assert server.counts["jobs.create"] == 2 and changed.stats["job_id"] != first.stats["job_id"]
    assert uploads(server) == 2  # same bytes: the earlier uploads are reused
    assert "already uploaded" in out
    assert server.jobs[changed.stats["job_id"]].data["hyperparameters"]["n_epochs"] == 3


def test_dataset_prices_are_part_of_train_and_price_the_job(server, tmp_path):
    """dataset.hosted.prices reaches the hosted trainer through train's declared shared settings:
    a new price reruns train (which reattaches to its finished job) and changes the estimate."""
    run_dir = tmp_path / "run"
    write_dataset(run_dir / "dataset")
    model = DEFAULT_HOSTED_MODEL

    def priced(usd_per_million: float, **train):
        pipe = pipeline(server, tmp_path, **train)
        return pipe.model_copy(update={"dataset": pipe.dataset.model_copy(update={
            "hosted": pipe.dataset.hosted.model_copy(update={"prices": {model: usd_per_million}})})})

    first, _ = run_logged(priced(100.0), run_dir)
    assert run_logged(priced(100.0), run_dir)[0].skipped
    dearer, _ = run_logged(priced(200.0), run_dir)
    assert not dearer.skipped and server.counts["jobs.create"] == 1  # rerun, same job: not paid twice
    assert dearer.stats["estimated_cost_usd"] == pytest.approx(2 * first.stats["estimated_cost_usd"], rel=1e-2)
    write_dataset(tmp_path / "other" / "dataset")
    with pytest.raises(WebtuneError, match=r"above train.max_cost_usd"):  # the price decides the ceiling
        run_logged(priced(1e9, max_cost_usd=1.0), tmp_path / "other")


def test_changed_data_uploads_only_the_changed_file(server, tmp_path):
    run_dir = tmp_path / "run"
    write_dataset(run_dir / "dataset")
    run_logged(pipeline(server, tmp_path), run_dir)
    write_dataset(run_dir / "dataset", n_train=13)  # train changes, validation does not
    run_logged(pipeline(server, tmp_path), run_dir)
    assert uploads(server) == 3 and server.counts["jobs.create"] == 2


def test_other_settings_while_a_job_runs_is_refused(server, tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    write_dataset(run_dir / "dataset")
    import webtune.hosted.monitor as monitor

    monkeypatch.setattr(monitor.time, "sleep", lambda s: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        run_logged(pipeline(server, tmp_path), run_dir)
    monkeypatch.undo()
    monkeypatch.setenv("OPENAI_API_KEY", server.api_key)
    with pytest.raises(WebtuneError, match="still .*cancel it"):
        run_logged(pipeline(server, tmp_path, epochs=4), run_dir)
    assert server.counts["jobs.create"] == 1


def test_failed_job_shows_the_api_error(server, tmp_path):
    run_dir = tmp_path / "run"
    write_dataset(run_dir / "dataset")
    server.fail_jobs = "The job failed due to an invalid training file: 3 examples exceed the context length."
    with pytest.raises(WebtuneError) as info:
        run_logged(pipeline(server, tmp_path), run_dir)
    message = str(info.value)
    assert "failed" in message and "invalid training file: 3 examples exceed" in message
    assert "invalid_training_file" in message and "training_file" in message
    assert not (run_dir / "train").exists()

    server.fail_jobs = None  # fixed on the provider's side: a rerun starts a new job
    manifest, out = run_logged(pipeline(server, tmp_path), run_dir)
    assert "ended failed; starting a new one" in out
    assert server.counts["jobs.create"] == 2 and uploads(server) == 2


def test_validation_errors_stop_before_any_upload(server, tmp_path):
    run_dir = tmp_path / "run"
    bad = {"messages": [{"role": "user", "content": "hi"}, {"role": "robot", "content": "beep"}]}
    write_dataset(run_dir / "dataset", bad_line=bad)
    with pytest.raises(WebtuneError) as info:
        run_logged(pipeline(server, tmp_path), run_dir)
    assert "train.jsonl:5: messages[1].role" in str(info.value) and "nothing was uploaded" in str(info.value)
    assert server.requests == []  # not a single call reached the API


def test_transient_errors_are_retried(server, tmp_path):
    run_dir = tmp_path / "run"
    write_dataset(run_dir / "dataset")
    server.inject("files.create", 500)
    server.inject("jobs.create", 429, retry_after="0.05", times=2)
    server.inject("jobs.retrieve", 503, retry_after="0.01")
    server.inject("jobs.events", 429, retry_after="0.01")
    manifest, _ = run_logged(pipeline(server, tmp_path), run_dir)
    assert manifest.stats["model_id"].startswith("ft:")
    assert server.counts["jobs.create.fault"] == 2 and server.counts["jobs.create"] == 1
    assert server.counts["files.create.fault"] == 1 and uploads(server) == 2
    assert server.counts["jobs.retrieve.fault"] == 1 and server.counts["jobs.events.fault"] == 1


def test_timeouts_are_retried(server, tmp_path):
    run_dir = tmp_path / "run"
    write_dataset(run_dir / "dataset")
    server.inject("jobs.list", delay=0.6)
    manifest, _ = run_logged(pipeline(server, tmp_path, request_timeout=0.3), run_dir)
    assert server.counts["jobs.list.fault"] == 1 and manifest.stats["model_id"].startswith("ft:")


def test_auth_error_stops_at_once(server, tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    write_dataset(run_dir / "dataset")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-key-abcdefghijkl")
    with pytest.raises(WebtuneError) as info:
        run_logged(pipeline(server, tmp_path), run_dir)
    assert "HTTP 401" in str(info.value) and "Incorrect API key" in str(info.value)
    assert "sk-wrong-key-abcdefghijkl" not in str(info.value)
    assert server.counts["unauthorized"] == 1  # not retried


def test_missing_key_names_the_variable(server, tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    write_dataset(run_dir / "dataset")
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.setenv("MY_TEAM_KEY", server.api_key)
    with pytest.raises(WebtuneError, match="OPENAI_API_KEY"):
        run_logged(pipeline(server, tmp_path), run_dir)
    assert server.requests == []
    manifest, _ = run_logged(pipeline(server, tmp_path, api_key_env="MY_TEAM_KEY"), run_dir)
    assert manifest.stats["model_id"].startswith("ft:")
    assert "MY_TEAM_KEY" in json.dumps(manifest.config) and server.api_key not in manifest.model_dump_json()


def test_cost_ceiling_stops_before_upload(server, tmp_path):
    run_dir = tmp_path / "run"
    write_dataset(run_dir / "dataset")
    with pytest.raises(WebtuneError, match=r"above train.max_cost_usd"):
        run_logged(pipeline(server, tmp_path, max_cost_usd=0.000001), run_dir)
    assert uploads(server) == 0 and server.counts["jobs.create"] == 0


def test_base_url_from_environment(server, tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    write_dataset(run_dir / "dataset")
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    manifest, _ = run_logged(pipeline(server, tmp_path, base_url=None), run_dir)
    assert manifest.stats["model_id"].startswith("ft:")


def test_watching_survives_an_outage_longer_than_the_sdk_retries(server, tmp_path):
    run_dir = tmp_path / "run"
    write_dataset(run_dir / "dataset")
    server.inject("jobs.retrieve", 502, times=2)
    manifest, out = run_logged(pipeline(server, tmp_path, max_retries=0), run_dir)
    assert "HTTP 502" in out and "trying again" in out
    assert manifest.stats["model_id"].startswith("ft:") and server.counts["jobs.retrieve.fault"] == 2


def test_watching_gives_up_after_a_long_outage(server, tmp_path):
    run_dir = tmp_path / "run"
    write_dataset(run_dir / "dataset")
    server.inject("jobs.retrieve", 500, times=50)
    with pytest.raises(WebtuneError, match="HTTP 500"):
        run_logged(pipeline(server, tmp_path, max_retries=0), run_dir)
    assert server.counts["jobs.retrieve.fault"] == 5  # MAX_POLL_FAILURES, then a clear error
    assert server.counts["jobs.create"] == 1


def test_a_job_in_the_state_unknown_to_this_api_is_ignored(server, tmp_path):
    run_dir = tmp_path / "run"
    write_dataset(run_dir / "dataset")
    state_path = run_dir / ".work" / "train" / STATE_FILE
    state_path.parent.mkdir(parents=True)
    state_path.write_text(json.dumps({"job": {"id": "ftjob-elsewhere", "request_key": "x"}, "files": {}}))
    manifest, out = run_logged(pipeline(server, tmp_path), run_dir)
    assert "ftjob-elsewhere" in out and "unknown to this API" in " ".join(out.split())
    assert server.counts["jobs.create"] == 1
    state = json.loads(state_path.read_text())
    assert state["job"]["id"] == manifest.stats["job_id"] and state["previous_jobs"][0]["id"] == "ftjob-elsewhere"
