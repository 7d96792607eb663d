"""OpenAI's fine-tuning dates: said once when a job targets OpenAI, and by `webtune doctor`."""

from __future__ import annotations

import io

from rich.console import Console
from typer.testing import CliRunner

from webtune.hosted import sunset


def test_warned_once_and_only_for_openai(monkeypatch):
    monkeypatch.setattr(sunset, "_warned", set())
    out = io.StringIO()
    console = Console(file=out, width=300)
    assert not sunset.warn_openai_dates("http://127.0.0.1:8000/v1", console)  # a webtune server: no warning
    assert sunset.warn_openai_dates("https://api.openai.com/v1/", console)
    assert not sunset.warn_openai_dates(None, console)  # once per process
    assert out.getvalue().count("6 January 2027") == 1 and "14 January 2027" in out.getvalue()
    assert sunset.targets_openai(None) and not sunset.targets_openai("https://notopenai.com/v1")


def test_the_openai_backend_warns_before_it_uploads(monkeypatch, tmp_path):
    from tests.fakes.openai_server import FakeOpenAI
    from tests.hosted.helpers import pipeline, write_dataset
    from webtune.pipeline import run_one_stage, stage_spec

    monkeypatch.setattr(sunset, "_warned", set())
    monkeypatch.setattr(sunset, "targets_openai", lambda url: True)  # the fake API stands in for OpenAI
    out = io.StringIO()
    with FakeOpenAI() as server:
        monkeypatch.setenv("OPENAI_API_KEY", server.api_key)
        run_dir = tmp_path / "run"
        write_dataset(run_dir / "dataset")
        run_one_stage(stage_spec("train"), pipeline(server, tmp_path), run_dir,
                      inputs={"dataset": run_dir / "dataset"}, console=Console(file=out, width=300))
    assert out.getvalue().count("new jobs stop on 6 January 2027") == 1


def test_doctor_says_it(monkeypatch, tmp_path):
    from webtune.cli.main import app

    monkeypatch.setenv("WEBTUNE_HOME", str(tmp_path))
    result = CliRunner().invoke(app, ["doctor"], terminal_width=400)
    assert result.exit_code == 0 and "OpenAI fine-tuning" in result.output and "6 January 2027" in result.output
