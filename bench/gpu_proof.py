"""The GPU proof: everything webtune claims about training on a CUDA GPU, run in one go.

Run by bench/gpu_proof.sh on a machine with an NVIDIA GPU and a CUDA build of torch (nothing is
downloaded: the packaged SmolLM2 must be prepared for the demo part, and bitsandbytes /
flash-attn are used when installed). Parts, each timed and recorded even when another fails:

1. ``gpu_tests``: the test suite's ``gpu``-marked tests (bf16 training, full fine-tuning, QLoRA
   with bitsandbytes, the memory planner against ``torch.cuda.max_memory_allocated``).
2. ``demo``: the demo pipeline (examples/office-products) with training on the GPU in bf16.
3. ``llama_1b``: a random-initialised Llama-shaped model of about 1.1B parameters (TinyLlama's
   shape), full fine-tuning in bf16 on padding-free packed rows (FlashAttention varlen when
   flash-attn is installed, else SDPA on the packed positions): tokens/s, MFU, peak memory
   and the memory planner's estimate of it.
4. ``trl``: bench/train_vs_trl.py on the GPU, when that script is there.

Everything lands in one JSON (printed, and written to ``--json``, default bench/gpu_proof.json,
and to $OUT/gpu_proof.json when $OUT is set). Without a CUDA GPU it says so and exits 0, so
`make bench` can run it anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

# TinyLlama-1.1B's shape.
LLAMA_1B = {"hidden": 2048, "intermediate": 5632, "layers": 22, "heads": 32, "kv_heads": 4, "vocab": 32000}
# Dense bf16 peak FLOP/s by device name (NVIDIA data sheets); PEAK_TFLOPS overrides.
PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10G": 125.0, "L4": 121.0,
               "RTX 4090": 165.0, "A6000": 155.0}


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
            "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def _run(cmd: list[str], timeout: float, cwd: Path = ROOT) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout)
        return {"rc": proc.returncode, "seconds": round(time.perf_counter() - start, 1),
                "tail": (proc.stdout + proc.stderr)[-3000:]}
    except subprocess.TimeoutExpired:
        return {"rc": "timeout", "seconds": timeout}


def gpu_tests(timeout: float) -> dict[str, Any]:
    """The gpu-marked tests; the summary line says how many passed, failed and were skipped."""
    out = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "gpu", "-rs", "-s",
                "tests"], timeout)
    out["summary"] = next((line for line in reversed(out.get("tail", "").splitlines())
                           if " passed" in line or " failed" in line or " skipped" in line), None)
    out["planner_rows"] = [json.loads(line) for line in out.get("tail", "").splitlines()
                           if line.startswith('{"name": "gpu')]
    return out


def demo(timeout: float) -> dict[str, Any]:
    """The office-products demo with train.device cuda and bf16, in a run directory of its own."""
    import yaml

    from webtune.models.home import is_prepared, models_dir

    if not is_prepared(models_dir() / "smollm2-135m-instruct"):
        prepared = _run([sys.executable, "-m", "webtune.cli.main", "models", "prepare", "smollm2-135m-instruct"],
                        timeout / 3)
        if prepared["rc"] != 0:
            return {"skipped": "smollm2-135m-instruct cannot be prepared here", **prepared}
    example = ROOT / "examples" / "office-products"
    if not (example / "data" / "snapshot.json").exists():
        _run([sys.executable, str(example / "generate_snapshot.py")], 120)
    config = yaml.safe_load((example / "pipeline.yaml").read_text())
    config.setdefault("train", {}).update({"device": "cuda", "precision": "bf16"})
    run_dir = Path(tempfile.mkdtemp(prefix="gpu-demo-"))
    config["run_dir"] = str(run_dir)
    pipeline = example / ".gpu-proof-pipeline.yaml"  # beside the original: relative paths hold
    pipeline.write_text(yaml.safe_dump(config))
    try:
        out = _run([sys.executable, "-m", "webtune.cli.main", "run", str(pipeline)], timeout)
    finally:
        pipeline.unlink(missing_ok=True)
    manifest = run_dir / "train" / "manifest.json"
    if manifest.exists():
        stats = json.loads(manifest.read_text()).get("stats", {})
        out["train"] = {k: stats.get(k) for k in ("device", "mixed_precision", "attention", "tokens_per_second",
                                                  "train_loss", "val_loss", "base_val_loss", "steps",
                                                  "train_seconds")}
    report = run_dir / "evaluate" / "report.json"
    if report.exists():
        out["evaluate"] = json.loads(report.read_text()).get("metrics")
    return out


def llama_1b(steps: int, row: int, batch: int, shape_of: dict[str, int] = LLAMA_1B,
             device: str = "cuda") -> dict[str, Any]:
    """Full fine-tuning of a random 1.1B Llama in bf16 on packed rows: speed, MFU, memory."""
    import torch

    from webtune.train import loop, memory

    sys.path.insert(0, str(ROOT / "bench"))
    import memory_planner

    times: list[float] = []
    step = loop.Trainer._train_step

    def timed(self: Any, n: int) -> Any:
        torch.cuda.synchronize()
        start = time.perf_counter()
        out = step(self, n)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
        return out

    setting = {"name": "llama-1.1b full bf16", "shape": shape_of, "method": "full", "row": row, "batch": batch,
               "device": device, "precision": "bf16"}
    loop.Trainer._train_step = timed
    try:
        with tempfile.TemporaryDirectory() as tmp:
            row_out = memory_planner.probe(setting, Path(tmp), steps=steps)
    finally:
        loop.Trainer._train_step = step
    from transformers.utils import is_flash_attn_2_available

    tokens_per_step = row * batch  # the probe's rows are full: two examples of row/2 tokens each
    measured = times[2:] or times  # the first steps warm up kernels and the allocator
    tokens_per_s = tokens_per_step * len(measured) / sum(measured)
    shape = memory.ModelShape(model_type="llama", vocab=shape_of["vocab"], hidden=shape_of["hidden"],
                              intermediate=shape_of["intermediate"], layers=shape_of["layers"],
                              heads=shape_of["heads"], kv_heads=shape_of["kv_heads"],
                              head_dim=shape_of["hidden"] // shape_of["heads"], tied=True)
    # 6 FLOPs per parameter and token, plus causal attention within each example of row/2 tokens.
    flops_per_token = 6 * shape.parameters() + 6 * shape.layers * shape.q_dim * (row // 2)
    name = torch.cuda.get_device_name(0)
    peak = float(os.environ.get("PEAK_TFLOPS") or next((v for k, v in PEAK_TFLOPS.items() if k in name), 0))
    return {"device": name, "parameters": shape.parameters(), "row": row, "batch": batch, "steps": steps,
            "attention": "flash_attention_2 (varlen)" if is_flash_attn_2_available() else "sdpa",
            "step_seconds": [round(t, 3) for t in times], "tokens_per_s": round(tokens_per_s),
            "mfu": round(flops_per_token * tokens_per_s / (peak * 1e12), 4) if peak else None,
            "peak_tflops_assumed": peak or None,
            "peak_memory_gib": round((row_out["measured"]["peak"]) / 2 ** 30, 2),
            "planner_estimate_gib": round(row_out["estimate"]["peak"] / 2 ** 30, 2),
            "planner_error": round(row_out["error"], 4)}


def trl(timeout: float) -> dict[str, Any]:
    """bench/train_vs_trl.py on this machine (it picks the GPU when it sees one)."""
    script = ROOT / "bench" / "train_vs_trl.py"
    if not script.exists():
        return {"skipped": "bench/train_vs_trl.py is not in this checkout"}
    return _run([sys.executable, str(script)], timeout)


def _part(results: dict[str, Any], name: str, fn: Callable[[], dict[str, Any]]) -> None:
    start = time.perf_counter()
    try:
        results[name] = fn()
    except Exception as exc:  # one failed part must not lose the others' figures
        results[name] = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-2000:]}
    results[name]["wall_seconds"] = round(time.perf_counter() - start, 1)
    print(f"[gpu_proof] {name}: done in {results[name]['wall_seconds']} s", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "gpu_proof.json")
    parser.add_argument("--parts", default="gpu_tests,llama_1b,demo,trl",
                        help="comma-separated parts to run, in this order")
    parser.add_argument("--steps", type=int, default=8, help="optimizer steps of the 1B model")
    parser.add_argument("--row", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=4)
    args = parser.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("gpu_proof: torch is not installed; nothing to prove here")
        return 0
    if not torch.cuda.is_available():
        print("gpu_proof: torch sees no CUDA GPU; nothing to prove here (run bench/gpu_proof.sh on a GPU machine)")
        return 0
    results: dict[str, Any] = {"torch": torch.__version__, "cuda": torch.version.cuda,
                               "device": torch.cuda.get_device_name(0)}
    parts = {"gpu_tests": lambda: gpu_tests(300), "llama_1b": lambda: llama_1b(args.steps, args.row, args.batch),
             "demo": lambda: demo(300), "trl": lambda: trl(240)}
    for name in args.parts.split(","):
        _part(results, name, parts[name])
        text = json.dumps(results, indent=1)
        args.json.write_text(text)  # after each part: a later timeout keeps what was measured
        if os.environ.get("OUT"):
            (Path(os.environ["OUT"]) / "gpu_proof.json").write_text(text)
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
