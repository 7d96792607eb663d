"""Pieces of the hosted backend: config, result files, events, the cost prompt, the fake API."""

from __future__ import annotations

import base64

import openai
import pytest
from rich.console import Console

from tests.fakes.openai_server import FakeOpenAI
from webtune.config import validate_pipeline
from webtune.errors import ConfigError, WebtuneError
from webtune.hosted.jobs import JobRequest, confirm_cost, prepare_split
from webtune.hosted.monitor import EventReader
from webtune.hosted.results import decode_result_file, parse_metrics_csv
from webtune.openai_client import connect, redact
from webtune.train.backends.openai_config import OpenAITrainConfig

CSV = "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy\n1,2.0,0.5,,\n2,1.5,0.6,1.7,0.55\n"


def test_config_defaults_and_errors():
    config = validate_pipeline({"name": "p", "train": {"backend": "openai"}}).train
    assert isinstance(config, OpenAITrainConfig)
    assert config.hyperparameters() == {"n_epochs": "auto", "batch_size": "auto", "learning_rate_multiplier": "auto"}
    with pytest.raises(ConfigError, match=r"train.epochs"):
        validate_pipeline({"name": "p", "train": {"backend": "openai", "epochs": 0}})
    with pytest.raises(ConfigError, match=r"train.suffix"):
        validate_pipeline({"name": "p", "train": {"backend": "openai", "suffix": "has space"}})
    with pytest.raises(ConfigError, match=r"train.api_key: unknown key"):
        validate_pipeline({"name": "p", "train": {"backend": "openai", "api_key": "sk-abc"}})


def test_result_file_decoding_and_parsing():
    assert decode_result_file(base64.b64encode(CSV.encode())) == CSV
    assert decode_result_file(CSV.encode()) == CSV
    rows = parse_metrics_csv(CSV)
    assert rows[0] == {"step": 1, "train_loss": 2.0, "train_accuracy": 0.5, "valid_loss": None,
                       "valid_mean_token_accuracy": None}
    assert rows[1]["valid_loss"] == 1.7
    with pytest.raises(WebtuneError, match="neither CSV"):
        decode_result_file(b"\x00not base64 at all!!")


def test_prepare_split_strips_meta_and_hashes_content(tmp_path):
    src = tmp_path / "train.jsonl"
    src.write_text('{"messages": [{"role": "user", "content": "hi"}], "meta": {"id": 1}}\n'
                   '{"messages": [{"role": "user", "content": "yo"}], "meta": {"id": 2}}\n')
    first = prepare_split("train", src, tmp_path / "up" / "train.jsonl")
    assert '"meta"' not in first.path.read_text() and first.examples == 2
    src.write_text(src.read_text().replace('"id": 1', '"id": 9'))  # only meta changes
    assert prepare_split("train", src, tmp_path / "up" / "train.jsonl").sha256 == first.sha256


def test_request_key_tracks_what_decides_the_job():
    base = dict(model="m", method="supervised", hyperparameters={"n_epochs": 2}, suffix="s", seed=1,
                files={"train": "abc"})
    key = JobRequest(**base).key
    assert JobRequest(**base, metadata={"webtune_run": "other"}).key == key
    assert JobRequest(**{**base, "hyperparameters": {"n_epochs": 3}}).key != key
    assert JobRequest(**{**base, "files": {"train": "abd"}}).key != key


def test_cost_prompt_on_a_terminal(monkeypatch):
    import rich.prompt

    answers = []
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr(rich.prompt.Confirm, "ask", classmethod(lambda cls, *a, **k: answers.append(a) or False))
    terminal = Console(force_terminal=True, quiet=True)
    cost = {"estimated_usd": 1.5}
    config = OpenAITrainConfig(backend="openai")
    with pytest.raises(WebtuneError, match="not confirmed: nothing was uploaded"):
        confirm_cost(config, cost, terminal)
    assert len(answers) == 1
    confirm_cost(OpenAITrainConfig(backend="openai", yes=True), cost, terminal)
    confirm_cost(OpenAITrainConfig(backend="openai", confirm=False), cost, terminal)
    monkeypatch.setenv("WEBTUNE_YES", "1")
    confirm_cost(config, cost, terminal)
    monkeypatch.delenv("WEBTUNE_YES")
    confirm_cost(config, cost, Console(force_terminal=False, quiet=True))  # not a terminal: no prompt
    assert len(answers) == 1
    with pytest.raises(WebtuneError, match="above train.max_cost_usd"):
        confirm_cost(OpenAITrainConfig(backend="openai", yes=True, max_cost_usd=1.0), cost, terminal)


def test_redact_hides_keys():
    text = redact("failed with custom-secret-value and sk-proj-abcdefghijklmnop", "custom-secret-value")
    assert "custom-secret-value" not in text and "sk-proj-abcdefghijklmnop" not in text


def test_event_reader_pages_and_returns_each_event_once_oldest_first(monkeypatch):
    with FakeOpenAI(total_steps=7, steps_per_poll=3) as server:
        monkeypatch.setenv("OPENAI_API_KEY", server.api_key)
        client = connect(server.base_url)
        data = b'{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}\n'
        file_id = client.files.create(file=("t.jsonl", data), purpose="fine-tune").id
        job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=file_id)
        reader = EventReader(client, job.id, page_size=2)
        seen = reader.new_events()
        while client.fine_tuning.jobs.retrieve(job.id).status != "succeeded":
            seen += reader.new_events()
        seen += reader.new_events()
        assert reader.new_events() == []
        messages = [e["message"] for e in seen]
        assert messages[0] == "Created fine-tuning job" and messages[-1] == "The job has successfully completed"
        assert len(messages) == len(set(e["id"] for e in seen)) == len(server.jobs[job.id].events)
        steps = [e["data"]["step"] for e in seen if e["type"] == "metrics"]
        assert steps == list(range(1, 8))


def test_fake_chat_completions_for_fine_tuned_models():
    with FakeOpenAI() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key=server.api_key, max_retries=0)
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(model="ft:unknown", messages=[{"role": "user", "content": "x"}])
        server.add_fine_tuned_model("ft:gpt-4o-mini:org:demo:abc")
        reply = client.chat.completions.create(model="ft:gpt-4o-mini:org:demo:abc",
                                               messages=[{"role": "user", "content": "Describe a pen"}])
        assert reply.choices[0].message.content == "[ft:gpt-4o-mini:org:demo:abc] Describe a pen"
        stream = client.chat.completions.create(model="ft:gpt-4o-mini:org:demo:abc", stream=True,
                                                messages=[{"role": "user", "content": "Describe a pen"}])
        assert "".join(c.choices[0].delta.content or "" for c in stream) == reply.choices[0].message.content
        assert len(server.chat_requests) == 2
