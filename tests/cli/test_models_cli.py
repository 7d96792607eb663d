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


def test_list_recommends_hub_models_with_licences_without_downloading(tmp_path, monkeypatch):
    import huggingface_hub

    from webtune.cli.common import console

    def no_download(*args, **kwargs):
        raise AssertionError("models list must not download")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", no_download)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", no_download)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setattr(console, "_width", 250)  # the CLI's console was sized at import
    cached = tmp_path / "hf" / "hub" / "models--Qwen--Qwen2.5-0.5B-Instruct" / "snapshots"
    cached.mkdir(parents=True)
    result = runner.invoke(app, ["models", "list", "--home", str(tmp_path)], terminal_width=250)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "smollm2-135m-instruct" in result.output  # the packaged model is still listed
    row = {name: next(line for line in lines if name in line) for name in (
        "meta-llama/Llama-3.2-1B-Instruct", "Qwen/Qwen2.5-0.5B-Instruct", "Qwen/Qwen2.5-7B-Instruct",
        "HuggingFaceTB/SmolLM2-135M-Instruct", "google/gemma-2-2b-it", "mistralai/Mistral-7B-Instruct-v0.3")}
    cells = {name: [cell.strip() for cell in line.split("│")[1:-1]] for name, line in row.items()}
    assert cells["meta-llama/Llama-3.2-1B-Instruct"][1:6] == ["1.2B", "2.5 GB", "llama3.2", "gated", "no"]
    assert cells["google/gemma-2-2b-it"][3:5] == ["gemma", "gated"]
    assert cells["mistralai/Mistral-7B-Instruct-v0.3"][3:5] == ["apache-2.0", "gated"]
    assert cells["Qwen/Qwen2.5-0.5B-Instruct"][1:6] == ["490M", "1.0 GB", "apache-2.0", "open", "yes"]  # cached
    # smallest first
    order = [lines.index(row[name]) for name in ("HuggingFaceTB/SmolLM2-135M-Instruct", "Qwen/Qwen2.5-0.5B-Instruct",
                                                   "meta-llama/Llama-3.2-1B-Instruct", "Qwen/Qwen2.5-7B-Instruct")]
    assert order == sorted(order)
