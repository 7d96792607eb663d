"""Training on a CUDA GPU: bf16, QLoRA with bitsandbytes, and the memory planner against
torch.cuda's allocator. Marked ``gpu``: skipped with the reason where torch sees no GPU
(CI is CPU-only); bench/gpu_proof.sh runs them on a GPU machine.
"""

from __future__ import annotations

import importlib.util
import json
import math

import pytest

from tests.bench.helpers import load_bench
from tests.train.helpers import pipeline_for, run_train

pytestmark = pytest.mark.gpu


def test_bf16_lora_training_on_the_gpu(tmp_path, tiny_model_dir, dataset_dir):
    manifest = run_train(pipeline_for(tiny_model_dir, device="cuda", precision="bf16", max_steps=6),
                         tmp_path / "run", dataset_dir)
    stats = manifest.stats
    assert stats["device"].startswith("cuda") and stats["mixed_precision"] == "bf16"
    assert math.isfinite(stats["train_loss"]) and stats["val_loss"] < stats["base_val_loss"]


def test_full_fine_tuning_in_bf16_on_the_gpu(tmp_path, tiny_model_dir, dataset_dir):
    manifest = run_train(pipeline_for(tiny_model_dir, method="full", device="cuda", precision="bf16",
                                      max_steps=4, learning_rate=1e-4), tmp_path / "run", dataset_dir)
    assert manifest.stats["device"].startswith("cuda") and math.isfinite(manifest.stats["train_loss"])
    assert (tmp_path / "run" / "train" / "model" / "config.json").is_file()


@pytest.mark.skipif(importlib.util.find_spec("bitsandbytes") is None, reason="bitsandbytes is not installed")
def test_qlora_with_bitsandbytes(tmp_path, tiny_model_dir, dataset_dir):
    manifest = run_train(pipeline_for(tiny_model_dir, method="qlora", device="cuda", max_steps=6, merge=True),
                         tmp_path / "run", dataset_dir)
    out = tmp_path / "run" / "train"
    result = json.loads((out / "train_result.json").read_text())
    assert result["method"] == "qlora" and (out / "adapter" / "adapter_model.safetensors").is_file()
    assert (out / "model" / "config.json").is_file()  # merged into the fp32 base
    assert manifest.stats["val_loss"] < manifest.stats["base_val_loss"]


SHAPE = {"hidden": 512, "intermediate": 1536, "layers": 8, "heads": 8, "kv_heads": 4, "vocab": 32000}


@pytest.mark.parametrize("setting", [
    {"name": "gpu lora bf16, rows 2048", "shape": SHAPE, "method": "lora", "row": 2048},
    {"name": "gpu full bf16, 2 rows of 1024", "shape": SHAPE, "method": "full", "row": 1024, "batch": 2},
    {"name": "gpu lora bf16, rows 2048, checkpointing", "shape": SHAPE, "method": "lora", "row": 2048,
     "checkpointing": True},
], ids=lambda s: s["name"])
def test_planner_within_15_percent_of_max_memory_allocated(tmp_path, setting):
    bench = load_bench("memory_planner")
    row = bench.probe({**setting, "device": "cuda", "precision": "bf16"}, tmp_path, steps=3)
    print(json.dumps(row))
    assert row["measured"]["training"] > 50 * 2 ** 20
    assert abs(row["error"]) <= 0.15, (row["estimate"], row["measured"])
