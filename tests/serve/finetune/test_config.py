"""`webtune serve --fine-tuning`'s options: the config file and what reaches the server."""

from __future__ import annotations

from typer.testing import CliRunner

from tests.serve.conftest import free_port
from webtune.cli.main import app

runner = CliRunner()


def test_config_reaches_the_server_and_errors_name_the_file_and_key(tmp_path, tiny_model_dir, monkeypatch):
    import webtune.serve.server as server

    started = {}
    monkeypatch.setattr(server, "serve", lambda table, host, port, options: started.update(
        options=options, ids=table.ids()))
    good = tmp_path / "ft.yaml"
    good.write_text(f"model_aliases: {{gpt-4o-mini-2024-07-18: {tiny_model_dir}}}\n"
                    "train: {max_seq_len: 64}\norganization: lab\n")
    result = runner.invoke(app, ["serve", "--fine-tuning", "--fine-tuning-config", str(good), "--port",
                                 str(free_port()), "--data-dir", str(tmp_path / "data"), "--registry",
                                 str(tmp_path / "reg")])
    assert result.exit_code == 0, result.output
    options = started["options"].fine_tuning
    assert options.model_aliases == {"gpt-4o-mini-2024-07-18": str(tiny_model_dir)}
    assert options.train == {"max_seq_len": 64} and options.organization == "lab"
    assert options.data_dir == tmp_path / "data" and started["ids"] == []  # no --model: nothing served yet
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: {lora: {r: many}}\n")
    result = runner.invoke(app, ["serve", "--fine-tuning", "--fine-tuning-config", str(bad), "--port",
                                 str(free_port())])
    assert result.exit_code != 0
    assert f"{bad}: train.lora.r:" in result.output and len(result.output.strip().splitlines()) == 1
