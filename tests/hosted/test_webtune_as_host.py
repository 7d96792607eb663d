"""webtune's openai trainer backend pointed at another webtune (`serve --fine-tuning`) trains there."""

from __future__ import annotations

import json

from rich.console import Console

from tests.hosted.helpers import pipeline, write_dataset
from tests.serve.conftest import running
from tests.serve.finetune.test_openai_flow import ALIAS, TRAIN
from webtune.pipeline import run_one_stage, stage_spec


class Remote:
    def __init__(self, base_url: str):
        self.base_url = base_url


def test_openai_backend_trains_on_a_webtune_server(tmp_path, tiny_model_dir, monkeypatch):
    from webtune.registry.store import ModelRegistry
    from webtune.serve.finetune.jobs import FineTuneOptions
    from webtune.serve.server import ServeOptions, guarded_app
    from webtune.serve.table import ModelTable

    options = FineTuneOptions(data_dir=tmp_path / "gpu-box", registry=ModelRegistry(tmp_path / "gpu-registry"),
                              model_aliases={ALIAS: str(tiny_model_dir)}, train=TRAIN)
    app = guarded_app(ModelTable(), ServeOptions(api_key="box-key", fine_tuning=options))
    monkeypatch.setenv("OPENAI_API_KEY", "box-key")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    try:
        with running(app) as url:  # the "GPU box"; this test process is the laptop running the pipeline
            run_dir = tmp_path / "run"
            write_dataset(run_dir / "dataset")
            pipe = pipeline(Remote(url), tmp_path, model=ALIAS, poll_interval=0.1)
            manifest = run_one_stage(stage_spec("train"), pipe, run_dir, inputs={"dataset": run_dir / "dataset"},
                                     console=Console(quiet=True))
            result = json.loads((run_dir / "train" / "train_result.json").read_text())
            assert result["model_id"].startswith(f"ft:{ALIAS}:demo::")
            assert manifest.stats["job_id"].startswith("ftjob-")
            job = json.loads((tmp_path / "gpu-box/jobs" / manifest.stats["job_id"] / "job.json").read_text())
            assert job["job"]["status"] == "succeeded" and job["job"]["hyperparameters"]["n_epochs"] == 2
            # the model trained on the box answers there, through the URL the laptop recorded
            from openai import OpenAI

            answer = OpenAI(base_url=result["api"]["base_url"], api_key="box-key").chat.completions.create(
                model=result["model_id"], max_tokens=4, messages=[{"role": "user", "content": "Describe a pen."}])
            assert answer.model == result["model_id"]
    finally:
        app.app.state.finetune.close()
