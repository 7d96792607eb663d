"""`webtune run` and `webtune train`: training resumes by default, --no-resume starts it over."""

from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

from webtune.cli.main import app
from webtune.cli.train import train_overrides

runner = CliRunner()


@pytest.fixture
def captured(monkeypatch):
    """The pipelines `webtune run` hands to run_pipeline (which then does nothing)."""
    from webtune import pipeline

    seen = []
    monkeypatch.setattr(pipeline, "run_pipeline", lambda p, where, **kw: seen.append(p) or [])
    return seen


def write_pipeline(tmp_path, **extra):
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump({"name": "t", "run_dir": str(tmp_path / "runs"), **extra}))
    return path


@pytest.mark.parametrize("args, resume", [([], None), (["--no-resume"], False)])
def test_run_resumes_training_unless_told_not_to(tmp_path, captured, args, resume):
    result = runner.invoke(app, ["run", str(write_pipeline(tmp_path)), "--to", "collect", *args])
    assert result.exit_code == 0, result.output
    assert captured[0].train.resume is resume


def test_no_resume_leaves_a_hosted_job_to_reattach(tmp_path, captured):
    hosted = write_pipeline(tmp_path, train={"backend": "openai", "model": "gpt-4o-mini-2024-07-18"})
    result = runner.invoke(app, ["run", str(hosted), "--to", "collect", "--no-resume"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "reattached, not restarted" in result.output and not hasattr(captured[0].train, "resume")


def test_train_options_resume_by_default():
    assert train_overrides(None, False, None, None) == {}
    assert train_overrides(True, False, None, None) == {"train": {"resume": True}}
    assert train_overrides(False, False, None, None) == {"train": {"resume": False}}


@pytest.mark.parametrize("promoted, promote, code", [(True, True, 0), (False, True, 4), (False, False, 0)])
def test_run_exits_4_when_the_registered_version_was_kept_out_of_production(tmp_path, monkeypatch,
                                                                            promoted, promote, code):
    from webtune import pipeline
    from webtune.handoffs import GateCheck, GateResults, RegistryVersion

    def registered(p, where, **kw):
        (where / "register").mkdir(parents=True)
        failed = [] if promoted else [GateCheck(gate="tuned_loss_below_base", passed=False, detail="tuned 2.1 vs base 2.0")]
        RegistryVersion(name="t", version=2, kind="adapter", promoted=promoted,
                        gates=GateResults(checks=failed, passed=promoted)).write(where / "register")
        return []

    monkeypatch.setattr(pipeline, "run_pipeline", registered)
    path = write_pipeline(tmp_path, register={"promote": promote})
    result = runner.invoke(app, ["run", str(path)], terminal_width=200)
    assert result.exit_code == code, result.output
    if code == 4:
        assert "not promoted: t@2: tuned_loss_below_base (tuned 2.1 vs base 2.0)" in result.output


def test_run_help_documents_the_exit_codes():
    result = runner.invoke(app, ["run", "--help"], terminal_width=200)
    assert "--refresh" in result.output and "4 it was" in " ".join(result.output.split())


def test_a_refresh_run_refuses_from_and_to(tmp_path):
    result = runner.invoke(app, ["run", str(write_pipeline(tmp_path)), "--refresh", "--to", "collect"])
    assert result.exit_code == 2 and "a refresh run makes a whole version" in result.output


def test_refresh_flag_turns_a_plain_pipeline_into_a_refresh_run(tmp_path, monkeypatch):
    from webtune.refresh import run as refresh_module
    from webtune.refresh.run import RefreshOutcome

    seen = []

    def fake(pipeline, runs_root, console, force=False):
        seen.append((pipeline, runs_root))
        return RefreshOutcome(version=3, run_dir=runs_root / "v3", nothing_new=True)

    monkeypatch.setattr(refresh_module, "run_refresh", fake)
    result = runner.invoke(app, ["run", str(write_pipeline(tmp_path)), "--refresh"])
    assert result.exit_code == 0, result.output
    assert seen[0][0].refresh.train == "continue" and seen[0][1] == tmp_path / "runs"
    runner.invoke(app, ["run", str(write_pipeline(tmp_path)), "--to", "collect"])
    assert len(seen) == 1  # without the flag or a `refresh:` section, a plain run
