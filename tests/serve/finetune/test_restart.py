"""`webtune serve --fine-tuning` killed mid-job and started again: the job resumes, is never retrained."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml
from openai import OpenAI

from tests.evaluate.helpers import make_examples
from tests.serve.conftest import free_port
from tests.serve.finetune.test_openai_flow import ALIAS, TRAIN, jsonl

ROOT = Path(__file__).resolve().parents[3]


def start(tmp: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}", "HF_HUB_OFFLINE": "1", "WEBTUNE_HOME": str(tmp)}
    proc = subprocess.Popen([sys.executable, "-m", "webtune.cli.main", "serve", "--fine-tuning",
                             "--fine-tuning-config", str(tmp / "ft.yaml"), "--data-dir", str(tmp / "data"),
                             "--registry", str(tmp / "registry"), "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=open(tmp / "server.log", "ab"))
    deadline = time.time() + 180  # importing torch in a fresh process takes long on a loaded machine
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError((tmp / "server.log").read_text())


def test_killed_server_resumes_the_job_from_its_checkpoint(tmp_path, tiny_model_dir):
    (tmp_path / "ft.yaml").write_text(yaml.safe_dump({"model_aliases": {ALIAS: str(tiny_model_dir)},
                                                      "train": TRAIN, "organization": "lab"}))
    port = free_port()
    proc = start(tmp_path, port)
    client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="none", max_retries=2)
    try:
        file = client.files.create(file=("t.jsonl", jsonl(make_examples(12))), purpose="fine-tune")
        job = client.fine_tuning.jobs.create(training_file=file.id, model=ALIAS, hyperparameters={"n_epochs": 30})
        deadline = time.time() + 300
        while not client.fine_tuning.jobs.checkpoints.list(job.id).data:
            assert time.time() < deadline
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    state = json.loads((tmp_path / "data/jobs" / job.id / "job.json").read_text())
    assert state["job"]["status"] == "running"  # killed mid-training

    proc = start(tmp_path, port)
    try:
        deadline = time.time() + 600
        while (done := client.fine_tuning.jobs.retrieve(job.id)).status not in ("succeeded", "failed"):
            assert time.time() < deadline
            time.sleep(0.2)
        assert done.status == "succeeded", done.error
        assert done.fine_tuned_model.startswith(f"ft:{ALIAS}:lab::")
        events = list(client.fine_tuning.jobs.list_events(job.id, limit=50))  # the SDK follows `after`
        assert any("Server restarted" in e.message for e in events)
        first_steps = [e for e in events if e.type == "metrics" and e.data["step"] == 1]
        assert len(first_steps) == 1  # resumed from the checkpoint, not trained again from the start
        versions = list((tmp_path / "registry").glob("ft-*/v*"))
        assert len(versions) == 1
        answer = client.chat.completions.create(model=done.fine_tuned_model, max_tokens=4,
                                                messages=[{"role": "user", "content": "Tell me about the fox."}])
        assert answer.choices[0].message.content is not None
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    proc = start(tmp_path, port)  # once more: the finished job's model is served again, nothing retrains
    try:
        assert done.fine_tuned_model in [m.id for m in client.models.list().data]
        again = client.chat.completions.create(model=done.fine_tuned_model, max_tokens=4,
                                               messages=[{"role": "user", "content": "Tell me about the fox."}])
        assert again.choices[0].message.content == answer.choices[0].message.content
        assert client.fine_tuning.jobs.retrieve(job.id).status == "succeeded"
        assert len(list((tmp_path / "registry").glob("ft-*/v*"))) == 1
    finally:
        proc.terminate()
        proc.wait(timeout=30)
