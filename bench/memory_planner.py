"""The memory planner's estimate next to the peak memory training really took, on CPU.

Each setting trains a few optimizer steps of webtune's own trainer (`webtune.train.loop`, the
code `webtune train` runs) on a random-weight Llama-shaped model in a fresh subprocess, which
measures, from /proc/self/status (Linux):

* **weights**: resident memory after loading the model minus before it;
* **training**: the peak resident memory over the training steps (the high-water mark is reset
  with /proc/self/clear_refs just before the first step) minus the resident memory then. It
  holds what the planner calls optimizer, gradients, activations and logits.

On a GPU (a setting with ``"device": "cuda"``, as bench/gpu_proof.py and the GPU tests use)
the same is read from torch.cuda's ``memory_allocated`` / ``max_memory_allocated``.

Freed memory is handed back to the system (``malloc_trim``) before each baseline, so a baseline
is what is alive, and every page of the loaded shared libraries is mapped (`map_libraries`), so
that code pages touched for the first time during a step, whose number depends on the page
cache rather than on the run, do not count as training memory. The planner's ``peak`` is
compared with weights + training; ``error`` is (estimate - measured) / measured.

The last row, SmolLM2-135M as packaged (LoRA, rows of 1024), runs when that model is prepared
under $WEBTUNE_HOME/models, and is skipped with the reason otherwise.

    .venv/bin/python bench/memory_planner.py [--json out.json] [--quick] [--glibc-default]
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

# Shapes of random-weight Llama models: big enough that the measured memory is tens of MB.
SMALL = {"hidden": 256, "intermediate": 768, "layers": 4, "heads": 8, "kv_heads": 4, "vocab": 16384}
DEEP = {"hidden": 192, "intermediate": 512, "layers": 8, "heads": 6, "kv_heads": 2, "vocab": 8192}

SETTINGS: list[dict[str, Any]] = [
    {"name": "lora, rows 512", "shape": SMALL, "method": "lora", "row": 512},
    {"name": "lora, rows 1024", "shape": SMALL, "method": "lora", "row": 1024},
    {"name": "lora, rows 1024, checkpointing", "shape": SMALL, "method": "lora", "row": 1024,
     "checkpointing": True},
    {"name": "full, rows 512", "shape": SMALL, "method": "full", "row": 512},
    {"name": "full, rows 1024, checkpointing", "shape": SMALL, "method": "full", "row": 1024,
     "checkpointing": True},
    {"name": "lora, deep, 2 rows of 512", "shape": DEEP, "method": "lora", "row": 512, "batch": 2},
    {"name": "full, deep, padded batch of 2", "shape": DEEP, "method": "full", "row": 512, "batch": 2,
     "packing": False},
    {"name": "lora, bf16, rows 512", "shape": SMALL, "method": "lora", "row": 512, "precision": "bf16"},
    {"name": "lora, bf16, rows 1024, checkpointing", "shape": SMALL, "method": "lora", "row": 1024,
     "checkpointing": True, "precision": "bf16"},
    {"name": "full, bf16, rows 512", "shape": SMALL, "method": "full", "row": 512, "precision": "bf16"},
]
SMOLLM = {"name": "SmolLM2-135M, lora, rows 1024", "model": "smollm2-135m-instruct", "method": "lora",
          "row": 1024}


# ---------------------------------------------------------------------- in the subprocess


def _status(key: str) -> int:
    """A /proc/self/status figure in bytes (VmRSS, VmHWM)."""
    text = Path("/proc/self/status").read_text()
    return int(re.search(rf"{key}:\s+(\d+) kB", text).group(1)) * 1024


MADV_POPULATE_READ = 22  # Linux 5.14+: map every page of a range that is in the page cache
_SHARED_OBJECT = re.compile(r"\.so(\.[\w.]*)?$")


def library_mappings() -> list[tuple[int, int, str]]:
    """(start, length, path) of this process's readable mappings of shared libraries."""
    out = []
    for line in Path("/proc/self/maps").read_text().splitlines():
        fields = line.split(None, 5)
        if len(fields) == 6 and fields[1].startswith("r") and _SHARED_OBJECT.search(fields[5].strip()):
            start, end = (int(x, 16) for x in fields[0].split("-"))
            out.append((start, end - start, fields[5].strip()))
    return out


def map_libraries() -> bool:
    """Make every page of the loaded shared libraries resident; False where Linux cannot.

    A library's code and data pages count in the resident size once touched, and how many one
    touch maps depends on the page cache, not on the program: the kernel maps the whole cached
    folio around the faulting address, and a file pip has just written sits in large folios (one
    touch of libtorch_cpu.so mapped 702 kB in a fresh install, 156 kB in an older one whose
    cache was rebuilt by readahead). Such pages are clean and shared, reclaimed under pressure
    instead of running the process out of memory, and the planner does not count them; mapping
    all of them before each baseline keeps them out of the deltas.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    ok = True
    for start, length, _ in library_mappings():
        ok = libc.madvise(start, length, MADV_POPULATE_READ) == 0 and ok
    return ok


def _settle() -> int:
    """Collect garbage, give freed heap pages back to the system, map the libraries' pages
    (`map_libraries`); return the resident bytes."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass
    map_libraries()
    return _status("VmRSS")


