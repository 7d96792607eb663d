"""A registered LoRA version of the tiny Llama, with a run directory holding its test split and
evaluation, exported once per session in every format through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from webtune.handoffs import EvalReport
from webtune.registry.store import ModelRegistry

TEST_PROMPTS = ["Hello! What is your name?", "What is the capital of France?"]


def make_adapter(base: Path, out: Path, seed: int = 1) -> Path:
    """A LoRA adapter on ``base`` whose B matrices are random, so merging really changes the weights."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "k_proj", "v_proj",
                                                                                     "o_proj", "up_proj"]))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.5)
    peft_model.save_pretrained(out)
    return out


def make_run(run_dir: Path) -> Path:
    """A run directory with ``dataset/test.jsonl`` and ``evaluate/report.json``, as a version's lineage names."""
    (run_dir / "dataset").mkdir(parents=True)
    with (run_dir / "dataset" / "test.jsonl").open("w") as handle:
        for prompt in TEST_PROMPTS:
            handle.write(json.dumps({"messages": [{"role": "user", "content": prompt},
                                                  {"role": "assistant", "content": "an answer"}]}) + "\n")
    (run_dir / "evaluate").mkdir()
    EvalReport(metrics={"base": {"loss": 6.6}, "tuned": {"loss": 6.1}},
               rows=[{"metric": "loss", "base": 6.6, "tuned": 6.1, "delta": -0.5, "verdict": "better"}],
               counts={"test_examples": 2, "evaluated": 2}).write(run_dir / "evaluate" / EvalReport.FILE)
    return run_dir


def register_tiny(registry: ModelRegistry, base: Path, adapter: Path, run_dir: Path, name: str = "tiny"):
    """Register ``adapter`` as a version of ``name`` whose lineage points at ``run_dir``."""
    return registry.register(name, {
        "kind": "adapter", "method": "lora", "backend": "local", "base_model": str(base),
        "base_model_path": str(base),
        "lineage": {"run_dir": str(run_dir),
                    "stages": {"dataset": {"fingerprint": "d" * 16, "counts": {"in": 10, "kept": 8, "rejected": 2}},
                               "train": {"fingerprint": "t" * 16,
                                         "config": {"shared": {"seed": 7}, "stage": {"backend": "local", "epochs": 1}}}},
                    "data": {"dataset": {"test.jsonl": "ab" * 32}},
                    "train_metrics": {"train_loss": 6.2},
                    "eval_metrics": {"base": {"loss": 6.6}, "tuned": {"loss": 6.1}}},
    }, adapter)


@pytest.fixture(scope="session")
def tiny_version(tiny_model_dir, tmp_path_factory):
    """(registry, stored version) of a LoRA adapter on the tiny model."""
    root = tmp_path_factory.mktemp("export-version")
    adapter = make_adapter(tiny_model_dir, root / "adapter")
    registry = ModelRegistry(root / "registry")
    return registry, register_tiny(registry, tiny_model_dir, adapter, make_run(root / "run"))


@pytest.fixture(scope="session")
def exported(tiny_version, tmp_path_factory):
    """``webtune export tiny@1 -f hf -f gguf -f ollama -o OUT``: (registry, out dir, CLI output)."""
    from typer.testing import CliRunner

    from webtune.cli.main import app

    registry, version = tiny_version
    out = tmp_path_factory.mktemp("exported") / "out"
    result = CliRunner().invoke(app, ["export", version.label, "-f", "hf", "-f", "gguf,ollama", "-o", str(out),
                                      "--max-prompts", "2", "--max-new-tokens", "12",
                                      "--registry", str(registry.root)], env={"COLUMNS": "220"})
    assert result.exit_code == 0, result.output
    return registry, out, result.output
