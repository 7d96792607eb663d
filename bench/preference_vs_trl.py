#!/usr/bin/env python3
"""DPO throughput: webtune's preference loop vs TRL's DPOTrainer, on the same model, pairs and settings.

Both train a LoRA adapter (r 16, alpha 32, every linear projection, no dropout) with DPO
(beta 0.1, sigmoid loss), AdamW at the same learning rate and cosine schedule, ``--batch`` pairs
per optimizer step, ``--steps`` steps, fp32, in this process, on the same pairs in the same order
of files. Variants, run one after another and repeated ``--repeats`` times (interleaved, so a
busy machine slows each alike):

* (a) webtune: `webtune.train.preference.PreferenceTrainer` (chosen and rejected answers of a
  micro-batch packed padding-free into rows, logits only where an answer token is predicted,
  reference log-probabilities computed once before the first step);
* (b) TRL's DPOTrainer as configured by default (padded batches; the reference forward with the
  adapter disabled at every step);
* (c) TRL with ``precompute_ref_log_probs=True`` (the reference once, before training, like webtune).

Printed per variant: pairs/s and answer tokens/s over the timed steps (the first ``--warmup``
are not timed), the whole ``train()`` wall time (reference pass included, model loading not),
and each ratio to webtune.

    .venv/bin/python bench/preference_vs_trl.py                       # SmolLM2 if prepared, demo pairs
    .venv/bin/python bench/preference_vs_trl.py --model tiny --steps 6 --json out.json

Data: ``--data FILE`` (PreferenceExample JSONL: the dataset stage's preference_train.jsonl),
else pairs made from the office-products demo snapshot (chosen: a product's own description;
rejected: the description of the product after it, a plausible but wrong answer).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from train_throughput import DEMO_SNAPSHOT, demo_messages_from_snapshot, resolve_model_arg  # noqa: E402

console = Console(stderr=True)
LR = 5e-5


def demo_pairs(n: int) -> list[dict[str, Any]]:
    """Preference records from the demo snapshot (chosen: own description; rejected: the next one's)."""
    if not DEMO_SNAPSHOT.is_file():  # not in git: regenerated (deterministic, standard library only)
        import subprocess

        subprocess.run([sys.executable, str(DEMO_SNAPSHOT.parents[1] / "generate_snapshot.py")], check=True)
    # The clean stage's view, roughly: no HTML, no over-long or stub descriptions.
    conversations = [m for m in demo_messages_from_snapshot(DEMO_SNAPSHOT)
                     if "<" not in m[-1]["content"] and 12 <= len(m[-1]["content"].split()) <= 120]
    out = []
    for i, messages in enumerate(conversations[:n]):
        wrong = conversations[(i + 1) % len(conversations)][-1]["content"]
        out.append({"prompt": messages[:-1], "chosen": messages[-1]["content"], "rejected": wrong,
                    "meta": {}})
    return out


def load_pairs(data: str | None, n: int) -> tuple[list[dict[str, Any]], str]:
    if data:
        rows = [json.loads(line) for line in Path(data).read_text(encoding="utf-8").splitlines() if line.strip()]
        return [r for r in rows if r.get("chosen") is not None and r.get("rejected") is not None][:n], data
    return demo_pairs(n), f"{DEMO_SNAPSHOT} (own vs next product's description)"


class StepClock:
    """Wall time of each optimizer step."""

    def __init__(self) -> None:
        self.steps: list[float] = []
        self._start = 0.0

    def begin(self) -> None:
        self._start = time.perf_counter()

    def end(self) -> None:
        self.steps.append(time.perf_counter() - self._start)


def run_webtune(model_dir: Path, pairs: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    """(a): webtune's loop through a TrainJob, as the train stage runs it."""
    from webtune.models import load_tokenizer
    from webtune.train.backends.local_config import LocalTrainConfig
    from webtune.train.loop import TrainJob
    from webtune.train.run import run_training
    from webtune.train.preference import PreferenceTrainer
    from webtune.train.preference_data import save_preference, tokenize_preference_split

    work = Path(tempfile.mkdtemp(prefix="bench-pref-"))
    tokenizer = load_tokenizer(model_dir)
    (work / "pairs.jsonl").write_text("".join(json.dumps(p) + "\n" for p in pairs), encoding="utf-8")
    split = tokenize_preference_split(work / "pairs.jsonl", tokenizer, args.max_len, "dpo")
    save_preference(work / "data.json", "dpo", split.items, [], tokenizer.pad_token_id)
    config = LocalTrainConfig(
        device="cpu", precision=args.precision, learning_rate=LR, max_seq_len=args.max_len, eval_steps=0,
        save_steps=10_000, log_steps=1, lora={"r": 16, "alpha": 32, "dropout": 0.0}, supervised=False,
        preference={"method": "dpo", "beta": 0.1, "batch_size": args.batch, "max_steps": args.steps,
                    "epochs": 1000}).preference_phase()
    job = TrainJob(config=config.model_dump(mode="json"), base_model=str(model_dir),
                   base_model_path=str(model_dir), data_path=str(work / "data.json"),
                   output_dir=str(work / "out"), work_dir=str(work / "work"), seed=0,
                   resume=False, objective="dpo")
    (work / "work").mkdir()
    clock = StepClock()
    original = PreferenceTrainer._train_step

    def timed_step(self: Any, step: int) -> Any:
        clock.begin()
        try:
            return original(self, step)
        finally:
            clock.end()

    PreferenceTrainer._train_step = timed_step  # type: ignore[method-assign]
    try:
        start = time.perf_counter()
        run_training(job, console=Console(stderr=True, quiet=True))
        total = time.perf_counter() - start
    finally:
        PreferenceTrainer._train_step = original  # type: ignore[method-assign]
    return {"step_seconds": clock.steps, "wall_seconds": total}


def run_trl(model_dir: Path, pairs: list[dict[str, Any]], args: argparse.Namespace,
            precompute: bool) -> dict[str, Any]:
    """(b)/(c): TRL's DPOTrainer on the same pairs and settings."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, TrainerCallback
    from trl import DPOConfig, DPOTrainer

    from webtune.models import load_tokenizer
    from webtune.train.modeling import default_target_modules

    tokenizer = load_tokenizer(model_dir)
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32, attn_implementation="sdpa")
    rows = [{"prompt": p["prompt"], "chosen": [{"role": "assistant", "content": p["chosen"]}],
             "rejected": [{"role": "assistant", "content": p["rejected"]}]} for p in pairs]
    clock = StepClock()

    class Timer(TrainerCallback):
        def on_step_begin(self, *a: Any, **k: Any) -> None:
            clock.begin()

        def on_step_end(self, *a: Any, **k: Any) -> None:
            clock.end()

    out = tempfile.mkdtemp(prefix="bench-trl-")
    config = DPOConfig(output_dir=out, per_device_train_batch_size=args.batch, gradient_accumulation_steps=1,
                       learning_rate=LR, lr_scheduler_type="cosine", max_steps=args.steps,
                       warmup_steps=math.ceil(0.1 * args.steps),  # webtune: ceil(warmup_ratio × steps)
                       beta=0.1, max_length=args.max_len, logging_steps=1, save_strategy="no", report_to=[],
                       use_cpu=True, bf16=args.precision == "bf16", seed=0, dataloader_num_workers=0,
                       precompute_ref_log_probs=precompute, disable_tqdm=True)
    peft_config = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, bias="none", task_type="CAUSAL_LM",
                             target_modules=default_target_modules(model.config.model_type))
    trainer = DPOTrainer(model=model, args=config, train_dataset=Dataset.from_list(rows),
                         processing_class=tokenizer, peft_config=peft_config, callbacks=[Timer()])
    start = time.perf_counter()
    trainer.train()
    total = time.perf_counter() - start
    return {"step_seconds": clock.steps, "wall_seconds": total}


def summarize(runs: list[dict[str, Any]], pairs: list[dict[str, Any]], tokens_per_pair: float,
              args: argparse.Namespace) -> dict[str, Any]:
    """Pairs/s over the timed steps (median over repeats of each run's figure), pairs/s of the
    median timed step (robust to other jobs stealing the CPU for a step), and wall time."""
    per_run = []
    for r in runs:
        timed = r["step_seconds"][args.warmup:]
        per_run.append(args.batch * len(timed) / sum(timed) if timed else 0.0)
    pairs_per_s = statistics.median(per_run)
    steps = [s for r in runs for s in r["step_seconds"][args.warmup:]]
    median_step = args.batch / statistics.median(steps) if steps else 0.0
    return {"pairs_per_s": pairs_per_s, "tokens_per_s": pairs_per_s * tokens_per_pair,
            "median_step_pairs_per_s": median_step,
            "wall_seconds": statistics.median(r["wall_seconds"] for r in runs),
            "runs": runs, "pairs_per_s_each": per_run}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="catalog name, model dir, or 'tiny'")
    parser.add_argument("--data", default=None, help="PreferenceExample JSONL (default: demo pairs)")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batch", type=int, default=4, help="pairs per optimizer step")
    parser.add_argument("--warmup", type=int, default=1, help="untimed first steps")
    parser.add_argument("--max-len", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                        help="both sides: webtune's train.precision and TRL's bf16 autocast")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--skip-precompute", action="store_true", help="leave out (c)")
    parser.add_argument("--only", default=None, help="comma-separated variants to run, in this order "
                        "(webtune, trl, trl_precompute)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    import torch

    from webtune.models import load_tokenizer
    from webtune.train.preference_data import tokenize_preference_split

    if args.threads:
        torch.set_num_threads(args.threads)
    model_dir, label = resolve_model_arg(args.model)
    pairs, source = load_pairs(args.data, args.steps * args.batch)
    tokenizer = load_tokenizer(model_dir)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "p.jsonl").write_text("".join(json.dumps(p) + "\n" for p in pairs), encoding="utf-8")
        split = tokenize_preference_split(Path(tmp) / "p.jsonl", tokenizer, args.max_len, "dpo")
    tokens_per_pair = split.tokens / max(len(split.items), 1)
    console.print(f"model {label} · data {source} · {len(pairs)} pairs, {tokens_per_pair:.0f} tokens per "
                  f"pair (prompt twice + both answers) · {args.steps} steps × {args.batch} pairs · "
                  f"{torch.get_num_threads()} threads")
    variants = {"webtune": lambda: run_webtune(model_dir, pairs, args),
                "trl": lambda: run_trl(model_dir, pairs, args, precompute=False)}
    if not args.skip_precompute:
        variants["trl_precompute"] = lambda: run_trl(model_dir, pairs, args, precompute=True)
    if args.only:
        variants = {name: variants[name] for name in args.only.split(",")}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
    for repeat in range(args.repeats):
        for name, fn in variants.items():
            console.print(f"repeat {repeat + 1}/{args.repeats}: {name} …")
            runs[name].append(fn())
            console.print(f"  steps: {', '.join(f'{s:.2f}s' for s in runs[name][-1]['step_seconds'])}")
    results = {name: summarize(r, pairs, tokens_per_pair, args) for name, r in runs.items()}
    base = results.get("webtune") or next(iter(results.values()))
    table = Table(title=f"DPO throughput · LoRA on {label} · {args.steps} steps × {args.batch} pairs")
    for col in ("variant", "pairs/s", "tokens/s", "webtune ÷ this", "median-step pairs/s",
                "webtune ÷ this (median)", "train() wall s"):
        table.add_column(col, justify="left" if col == "variant" else "right")
    labels = {"webtune": "(a) webtune (packed, reference once)", "trl": "(b) TRL DPOTrainer (default)",
              "trl_precompute": "(c) TRL, precompute_ref_log_probs"}
    for name, r in results.items():
        table.add_row(labels[name], f"{r['pairs_per_s']:.2f}", f"{r['tokens_per_s']:,.0f}",
                      f"{base['pairs_per_s'] / r['pairs_per_s']:.2f}x" if r["pairs_per_s"] else "—",
                      f"{r['median_step_pairs_per_s']:.2f}",
                      f"{base['median_step_pairs_per_s'] / r['median_step_pairs_per_s']:.2f}x"
                      if r["median_step_pairs_per_s"] else "—",
                      f"{r['wall_seconds']:.1f}")
    Console().print(table)
    if args.json:
        machine = {"platform": platform.platform(), "cpus": os.cpu_count(), "threads": torch.get_num_threads(),
                   "torch": torch.__version__}
        args.json.write_text(json.dumps({"model": label, "data": source, "pairs": len(pairs),
                                         "tokens_per_pair": tokens_per_pair, "machine": machine,
                                         "args": {k: str(v) for k, v in vars(args).items()},
                                         "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
