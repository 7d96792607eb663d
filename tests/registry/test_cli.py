"""`webtune registry list|show|promote|rollback|diff` through the CLI."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from webtune.cli.main import app
from webtune.registry.store import ModelRegistry

runner = CliRunner()


@pytest.fixture
def registry(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    reg = ModelRegistry(tmp_path / "reg")
    for n, loss in enumerate((1.9, 1.7, 1.8), start=1):
        folder = tmp_path / f"a{n}"
        folder.mkdir()
        (folder / "adapter_config.json").write_text("{}")
        reg.register("writer", {"kind": "adapter", "base_model": "smollm2-135m-instruct",
                                "lineage": {"eval_metrics": {"base": {"loss": 2.0}, "tuned": {"loss": loss}},
                                            "stages": {"train": {"config": {"epochs": n}}}},
                                "gates": {"passed": True, "checks": []}}, folder)
    return reg


def cli(registry, *args):
    result = runner.invoke(app, [*args, "--registry", str(registry.root)])
    return result.exit_code, result.output


def test_list_show_promote_rollback_diff(registry):
    code, out = cli(registry, "registry", "list")
    assert code == 0 and "writer" in out and "3" in out

    assert cli(registry, "registry", "promote", "writer@1")[0] == 0
    code, out = cli(registry, "registry", "promote", "writer@2")
    assert code == 0 and "production → v2" in out
    code, out = cli(registry, "registry", "list", "writer")
    assert code == 0 and "production" in out and "2.0000 → 1.7000" in out

    code, out = cli(registry, "registry", "show", "writer")
    assert code == 0 and "writer@2" in out and "eval loss" in out
    code, out = cli(registry, "registry", "rollback", "writer")
    assert code == 0 and "production v2 → v1" in out
    assert registry.production("writer") == 1

    code, out = cli(registry, "registry", "diff", "writer@1", "writer@3")
    assert code == 0
    assert "lineage.eval_metrics.tuned.loss" in out and "1.9000" in out and "1.8000" in out
    assert "lineage.stages.train.config.epochs" in out


def test_errors_are_one_line(registry):
    code, out = cli(registry, "registry", "show", "writer@9")
    assert code == 1 and "no version 9" in out and "Traceback" not in out
    code, out = cli(registry, "registry", "promote", "writer")
    assert code == 2 and "say which version" in out
    code, out = cli(registry, "registry", "rollback", "writer")
    assert code == 1 and "nothing to roll back to" in out


def test_register_command_registers_a_run(tmp_path, tiny_model_dir, tmp_path_factory, monkeypatch):
    from tests.evaluate.helpers import cached_adapter, publish_inputs

    monkeypatch.setenv("COLUMNS", "200")
    adapter = cached_adapter(tiny_model_dir, tmp_path_factory.mktemp("adapter"))
    run_dir = tmp_path / "run"
    publish_inputs(run_dir, tiny_model_dir, adapter)
    common = ["--run-dir", str(run_dir), "--base-model", str(tiny_model_dir)]
    assert runner.invoke(app, ["evaluate", *common, "--max-examples", "1", "--max-new-tokens", "2"]).exit_code == 0
    result = runner.invoke(app, ["register", "--run-dir", str(run_dir), "--name", "cli-model",
                                 "--registry", str(tmp_path / "reg")])
    assert result.exit_code == 0, result.output
    assert "registered cli-model@1" in result.output and "production" in result.output
    assert ModelRegistry(tmp_path / "reg").production("cli-model") == 1


def test_register_is_not_skipped_when_its_version_is_not_in_the_registry(tmp_path, tiny_model_dir,
                                                                          tmp_path_factory, monkeypatch):
    """The registry is outside the run: a new $WEBTUNE_HOME or a deleted version means register again."""
    import shutil

    from tests.evaluate.helpers import cached_adapter, publish_inputs

    monkeypatch.setenv("COLUMNS", "200")
    adapter = cached_adapter(tiny_model_dir, tmp_path_factory.mktemp("adapter"))
    run_dir = tmp_path / "run"
    publish_inputs(run_dir, tiny_model_dir, adapter)
    common = ["--run-dir", str(run_dir), "--base-model", str(tiny_model_dir)]
    assert runner.invoke(app, ["evaluate", *common, "--max-examples", "1", "--max-new-tokens", "2"]).exit_code == 0
    register = ["register", "--run-dir", str(run_dir), "--name", "moved"]
    for home in ("home-a", "home-b"):
        monkeypatch.setenv("WEBTUNE_HOME", str(tmp_path / home))
        result = runner.invoke(app, register)
        assert result.exit_code == 0, result.output
        assert ModelRegistry(tmp_path / home / "registry").version_numbers("moved") == [1]
    result = runner.invoke(app, register)  # same registry, version there: a real skip
    assert result.exit_code == 0 and "skipped" in result.output
    assert ModelRegistry(tmp_path / "home-b" / "registry").version_numbers("moved") == [1]
    shutil.rmtree(tmp_path / "home-b" / "registry" / "moved" / "v1")
    result = runner.invoke(app, register)
    assert result.exit_code == 0 and "registering it again" in " ".join(result.output.split())
    assert ModelRegistry(tmp_path / "home-b" / "registry").version_numbers("moved") != []
