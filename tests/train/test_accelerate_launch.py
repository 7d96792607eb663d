"""`--launcher accelerate`: the same training in two CPU processes joined by gloo."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import yaml

from tests.train.helpers import pipeline_for, run_train, write_dataset

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "accelerate" / "cpu_2proc.yaml"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_cpu_processes_with_gloo(tmp_path, tiny_model_dir):
    config = yaml.safe_load(EXAMPLE.read_text())
    config["main_process_port"] = free_port()  # the shipped example, on a port that is free now
    config_file = tmp_path / "accelerate.yaml"
    config_file.write_text(yaml.safe_dump(config))
    dataset = write_dataset(tmp_path / "dataset", n_train=24)
    single = run_train(pipeline_for(tiny_model_dir, epochs=2), tmp_path / "one", dataset)
    manifest = run_train(pipeline_for(tiny_model_dir, epochs=2, launcher="accelerate",
                                      accelerate_config=str(config_file)), tmp_path / "two", dataset)
    stats = manifest.stats
    assert stats["processes"] == 2
    # Each step takes one row per process: half the steps of the single-process run.
    assert stats["total_steps"] == -(-single.stats["total_steps"] // 2)
    assert manifest.counts == single.counts
    out = tmp_path / "two" / "train"
    result = json.loads((out / "train_result.json").read_text())
    assert (out / result["adapter_dir"] / "adapter_model.safetensors").is_file()
    assert stats["val_loss"] < stats["base_val_loss"]
    assert stats["base_val_loss"] == single.stats["base_val_loss"]  # same data, same base model


def test_shipped_accelerate_configs_are_valid():
    from accelerate.commands.config.config_args import load_config_from_file

    shipped = sorted(EXAMPLE.parent.glob("*.yaml"))
    assert {p.stem for p in shipped} >= {"cpu_2proc", "ddp", "fsdp", "deepspeed_zero2", "deepspeed_zero3"}
    kinds = {p.stem: str(load_config_from_file(str(p)).distributed_type) for p in shipped}
    assert kinds["fsdp"].endswith("FSDP") and kinds["deepspeed_zero2"].endswith("DEEPSPEED")
    assert kinds["ddp"].endswith("MULTI_GPU")
