"""The top-level command: its commands, doctor, and how errors look."""

from typer.testing import CliRunner

from webtune.cli.main import app

runner = CliRunner()


def test_help_lists_every_stage_command():
    result = runner.invoke(app, ["--help"], terminal_width=200)
    assert result.exit_code == 0
    for command in ("run", "collect", "clean", "dataset", "train", "evaluate", "registry", "chat",
                    "models", "doctor"):
        assert f" {command} " in result.output, command


def test_help_lists_commands_as_the_road_runs():
    import re

    result = runner.invoke(app, ["--help"], terminal_width=200)
    listed = re.findall(r"^│ ([a-z][a-z-]*)\s{2,}", result.output, flags=re.MULTILINE)
    road = ["run", "collect", "clean", "dataset", "train", "evaluate", "register", "chat", "serve"]
    tools = ["registry", "models", "doctor", "schema"]
    assert listed[:len(road)] == road  # typer alone lists groups (collect, train, ...) last
    assert [name for name in listed if name in tools] == tools and listed.index("registry") > listed.index("serve")


def test_doctor_reports_tokens_without_printing_them(monkeypatch, tmp_path):
    monkeypatch.setenv("WEBTUNE_HOME", str(tmp_path))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret-value")
    result = runner.invoke(app, ["doctor"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "sk-very-secret-value" not in result.output
    assert "OPENAI_API_KEY" in result.output and "BRIGHTDATA_API_TOKEN" in result.output
    assert "CPU" in result.output or "CUDA" in result.output


def test_bad_pipeline_is_one_clear_line_without_traceback(tmp_path):
    bad = tmp_path / "p.yaml"
    bad.write_text("name: demo\ntrain:\n  lora:\n    r: many\n")
    result = runner.invoke(app, ["run", str(bad)], terminal_width=200)
    assert result.exit_code == 2
    assert "train.lora.r: expected an integer" in result.output
    assert "Traceback" not in result.output


def test_missing_pipeline_file(tmp_path):
    result = runner.invoke(app, ["run", str(tmp_path / "missing.yaml")], terminal_width=200)
    assert result.exit_code == 2 and "pipeline file not found" in result.output
