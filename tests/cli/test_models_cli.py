"""`webtune models list|prepare` from the command line."""

from typer.testing import CliRunner

from webtune.cli.main import app
from webtune.models import build_tiny_model

runner = CliRunner()


def test_list_shows_catalog_and_local_models(tmp_path):
    build_tiny_model(tmp_path / "models" / "my-tiny")
    result = runner.invoke(app, ["models", "list", "--home", str(tmp_path)], terminal_width=250)
    assert result.exit_code == 0, result.output
    assert "smollm2-135m-instruct" in result.output
    assert "my-tiny" in result.output


def test_prepare_unknown_model_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["models", "prepare", "gpt-17", "--home", str(tmp_path)], terminal_width=250)
    assert result.exit_code != 0
    assert "gpt-17" in result.output and "smollm2-135m-instruct" in result.output
    assert "Traceback" not in result.output
