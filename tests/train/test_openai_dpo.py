"""Hosted preference fine-tuning: the openai backend's ``method: dpo`` against the local fake API."""

from __future__ import annotations

import json

import pytest

from tests.hosted.helpers import all_text_under, pipeline, write_dataset
from tests.train.helpers import run_logged
from webtune.errors import WebtuneError


def pair(i: int) -> dict:
    """A preference record as the dataset stage writes it (with webtune's meta, never uploaded)."""
    return {"prompt": [{"role": "user", "content": f"Describe product {i}."}],
            "chosen": f"Product {i} is a sturdy stapler.", "rejected": f"product {i} product {i}",
            "meta": {"source_id": f"doc-{i}", "generator": "reference_vs_base"}}


def write_preferences(dataset_dir, n_train=12, n_valid=2, extra=()):
    write_dataset(dataset_dir)
    for name, rows in (("train", [pair(i) for i in range(n_train)] + list(extra)),
                       ("validation", [pair(100 + i) for i in range(n_valid)]), ("test", [pair(200)])):
        (dataset_dir / f"preference_{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_dpo_job_gets_the_preference_files_and_the_dpo_method(server, tmp_path):
    run_dir = tmp_path / "run"
    write_preferences(run_dir / "dataset")
    manifest, out = run_logged(pipeline(server, tmp_path, method="dpo", beta=0.2), run_dir)
    job = next(iter(server.jobs.values())).data
    assert job["method"] == {"type": "dpo", "dpo": {"hyperparameters": {
        "n_epochs": 2, "batch_size": 1, "learning_rate_multiplier": 0.5, "beta": 0.2}}}
    uploaded = {f["meta"]["filename"]: f["content"].decode() for f in server.files.values()
                if f["meta"]["purpose"] == "fine-tune"}
    assert sorted(uploaded) == ["preference_train.jsonl", "preference_validation.jsonl"]
    rows = [json.loads(line) for line in uploaded["preference_train.jsonl"].splitlines()]
    assert len(rows) == 12 and rows[3] == {
        "input": {"messages": [{"role": "user", "content": "Describe product 3."}]},
        "preferred_output": [{"role": "assistant", "content": "Product 3 is a sturdy stapler."}],
        "non_preferred_output": [{"role": "assistant", "content": "product 3 product 3"}]}
    result = json.loads((run_dir / "train" / "train_result.json").read_text())
    assert result["method"] == "dpo" and result["model_id"] == job["fine_tuned_model"]
    assert manifest.counts.to_json() == {"in": 14, "kept": 14, "rejected": 0}
    assert server.api_key not in all_text_under(run_dir) and server.api_key not in out


def test_a_dpo_rerun_reattaches_and_uploads_nothing_twice(server, tmp_path):
    run_dir = tmp_path / "run"
    write_preferences(run_dir / "dataset")
    pipe = pipeline(server, tmp_path, method="dpo")
    run_logged(pipe, run_dir)
    run_logged(pipe, run_dir, force=True)
    assert server.counts["jobs.create"] == 1 and server.counts["files.create"] == 2
    # the supervised job of the same run is another request: a new job, on the chat files
    run_logged(pipeline(server, tmp_path), run_dir, force=True)
    assert server.counts["jobs.create"] == 2
    assert sorted(j.data["method"]["type"] for j in server.jobs.values()) == ["dpo", "supervised"]


def test_a_bad_or_unpaired_preference_file_uploads_nothing(server, tmp_path):
    run_dir = tmp_path / "run"
    same = {**pair(50), "rejected": pair(50)["chosen"]}
    kto = {"prompt": [{"role": "user", "content": "q"}], "completion": "a", "desirable": True}
    write_preferences(run_dir / "dataset", extra=[same, kto])
    with pytest.raises(WebtuneError) as caught:
        run_logged(pipeline(server, tmp_path, method="dpo"), run_dir)
    message = str(caught.value)
    assert "preference_train.jsonl:13: rejected: chosen and rejected are the same answer" in message
    assert "1 records without a chosen/rejected pair (KTO)" in message
    assert server.counts["files.create"] == 0 and server.counts["jobs.create"] == 0


def test_dpo_without_preference_splits_names_the_missing_file(server, tmp_path):
    run_dir = tmp_path / "run"
    write_dataset(run_dir / "dataset")
    with pytest.raises(WebtuneError, match="preference_train.jsonl: training file not found.*preference generator"):
        run_logged(pipeline(server, tmp_path, method="dpo"), run_dir)


def test_beta_belongs_to_dpo(server, tmp_path):
    with pytest.raises(WebtuneError, match="only the dpo method takes beta"):
        pipeline(server, tmp_path, beta=0.1)
