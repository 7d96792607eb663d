"""`webtune train` on the command line."""

from __future__ import annotations

import json

import yaml
from typer.testing import CliRunner

from tests.train.helpers import write_dataset
from webtune.cli.main import app


def write_pipeline(tmp_path, model_dir):
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump({
        "name": "cli", "base_model": str(model_dir), "run_dir": "runs/cli",
        "train": {"max_seq_len": 256, "max_steps": 3, "eval_steps": 0, "lora": {"r": 4, "alpha": 8}},
    }))
    return path


def test_train_command_trains_then_skips_and_merges(tmp_path, tiny_model_dir):
    dataset = write_dataset(tmp_path / "dataset", n_train=12)
    pipeline = write_pipeline(tmp_path, tiny_model_dir)
    runner = CliRunner()
    first = runner.invoke(app, ["train", "-p", str(pipeline), "-i", str(dataset)], terminal_width=160)
    assert first.exit_code == 0, first.output
    out = tmp_path / "runs" / "cli" / "train"
    assert json.loads((out / "train_result.json").read_text())["adapter_dir"] == "adapter"
    assert "train" in first.output and "kept 12" in first.output

    again = runner.invoke(app, ["train", "-p", str(pipeline), "-i", str(dataset), "--resume"])
    assert again.exit_code == 0, again.output
    assert "unchanged, skipped" in again.output  # --resume does not change what is trained

    merged = runner.invoke(app, ["train", "-p", str(pipeline), "-i", str(dataset), "--merge"])
    assert merged.exit_code == 0, merged.output
    assert json.loads((out / "train_result.json").read_text())["model_dir"] == "model"
    assert (out / "model" / "config.json").is_file()


def test_train_command_option_errors_are_one_line(tmp_path, tiny_model_dir):
    pipeline = write_pipeline(tmp_path, tiny_model_dir)
    runner = CliRunner()
    result = runner.invoke(app, ["train", "-p", str(pipeline), "--launcher", "accelerate"])
    assert result.exit_code == 2
    assert "needs --accelerate-config" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["train", "-p", str(pipeline), "--launcher", "slurm"])
    assert result.exit_code == 2 and "expected one of none, accelerate" in result.output
    missing = runner.invoke(app, ["train", "-p", str(pipeline), "-i", str(tmp_path / "nope")])
    assert missing.exit_code == 1 and "nope: not found" in missing.output


def test_local_only_options_are_refused_for_a_hosted_backend(tmp_path):
    path = tmp_path / "hosted.yaml"
    path.write_text(yaml.safe_dump({"name": "hosted", "train": {"backend": "openai"}}))
    result = CliRunner().invoke(app, ["train", "-p", str(path), "--merge"])
    assert result.exit_code == 2 and "for the local backend" in result.output



def test_plan_suggests_bf16_on_a_cpu_that_multiplies_it_natively(tmp_path, tiny_model_dir, monkeypatch):
    import torch

    monkeypatch.chdir(tmp_path)

    def plan(precision):
        path = tmp_path / f"{precision}.yaml"
        path.write_text(yaml.safe_dump({"name": "cli", "base_model": str(tiny_model_dir), "run_dir": "runs/cli",
                                        "train": {"max_seq_len": 256, "device": "cpu", "precision": precision}}))
        result = CliRunner().invoke(app, ["train", "-p", str(path), "--plan"], terminal_width=200)
        assert result.exit_code == 0, result.output
        return " ".join(result.output.split())  # rich wraps long lines

    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: {"avx512_bf16": True})
    assert "train.precision: bf16 trains LoRA about 2x faster" in plan("auto")
    assert "train.precision: bf16" not in plan("fp32")  # chosen explicitly
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: {"avx512_f": True})
    assert "train.precision: bf16" not in plan("auto")  # emulated bf16 is slower
