"""`webtune evaluate` from the command line, on a run directory's dataset and train outputs."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tests.evaluate.helpers import cached_adapter, publish_inputs
from webtune.cli.main import app

runner = CliRunner()


def test_evaluate_command_writes_the_report_and_skips_when_unchanged(tmp_path, tiny_model_dir,
                                                                    tmp_path_factory, monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")
    adapter = cached_adapter(tiny_model_dir, tmp_path_factory.mktemp("adapter"))
    run_dir = tmp_path / "run"
    publish_inputs(run_dir, tiny_model_dir, adapter)
    args = ["evaluate", "--run-dir", str(run_dir), "--base-model", str(tiny_model_dir),
            "--max-examples", "2", "--max-new-tokens", "4", "--metric", "loss", "--metric", "exact_match"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    report = json.loads((run_dir / "evaluate" / "report.json").read_text())
    assert report["counts"]["generated"] == 2 and set(report["metrics"]["tuned"]) == {
        "loss", "perplexity", "exact_match", "eot_fraction", "repetition_rate"}  # the last two: always
    assert "base vs tuned" in first.output and "exact_match" in first.output
    second = runner.invoke(app, args)
    assert second.exit_code == 0 and "skipped" in second.output and "perplexity" in second.output


def test_evaluate_command_without_inputs_is_one_clear_line(tmp_path):
    result = runner.invoke(app, ["evaluate", "--run-dir", str(tmp_path / "empty")])
    assert result.exit_code == 1
    assert "input 'dataset' has no complete output" in result.output and "Traceback" not in result.output
