"""The fine-tuning flow of an OpenAI script, run with the official ``openai`` SDK against webtune."""

from __future__ import annotations

import io
import json
import time

import openai
import pytest
from openai import OpenAI

from tests.evaluate.helpers import make_examples
from tests.serve.conftest import running

ALIAS = "gpt-4o-mini-2024-07-18"
TRAIN = {"max_seq_len": 128, "device": "cpu", "lora": {"r": 4, "alpha": 8}, "eval_steps": 0, "save_steps": 2,
         "learning_rate": 1e-2}


def jsonl(examples: list[dict]) -> bytes:
    return "".join(json.dumps({"messages": e["messages"]}) + "\n" for e in examples).encode()


@pytest.fixture(scope="module")
def server(tiny_model_dir, tmp_path_factory):
    from webtune.registry.store import ModelRegistry
    from webtune.serve.finetune.jobs import FineTuneOptions
    from webtune.serve.server import ServeOptions, guarded_app
    from webtune.serve.table import ModelTable

    root = tmp_path_factory.mktemp("ft-server")
    options = FineTuneOptions(data_dir=root / "data", registry=ModelRegistry(root / "registry"),
                              model_aliases={ALIAS: str(tiny_model_dir)}, train=TRAIN, max_upload_bytes=200_000)
    app = guarded_app(ModelTable(), ServeOptions(api_key="key-a\nkey-b", fine_tuning=options))
    with running(app) as url:
        yield url, app
    app.app.state.finetune.close()


@pytest.fixture
def client(server):
    return OpenAI(base_url=server[0], api_key="key-a", max_retries=0)


def wait_for(client: OpenAI, job_id: str, statuses: tuple[str, ...], timeout: float = 120) -> object:
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = client.fine_tuning.jobs.retrieve(job_id)
        if job.status in statuses:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {job.status}")