def _reset_peak() -> None:
    """Reset the high-water mark to the current resident size (Linux 4.0+)."""
    Path("/proc/self/clear_refs").write_text("5")


class CpuMeter:
    """Resident memory of this process (/proc/self/status), freed heap handed back first."""

    def now(self) -> int:
        return _settle()

    def restart_peak(self) -> int:
        now = _settle()
        _reset_peak()
        return now

    def peak(self) -> int:
        return _status("VmHWM")


class CudaMeter:
    """Bytes of tensors on the GPU (torch.cuda's allocator statistics)."""

    def now(self) -> int:
        import torch

        torch.cuda.synchronize()
        return torch.cuda.memory_allocated()

    def restart_peak(self) -> int:
        import torch

        now = self.now()
        torch.cuda.reset_peak_memory_stats()
        return now

    def peak(self) -> int:
        import torch

        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated()


def build_model(out: Path, shape: dict[str, int]) -> Path:
    """A random-weight Llama of ``shape`` with the tiny test tokenizer, saved to ``out``."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from webtune.models.tiny import build_tokenizer

    tokenizer = build_tokenizer()
    config = LlamaConfig(vocab_size=shape["vocab"], hidden_size=shape["hidden"],
                         intermediate_size=shape["intermediate"], num_hidden_layers=shape["layers"],
                         num_attention_heads=shape["heads"], num_key_value_heads=shape["kv_heads"],
                         max_position_embeddings=4096, tie_word_embeddings=True,
                         pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def write_data(path: Path, setting: dict[str, Any], vocab: int, steps: int) -> None:
    """Examples of half a row each (two fill a packed row), labelled on their second half."""
    import random

    from webtune.train.data import save_tokenized
    from webtune.train.packing import Encoded

    rng = random.Random(0)
    half = setting["row"] // 2
    per_step = setting.get("batch", 1) * (2 if setting.get("packing", True) else 1)

    def example(length: int) -> Encoded:
        ids = [rng.randrange(3, min(vocab, 700)) for _ in range(length)]
        return Encoded(ids, [-100] * (length // 2) + ids[length // 2:])

    length = half if setting.get("packing", True) else setting["row"]
    train = [example(length) for _ in range(steps * per_step)]
    save_tokenized(path, train, [example(64), example(64)], pad_id=2)


def probe(setting: dict[str, Any], work: Path, steps: int = 3, first: bool = True) -> dict[str, Any]:
    """Train ``setting`` for ``steps`` steps in this process and measure it (see the docstring).

    ``first``: the first training of the process, which pays the planner's ``RUNTIME_BYTES``
    (kernel buffers, thread pools, tokenizer); later ones in the same process do not.
    """
    import torch

    from webtune.train import loop, memory, modeling

    if setting.get("device", "cpu") == "cpu":
        torch.set_num_threads(1)
    # Libraries the trainer imports on the way, imported first so that their code is not
    # counted as training memory.
    import accelerate  # noqa: F401
    import peft  # noqa: F401
    import torch.utils.tensorboard  # noqa: F401
    from transformers.models.llama import modeling_llama  # noqa: F401

    for sub in ("work", "out"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    if "model" in setting:
        from webtune.models import resolve_model

        model_dir = resolve_model(setting["model"], auto_prepare=False)
    else:
        model_dir = build_model(work / "model", setting["shape"])
    shape = memory.ModelShape.from_dir(model_dir)
    write_data(work / "data.json", setting, shape.vocab, steps)
    record: dict[str, Any] = {"name": setting["name"]}
    load, step, plan_memory = modeling.load_for_training, loop.Trainer._train_step, loop.Trainer._plan_memory

    device = setting.get("device", "cpu")
    meter = CudaMeter() if device == "cuda" else CpuMeter()

    def measured_load(*args: Any, **kwargs: Any) -> Any:
        record["rss_before_load"] = meter.now()
        return load(*args, **kwargs)

    def measured_step(self: Any, n: int) -> Any:
        if "rss_start" not in record:
            record["rss_start"] = meter.restart_peak()
        out = step(self, n)
        record["hwm"] = max(record.get("hwm", 0), meter.peak())
        return out

    def kept_plan(self: Any) -> Any:
        record["plan"] = plan_memory(self)
        return record["plan"]

    config = {"method": setting["method"], "max_seq_len": setting["row"], "pack_length": setting["row"],
              "batch_size": setting.get("batch", 1), "packing": setting.get("packing", True),
              "gradient_checkpointing": setting.get("checkpointing", False),
              "precision": setting.get("precision", "fp32"), "device": device, "max_steps": steps, "epochs": 1, "eval_steps": 0, "save_steps": 1000,
              "learning_rate": 1e-4, "lora": {"r": 16, "alpha": 32, "dropout": 0.0}}
    job = loop.TrainJob(config=config, base_model="probe", base_model_path=str(model_dir),
                        data_path=str(work / "data.json"), output_dir=str(work / "out"),
                        work_dir=str(work / "work"), seed=0, memory_check="warn")
    modeling.load_for_training, loop.Trainer._train_step = measured_load, measured_step
    loop.Trainer._plan_memory = kept_plan
    try:
        from rich.console import Console

        from webtune.train.run import run_training

        run_training(job, console=Console(file=open(os.devnull, "w")))
    finally:
        modeling.load_for_training, loop.Trainer._train_step = load, step
        loop.Trainer._plan_memory = plan_memory
    plan = record.pop("plan")
    # Weights and what setting up and the first evaluation left: safetensors weights are
    # mapped from the file and become resident as they are first read.
    weights = record["rss_start"] - record["rss_before_load"]
    training = record["hwm"] - record["rss_start"]
    estimate_training = plan.total - plan.weights - plan.runtime
    peak = plan.total - (0 if first else plan.runtime)
    return {"name": setting["name"], "parameters": plan.parameters, "trainable": plan.trainable,
            "tokens": plan.setup.tokens, "logit_positions": plan.setup.logit_positions,
            "estimate": {"runtime": plan.runtime, "weights": plan.weights, "optimizer": plan.optimizer, "gradients": plan.gradients,
                         "activations": plan.activations, "logits": plan.logits, "peak": plan.total},
            "measured": {"weights": weights, "training": training, "peak": weights + training},
            "first_in_process": first,
            "libraries_mapped": device != "cpu" or map_libraries(),
            "error": (peak - weights - training) / (weights + training),
            "training_error": (estimate_training - training) / training}


def _probe_main(settings: list[dict[str, Any]], steps: int) -> None:
    """Run settings one after the other in this process; print one JSON line each."""
    with tempfile.TemporaryDirectory() as tmp:
        for i, setting in enumerate(settings):
            print(json.dumps(probe(setting, Path(tmp) / str(i), steps, first=i == 0)), flush=True)


# ---------------------------------------------------------------------- the parent


def measure(settings: list[dict[str, Any]], live: bool = True, steps: int = 3,
            timeout: float = 900) -> list[dict[str, Any]]:
    """Measure ``settings`` in one fresh Python process (settings run one after another).

    ``live``: glibc hands every block over 128 KiB straight back to the system when freed
    (``MALLOC_MMAP_THRESHOLD_``), so the resident size follows the live tensors, which is what
    the planner estimates. Otherwise glibc's default, whose heap keeps freed blocks of up to
    32 MiB resident for reuse: the resident peak also holds what its heap keeps.
    """
    allocator = {"MALLOC_MMAP_THRESHOLD_": "131072"} if live else {}
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}, **allocator, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT),
                                                       os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    result = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--probe", json.dumps(settings),
                             "--steps", str(steps)],
                            capture_output=True, text=True, timeout=timeout, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"probe failed:\n{result.stderr[-4000:]}")
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def smollm_available() -> str | None:
    """Why the SmolLM2 row cannot run (None when it can)."""
    from webtune.models.home import is_prepared, models_dir

    if not is_prepared(models_dir() / SMOLLM["model"]):
        return f"{SMOLLM['model']} is not prepared under {models_dir()} (run `webtune models prepare`)"
    return None


def _mb(n: float) -> str:
    return f"{n / 2 ** 20:8.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--probe", help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=3, help="optimizer steps per setting")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--quick", action="store_true", help="only the first two settings")
    parser.add_argument("--glibc-default", action="store_true",
                        help="measure with glibc's default heap (its retention included) instead of "
                        "returning freed blocks at once")
    args = parser.parse_args(argv)
    if args.probe:
        _probe_main(json.loads(args.probe), args.steps)
        return 0
    if not Path("/proc/self/clear_refs").exists():
        print("memory_planner: needs Linux's /proc/self/clear_refs to measure peaks; skipped")
        return 0
    settings = SETTINGS[:2] if args.quick else SETTINGS
    live = not args.glibc_default
    rows = [row for setting in settings for row in measure([setting], live=live)]
    reason = smollm_available()
    if reason is None and not args.quick:
        rows += measure([SMOLLM], live=live)
    print(f"{'setting':34} {'params':>10} {'tokens':>6} | {'estimate MiB':>12} {'measured MiB':>12} "
          f"{'error':>7} | {'train est':>9} {'train meas':>10} {'error':>7}")
    for row in rows:
        est, got = row["estimate"], row["measured"]
        print(f"{row['name']:34} {row['parameters']:>10,} {row['tokens']:>6} | {_mb(est['peak']):>12} "
              f"{_mb(got['peak']):>12} {row['error']:>+7.1%} | {_mb(est['peak'] - est['weights'] - est['runtime']):>9} "
              f"{_mb(got['training']):>10} {row['training_error']:>+7.1%}")
    if reason is not None:
        print(f"skipped {SMOLLM['name']}: {reason}")
    worst = max(abs(row["error"]) for row in rows)
    print(f"largest error of the peak: {worst:.1%} (target 15%)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    if not live:
        print("(glibc's default heap: the resident peak includes the freed blocks it keeps; the planner "
              "estimates live tensors and shows the CPU bound separately)")
        return 0
    return 0 if worst <= 0.15 else 1


if __name__ == "__main__":
    sys.exit(main())
