"""Fine-tuning jobs of ``method.type: dpo``: OpenAI's preference files, validated like OpenAI does."""

from __future__ import annotations

import io
import json

import openai
import pytest

from tests.serve.finetune.test_openai_flow import ALIAS, client, server, wait_for  # noqa: F401 (fixtures)
from webtune.serve.finetune.jobs import FineTuneOptions, new_job, preference_train_config


def pref_line(i: int) -> dict:
    return {"input": {"messages": [{"role": "user", "content": f"Name pen {i}."}]},
            "preferred_output": [{"role": "assistant", "content": f"Gel pen {i}."}],
            "non_preferred_output": [{"role": "assistant", "content": f"pen pen {i}"}]}


def jsonl(rows: list[dict]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def test_a_dpo_job_trains_with_webtunes_dpo_loop_and_its_model_answers(client):  # noqa: F811
    import math

    uploaded = client.files.create(file=("pref.jsonl", io.BytesIO(jsonl([pref_line(i) for i in range(12)]))),
                                   purpose="fine-tune")
    validation = client.files.create(file=("val.jsonl", io.BytesIO(jsonl([pref_line(i) for i in range(20, 26)]))),
                                     purpose="fine-tune")
    job = client.fine_tuning.jobs.create(training_file=uploaded.id, validation_file=validation.id, model=ALIAS,
                                         suffix="dpo", method={"type": "dpo", "dpo": {"hyperparameters": {
                                             "beta": 0.2, "n_epochs": 3}}})
    assert job.method.type == "dpo" and job.method.dpo.hyperparameters.beta == 0.2
    done = wait_for(client, job.id, ("failed", "succeeded"))
    assert done.status == "succeeded", done.error
    assert done.fine_tuned_model.startswith(f"ft:{ALIAS}:dpo::") and done.trained_tokens > 0
    events = client.fine_tuning.jobs.list_events(job.id, limit=100).data
    steps = [e for e in events if e.type == "metrics"]
    from webtune.train.backends.local_config import PreferenceConfig

    per_step = PreferenceConfig.model_fields["batch_size"].default  # "auto" batch: the phase's default
    assert steps and steps[0].data["total_steps"] == 3 * 12 // per_step  # 3 epochs of 12 pairs
    rows = client.files.content(done.result_files[0]).text.splitlines()[1:]
    valid = [float(r.split(",")[3]) for r in rows if r.split(",")[3]]
    # DPO's validation loss starts at log 2 (the policy is its own reference) and falls
    assert valid[0] == pytest.approx(math.log(2), abs=1e-4) and valid[-1] < valid[0]
    answer = client.chat.completions.create(model=done.fine_tuned_model, max_tokens=6,
                                            messages=pref_line(1)["input"]["messages"])
    assert answer.model == done.fine_tuned_model and answer.choices[0].message.content is not None


def test_a_dpo_job_with_a_chat_file_fails_validation_naming_line_and_field(client):  # noqa: F811
    chat = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    rows = [pref_line(i) for i in range(11)] + [chat]
    uploaded = client.files.create(file=("mixed.jsonl", io.BytesIO(jsonl(rows))), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(training_file=uploaded.id, model=ALIAS, method={"type": "dpo"})
    done = wait_for(client, job.id, ("failed", "succeeded"))
    assert done.error.code == "invalid_training_file" and done.error.param == "training_file"
    assert "line 12: messages: unknown key" in done.error.message


def test_a_dpo_job_with_equal_answers_fails_validation(client):  # noqa: F811
    same = {**pref_line(3), "non_preferred_output": pref_line(3)["preferred_output"]}
    uploaded = client.files.create(file=("same.jsonl", io.BytesIO(jsonl([pref_line(i) for i in range(10)] + [same]))),
                                   purpose="fine-tune")
    done = wait_for(client, client.fine_tuning.jobs.create(training_file=uploaded.id, model=ALIAS,
                                                           method={"type": "dpo"}).id, ("failed", "succeeded"))
    assert done.error.code == "invalid_training_file"
    assert "line 11: non_preferred_output: chosen and rejected are the same answer" in done.error.message


def test_method_settings_must_match_the_method_type(client):  # noqa: F811
    uploaded = client.files.create(file=("p.jsonl", io.BytesIO(jsonl([pref_line(1)]))), purpose="fine-tune")
    with pytest.raises(openai.BadRequestError):
        client.fine_tuning.jobs.create(training_file=uploaded.id, model=ALIAS,
                                       method={"type": "supervised", "dpo": {"hyperparameters": {"beta": 0.1}}})
    with pytest.raises(openai.BadRequestError):
        client.fine_tuning.jobs.create(training_file=uploaded.id, model=ALIAS,
                                       method={"type": "dpo", "dpo": {"hyperparameters": {"beta": -1}}})


def test_the_hook_maps_a_dpo_job_to_a_preference_phase(tmp_path):
    options = FineTuneOptions(data_dir=tmp_path, train={"learning_rate": 1e-3, "max_seq_len": 64})
    state = new_job({"model": "m", "training_file": "file-1", "seed": 3,
                     "method": {"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.3, "n_epochs": 2,
                                                                           "learning_rate_multiplier": 0.5}}}},
                    "", "org", seq=1)
    hyper = state["job"]["hyperparameters"]
    assert hyper == {"batch_size": "auto", "learning_rate_multiplier": 0.5, "n_epochs": 2, "beta": 0.3}
    assert state["job"]["method"] == {"type": "dpo", "dpo": {"hyperparameters": hyper}}
    config = preference_train_config(options, hyper, 3)
    assert config["supervised"] is False and config["seed"] == 3 and config["max_seq_len"] == 64
    assert config["preference"] == {"method": "dpo", "beta": 0.3, "epochs": 2, "learning_rate": 5e-4}
    assert preference_train_config(options, {"beta": "auto"}, 0)["preference"] == {"method": "dpo", "beta": 0.1}