def test_upload_train_poll_and_chat(client):
    uploaded = client.files.create(file=("train.jsonl", io.BytesIO(jsonl(make_examples(12)))), purpose="fine-tune")
    assert uploaded.object == "file" and uploaded.purpose == "fine-tune" and uploaded.bytes > 0
    assert client.files.content(uploaded.id).content == jsonl(make_examples(12))
    validation = client.files.create(file=("val.jsonl", jsonl(make_examples(10)[::-1])), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(training_file=uploaded.id, validation_file=validation.id,
                                         model=ALIAS, suffix="tiny", seed=7,
                                         hyperparameters={"n_epochs": 2}, metadata={"team": "qa"})
    assert job.status == "validating_files" and job.hyperparameters.n_epochs == 2
    assert job.hyperparameters.batch_size == "auto" and job.method.type == "supervised"
    deadline = time.time() + 120
    while True:  # as the tutorials poll
        latest = client.fine_tuning.jobs.list(limit=1).data[0]
        assert latest.id == job.id
        if latest.status in ("succeeded", "failed", "cancelled") or time.time() > deadline:
            break
        time.sleep(0.2)
    assert latest.status == "succeeded", latest.error
    assert latest.fine_tuned_model == f"ft:{ALIAS}:tiny::{job.id.removeprefix('ftjob-')[:8]}"
    assert latest.trained_tokens > 0 and latest.finished_at >= latest.created_at and latest.seed == 7
    assert latest.metadata == {"team": "qa"}

    events = client.fine_tuning.jobs.list_events(job.id, limit=100).data
    messages = [e.message for e in events]
    assert messages[0] == "The job has successfully completed"  # newest first, as OpenAI lists them
    steps = [e for e in events if e.type == "metrics"]
    assert steps and all(e.data["total_steps"] == steps[0].data["total_steps"] for e in steps)
    first_two = client.fine_tuning.jobs.list_events(job.id, limit=2)
    assert first_two.has_more and [e.id for e in first_two.data] == [e.id for e in events[:2]]
    after = client.fine_tuning.jobs.list_events(job.id, limit=2, after=first_two.data[-1].id)
    assert [e.id for e in after.data] == [e.id for e in events[2:4]]

    checkpoints = client.fine_tuning.jobs.checkpoints.list(job.id).data
    assert checkpoints and checkpoints[0].step_number == steps[0].data["total_steps"]
    assert checkpoints[0].fine_tuned_model_checkpoint.startswith(latest.fine_tuned_model + ":ckpt-step-")
    assert [c.step_number for c in checkpoints] == sorted({c.step_number for c in checkpoints}, reverse=True)

    csv_text = client.files.content(latest.result_files[0]).text
    header, *rows = csv_text.splitlines()
    assert header == "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"
    assert len([r for r in rows if r.split(",")[1]]) == len(steps)
    valid = [float(r.split(",")[3]) for r in rows if r.split(",")[3]]
    assert len(valid) >= 2 and valid[-1] < valid[0]  # the validation file's loss, before and after training

    # The validation file is also evaluated as the evaluate stage would: base vs tuned, with intervals.
    assert len(latest.result_files) == 2
    evaluation = json.loads(client.files.content(latest.result_files[1]).text)
    loss = {m: evaluation["metrics"][m]["loss"] for m in ("base", "tuned")}
    assert loss["tuned"] < loss["base"]
    [loss_row] = [r for r in evaluation["rows"] if r["metric"] == "loss"]
    assert loss_row["n"] == 10 and loss_row["delta_ci95"][0] <= loss_row["delta"] <= loss_row["delta_ci95"][1]
    [validation_event] = [e for e in events if e.message.startswith("Validation: loss ")]
    assert f"{loss['base']:.4g} -> {loss['tuned']:.4g}" in validation_event.message

    answer = client.chat.completions.create(model=latest.fine_tuned_model, max_tokens=8,
                                            messages=make_examples(1)[0]["messages"][:-1])
    assert answer.choices[0].message.content and answer.model == latest.fine_tuned_model
    assert latest.fine_tuned_model in [m.id for m in client.models.list().data]


def test_the_ft_id_resolves_in_webtune_chat(client, server):
    from typer.testing import CliRunner

    from webtune.cli.main import app

    job = next(j for j in client.fine_tuning.jobs.list() if j.status == "succeeded")
    registry = server[1].app.state.finetune.options.registry
    result = CliRunner().invoke(app, ["chat", "--model", job.fine_tuned_model, "--prompt", "Tell me about the fox.",
                                      "--max-new-tokens", "6", "--registry", str(registry.root)])
    assert result.exit_code == 0, result.output  # without the local version it would go to a hosted API
    served = client.chat.completions.create(model=job.fine_tuned_model, max_tokens=6, temperature=0,
                                            messages=[{"role": "user", "content": "Tell me about the fox."}])
    assert result.output.strip() == served.choices[0].message.content.strip()  # the same weights answer


def test_bad_file_fails_the_job_naming_the_line(client):
    lines = jsonl(make_examples(12)).decode().splitlines()
    lines[2] = json.dumps({"messages": [{"role": "wizard", "content": "hi"}]})
    uploaded = client.files.create(file=("bad.jsonl", ("\n".join(lines) + "\n").encode()), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(training_file=uploaded.id, model=ALIAS)
    failed = wait_for(client, job.id, ("failed", "succeeded"))
    assert failed.status == "failed" and failed.fine_tuned_model is None
    assert failed.error.code == "invalid_training_file" and failed.error.param == "training_file"
    assert "line 3" in failed.error.message and "role" in failed.error.message


def test_cancel_stops_training(client):
    uploaded = client.files.create(file=("train.jsonl", jsonl(make_examples(12))), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(training_file=uploaded.id, model=ALIAS, hyperparameters={"n_epochs": 300})
    deadline = time.time() + 120
    while not [e for e in client.fine_tuning.jobs.list_events(job.id).data if e.type == "metrics"]:
        assert time.time() < deadline
        time.sleep(0.1)
    cancelled = client.fine_tuning.jobs.cancel(job.id)
    assert cancelled.status == "cancelled"
    def newest() -> str:
        return client.fine_tuning.jobs.list_events(job.id, limit=1).data[0].id

    seen, deadline = newest(), time.time() + 30
    while True:  # the step under way may still log; after that nothing trains on (a 300-epoch job would)
        time.sleep(1.0)
        if newest() == seen:
            break
        seen = newest()
        assert time.time() < deadline, "events keep coming after the cancel"
    final = client.fine_tuning.jobs.retrieve(job.id)
    assert final.status == "cancelled" and final.fine_tuned_model is None
    with pytest.raises(openai.BadRequestError, match="cannot be cancelled"):
        client.fine_tuning.jobs.cancel(job.id)


def test_pause_saves_a_checkpoint_and_resume_continues_from_it(client):
    uploaded = client.files.create(file=("train.jsonl", jsonl(make_examples(12))), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(training_file=uploaded.id, model=ALIAS, hyperparameters={"n_epochs": 300})

    def steps() -> list[int]:
        return [e.data["step"] for e in client.fine_tuning.jobs.list_events(job.id, limit=100).data
                if e.type == "metrics"]

    deadline = time.time() + 120
    while len(steps()) < 3:
        assert time.time() < deadline
        time.sleep(0.1)
    assert client.fine_tuning.jobs.pause(job.id).status == "paused"
    while not (stopped := [e for e in client.fine_tuning.jobs.list_events(job.id, limit=5).data
                           if e.message.startswith("Training stopped at step")]):
        assert time.time() < deadline
        time.sleep(0.1)
    paused_at = stopped[0].data["step"]
    time.sleep(0.5)
    assert max(steps()) == paused_at and client.fine_tuning.jobs.retrieve(job.id).status == "paused"
    assert client.fine_tuning.jobs.checkpoints.list(job.id).data[0].step_number == paused_at
    assert client.fine_tuning.jobs.resume(job.id).status == "queued"
    while max(steps()) <= paused_at + 1:
        assert time.time() < deadline
        time.sleep(0.1)
    trained = steps()  # read once: the resumed job is still training
    assert sorted(trained) == sorted(set(trained))  # no step trained twice
    assert client.fine_tuning.jobs.cancel(job.id).status == "cancelled"


def test_unknown_model_and_foreign_keys(client, server):
    uploaded = client.files.create(file=("train.jsonl", jsonl(make_examples(12))), purpose="fine-tune")
    with pytest.raises(openai.BadRequestError) as info:
        client.fine_tuning.jobs.create(training_file=uploaded.id, model="gpt-nope")
    assert info.value.code == "model_not_available" and info.value.param == "model"
    with pytest.raises(openai.BadRequestError) as info:
        client.fine_tuning.jobs.create(training_file=uploaded.id, model=ALIAS, hyperparameters={"n_epochs": 0})
    assert info.value.param == "hyperparameters.n_epochs" and "greater than or equal to 1" in info.value.message
    with pytest.raises(openai.BadRequestError) as info:
        client.fine_tuning.jobs.create(training_file="file-nope", model=ALIAS)
    assert info.value.param == "training_file"
    with pytest.raises(openai.AuthenticationError):
        OpenAI(base_url=server[0], api_key="wrong", max_retries=0).files.retrieve(uploaded.id)
    other = OpenAI(base_url=server[0], api_key="key-b", max_retries=0)  # another key: another tenant
    with pytest.raises(openai.NotFoundError):
        other.files.retrieve(uploaded.id)
    with pytest.raises(openai.NotFoundError):
        other.files.content(uploaded.id)
    assert other.files.list().data == [] and other.fine_tuning.jobs.list().data == []
    assert uploaded.id in [f.id for f in client.files.list().data]
    assert client.fine_tuning.jobs.list().data  # the other tests' jobs, all key-a's
    with pytest.raises(openai.NotFoundError):
        other.fine_tuning.jobs.retrieve(client.fine_tuning.jobs.list().data[0].id)
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve("file-doesnotexist")
    assert client.files.delete(uploaded.id).deleted
    with pytest.raises(openai.NotFoundError):
        client.files.content(uploaded.id)


def test_upload_over_the_limit_is_a_413(client, server):
    with pytest.raises(openai.APIStatusError) as info:
        client.files.create(file=("big.jsonl", b"x" * 300_000), purpose="fine-tune")
    assert info.value.status_code == 413
    data_dir = server[1].app.state.finetune.options.data_dir
    assert not list((data_dir / "files").glob("*.part"))


def test_a_chunked_upload_is_cut_off_at_the_limit_while_streaming(server):
    """No Content-Length to check up front: the limit holds while the bytes are written to disk."""
    import httpx

    url, app = server

    def body(size: int):
        yield b'--XyZ\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nfine-tune\r\n'
        yield b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="t.jsonl"\r\n\r\n'
        for _ in range(size // 10_000):
            yield b"y" * 10_000
        yield b"\r\n--XyZ--\r\n"

    headers = {"Authorization": "Bearer key-a", "Content-Type": "multipart/form-data; boundary=XyZ"}
    too_big = httpx.post(f"{url}/files", content=body(300_000), headers=headers, timeout=30)
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "file_too_large"
    small = httpx.post(f"{url}/files", content=body(50_000), headers=headers, timeout=30)
    assert small.status_code == 200 and small.json()["bytes"] == 50_000
    assert not list((app.app.state.finetune.options.data_dir / "files").glob("*.part"))
