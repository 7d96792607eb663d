"""`webtune train status|events|cancel|attach` against the fake API."""

from __future__ import annotations

import json

import pytest
from rich.console import Console
from typer.testing import CliRunner

from tests.fakes.openai_server import FakeOpenAI
from tests.hosted.helpers import pipeline, write_dataset
from webtune.hosted.sunset import DEFAULT_HOSTED_MODEL
from webtune.cli.common import new_app
from webtune.cli.train_hosted import register_hosted
from webtune.pipeline import run_one_stage, stage_spec

runner = CliRunner()


def flat(text: str) -> str:
    """Output with rich's line wrapping undone."""
    return " ".join(text.split())


@pytest.fixture()
def server(monkeypatch):
    with FakeOpenAI() as fake:
        monkeypatch.setenv("OPENAI_API_KEY", fake.api_key)
        yield fake


@pytest.fixture()
def app():
    """The train group as the train CLI builds it (hosted commands added by register_hosted)."""
    group = new_app("train")

    @group.command("run")
    def _run() -> None:  # a stand-in for the local trainer's command: a group needs two to nest
        """(stand-in)"""

    register_hosted(group)
    return group


def trained_run(server, tmp_path, interrupt=False, monkeypatch=None):
    run_dir = tmp_path / "run"
    write_dataset(run_dir / "dataset")
    if interrupt:
        import webtune.hosted.monitor as monitor

        monkeypatch.setattr(monitor.time, "sleep", lambda s: (_ for _ in ()).throw(KeyboardInterrupt()))
        with pytest.raises(KeyboardInterrupt):
            run_one_stage(stage_spec("train"), pipeline(server, tmp_path), run_dir,
                          inputs={"dataset": run_dir / "dataset"}, console=Console(quiet=True))
        monkeypatch.undo()
        monkeypatch.setenv("OPENAI_API_KEY", server.api_key)
    else:
        run_one_stage(stage_spec("train"), pipeline(server, tmp_path), run_dir,
                      inputs={"dataset": run_dir / "dataset"}, console=Console(quiet=True))
    return run_dir


def test_status_shows_job_and_checkpoints(server, tmp_path, app, monkeypatch):
    run_dir = trained_run(server, tmp_path)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    result = runner.invoke(app, ["status", str(run_dir)])
    assert result.exit_code == 0, result.output
    job = next(iter(server.jobs.values())).data
    assert job["id"] in result.output and "succeeded" in result.output
    assert job["fine_tuned_model"] in result.output and "checkpoints" in result.output
    result = runner.invoke(app, ["status", str(run_dir), "--json"])
    assert json.loads(result.output)["id"] == job["id"]


def test_events_in_order(server, tmp_path, app):
    run_dir = trained_run(server, tmp_path)
    result = runner.invoke(app, ["events", str(run_dir), "--limit", "100"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.index("Created fine-tuning job") < out.index("Step 1/6") < out.index("successfully completed")
    last_two = runner.invoke(app, ["events", str(run_dir), "-n", "2"]).output
    assert "successfully completed" in last_two and "Created fine-tuning job" not in last_two


def test_cancel_running_job_then_rerun_starts_new(server, tmp_path, app, monkeypatch):
    run_dir = trained_run(server, tmp_path, interrupt=True, monkeypatch=monkeypatch)
    job_id = next(iter(server.jobs))
    result = runner.invoke(app, ["cancel", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert "cancelled" in result.output and server.jobs[job_id].data["status"] == "cancelled"
    again = runner.invoke(app, ["cancel", str(run_dir)])
    assert again.exit_code == 1 and "already cancelled" in flat(again.output)
    manifest = run_one_stage(stage_spec("train"), pipeline(server, tmp_path), run_dir,
                             inputs={"dataset": run_dir / "dataset"}, console=Console(quiet=True))
    assert manifest.stats["job_id"] != job_id and server.counts["jobs.create"] == 2


def test_attach_follows_a_job_started_elsewhere(server, tmp_path, app, monkeypatch):
    trained_run(server, tmp_path, interrupt=True, monkeypatch=monkeypatch)  # a job left running
    job_id = next(iter(server.jobs))
    target = tmp_path / "attached"
    result = runner.invoke(app, ["attach", job_id, "--run-dir", str(target), "--poll-interval", "0.01",
                                 "--base-url", server.base_url])
    assert result.exit_code == 0, result.output
    train_result = json.loads((target / "train" / "train_result.json").read_text())
    assert train_result["job_id"] == job_id and train_result["model_id"].startswith("ft:")
    assert (target / "train" / "manifest.json").is_file() and (target / "train" / "loss.png").is_file()
    assert server.counts["jobs.create"] == 1
    # the attached run now answers status like any other
    assert job_id in runner.invoke(app, ["status", str(target)]).output


def test_unknown_run_and_wrong_key_are_one_line_errors(server, tmp_path, app, monkeypatch):
    result = runner.invoke(app, ["status", str(tmp_path / "nope")])
    assert result.exit_code == 1 and "no hosted fine-tuning job found" in flat(result.output)
    run_dir = trained_run(server, tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-not-the-right-one-123456")
    result = runner.invoke(app, ["status", str(run_dir)])
    assert result.exit_code == 3 and "Incorrect API key" in flat(result.output)
    assert "sk-not-the-right-one-123456" not in result.output and "Traceback" not in result.output


def test_registered_under_webtune_train():
    from webtune.cli.main import app as main_app

    result = runner.invoke(main_app, ["train", "status", "--help"])
    if result.exit_code != 0 or "train status" not in result.output:
        pytest.skip("cli/train.py does not call register_hosted(train_app) yet")
    assert "RUN" in result.output and "hosted fine-tuning job" in flat(result.output)


def test_webtune_train_with_a_hosted_pipeline_then_status(server, tmp_path):
    from webtune.cli.main import app as main_app

    write_dataset(tmp_path / "dataset")
    (tmp_path / "pipeline.yaml").write_text(
        "name: hosted-cli\n"
        "run_dir: run\n"
        "train:\n"
        "  backend: openai\n"
        f"  base_url: {server.base_url}\n"
        "  epochs: 1\n"
        "  poll_interval: 0.01\n"
    )
    result = runner.invoke(main_app, ["train", "--pipeline", str(tmp_path / "pipeline.yaml"),
                                      "--input", str(tmp_path / "dataset")])
    assert result.exit_code == 0, result.output
    train_result = json.loads((tmp_path / "run" / "train" / "train_result.json").read_text())
    assert train_result["model_id"].startswith(f"ft:{DEFAULT_HOSTED_MODEL}:webtune-test:hosted-cli:")
    status = runner.invoke(main_app, ["train", "status", str(tmp_path / "run")])
    assert status.exit_code == 0 and train_result["job_id"] in status.output and "succeeded" in status.output
    as_json = runner.invoke(main_app, ["train", "status", str(tmp_path / "run"), "--json"])
    assert json.loads(as_json.output)["fine_tuned_model"] == train_result["model_id"]
    assert server.api_key not in result.output + status.output
