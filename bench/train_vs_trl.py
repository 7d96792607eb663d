#!/usr/bin/env python3
"""Training speed, head to head: webtune's trainer vs TRL's SFTTrainer, same everything, one run.

Both sides train the same model (SmolLM2-135M-Instruct when prepared, else the tiny random
model) on the same tokenized examples (the demo's, through bench/train_throughput.py's loader and
webtune's chat encoding: the same token ids and the same assistant-only labels on both sides),
with the same LoRA (r 16, alpha 32, all seven projections, no dropout), rows of ``--rows`` tokens
filled by best-fit-decreasing packing, padding-free, one row per optimizer step, one pass over
the examples (so both train on every token once), the same learning rate (constant), AdamW, grad
clipping at 1.0, one thread each. Sides:

* ``webtune``: `webtune.train.loop.Trainer`, the local trainer itself, at ``--precision``
  (``auto``: bf16 on a CPU with AVX512-BF16 or AMX, where bf16 products run several times
  faster than fp32 ones, else fp32).
* ``trl-best``: `trl.SFTTrainer` with ``packing=True, packing_strategy="bfd", padding_free=True,
  completion_only_loss=True``, the same precision as webtune (``bf16=True``: autocast) and no
  gradient checkpointing: its fastest setting.
* ``trl-defaults``: the same, at SFTConfig's defaults for the rest (bf16 autocast and gradient
  checkpointing on, even on CPU).

TRL gets the tokenized examples as ``input_ids`` + ``completion_mask`` and packs them itself.
Printed per side: real (non-padding) tokens/s over the timed optimizer steps (the first
``--warmup`` steps are untimed), also per second of the process's CPU time (steadier than wall
time where other jobs share the cores), the tokens trained, and the validation loss after training,
computed by one function (`heldout_loss`) on the same held-out examples for both; then the ratios
webtune / TRL-best and webtune / TRL-defaults.

Interleaved: each side runs in a fresh child process (no side inherits another's allocator or
library state); all load, then they take turns, one optimizer step each, in the given order and
in reverse on every other round (`Baton`), so no two compute at the same time and the load of
other jobs on a shared machine falls on every side alike. ``--in-process`` runs the sides one
after the other in this process instead (the tests use it).

    .venv/bin/python bench/train_vs_trl.py                        # 16 demo examples, rows of 1024
    .venv/bin/python bench/train_vs_trl.py --examples 48 --heldout 16 --repeats 2 --json out.json
    .venv/bin/python bench/train_vs_trl.py --model tiny --sides webtune,trl-best --in-process
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from train_throughput import (DEMO_SNAPSHOT, ROOT, encode_all, generated_messages,  # noqa: E402,F401
                              load_messages, resolve_model_arg)

SIDES = ("webtune", "trl-best", "trl-defaults")
SEVEN = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
LORA = {"r": 16, "alpha": 32, "dropout": 0.0}
console = Console(stderr=True)


# ---------------------------------------------------------------------------- data


def demo_snapshot(tmp: Path) -> Path:
    """The demo's snapshot: the one `make demo` generated, else generated now into ``tmp``
    (the generator is deterministic, so this is the same data)."""
    if DEMO_SNAPSHOT.is_file():
        return DEMO_SNAPSHOT
    out = tmp / "snapshot.json"
    subprocess.run([sys.executable, str(ROOT / "examples" / "office-products" / "generate_snapshot.py"),
                    "--out", str(out)], check=True, stdout=subprocess.DEVNULL)
    return out


def prepare(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """The spec every side trains from: model, tokenized train and held-out examples, settings."""
    from webtune.models import load_tokenizer
    from webtune.train.packing import IGNORE_INDEX, best_fit_decreasing

    model_dir, label = resolve_model_arg(args.model)
    if label.startswith("tiny"):
        console.print("[yellow]note: SmolLM2-135M-Instruct is not prepared (`webtune models prepare "
                      "smollm2-135m-instruct`); using the tiny random model[/yellow]")
    tokenizer = load_tokenizer(model_dir)
    wanted = args.examples + args.heldout
    conversations, source = load_messages(args.data, wanted, snapshot=demo_snapshot(tmp))
    random.Random(args.seed).shuffle(conversations)
    encoded = [e for e in encode_all(tokenizer, conversations, args.rows)
               if any(x != IGNORE_INDEX for x in e.labels[1:])]
    if len(encoded) < wanted:
        raise SystemExit(f"{source}: {len(encoded)} usable examples, {wanted} wanted")
    train, heldout = encoded[:args.examples], encoded[args.examples:wanted]
    rows = best_fit_decreasing([len(e) for e in train], args.rows)
    steps = len(rows) if args.steps is None else min(args.steps, len(rows))
    return {"model_dir": str(model_dir), "model": label, "data": source, "pad_id": tokenizer.pad_token_id,
            "train": [[e.input_ids, e.labels] for e in train],
            "heldout": [[e.input_ids, e.labels] for e in heldout],
            "rows": args.rows, "packed_rows": len(rows), "steps": steps, "learning_rate": args.lr,
            "seed": args.seed, "warmup": args.warmup, "threads": args.threads, "precision": args.precision,
            "trl_bf16_weights": args.trl_bf16_weights}


def _examples(pairs: list[list[list[int]]]) -> list[Any]:
    from webtune.train.packing import Encoded

    return [Encoded(ids, labels) for ids, labels in pairs]


# ---------------------------------------------------------------------------- the shared measures


def heldout_loss(model: Any, examples: list[Any], pad_id: int) -> float:
    """Mean NLL per assistant token of ``examples``, one example at a time, in fp32: the same
    function for every side's trained model."""
    import torch

    from webtune.train.loop import batch_nll
    from webtune.train.packing import collate_packed

    was_training = model.training
    model.float()  # bf16-trained sides too: the same fp32 arithmetic for every side (exact upcast)
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for example in examples:
            nll, n = batch_nll(model, collate_packed([[example]], pad_id), "cpu")
            total, count = total + float(nll), count + n
    model.train(was_training)
    return total / max(count, 1)


def summarize(side: str, steps: list[dict[str, Any]], warmup: int, **extra: Any) -> dict[str, Any]:
    """A side's figures from its per-step records (seconds, real tokens, trained tokens)."""
    timed = steps[warmup:] if len(steps) > warmup else steps
    seconds = sum(s["seconds"] for s in timed)
    cpu_seconds = sum(s["cpu_seconds"] for s in timed)
    tokens = sum(s["tokens"] for s in timed)
    return {"side": side, "steps": len(steps), "timed_steps": len(timed),
            "real_tokens": sum(s["tokens"] for s in steps), "trained_tokens": sum(s["trained"] for s in steps),
            "timed_tokens": tokens, "timed_seconds": seconds, "timed_cpu_seconds": cpu_seconds,
            "tokens_per_s": tokens / seconds if seconds else 0.0,
            "tokens_per_cpu_s": tokens / cpu_seconds if cpu_seconds else 0.0, "per_step": steps, **extra}


class Baton:
    """Turn-taking between the sides' processes, so that only one computes at a time.

    A side says ``ready`` and waits for ``go`` before each optimizer step (and before its
    held-out loss), and says ``done`` after it; the parent hands the turn round, one side after
    the other, a step each. Without a parent (``--in-process``) it does nothing.
    """

    def __init__(self, fd: int | None = None) -> None:
        self.out = os.fdopen(fd, "w", buffering=1) if fd is not None else None

    def wait(self) -> None:
        if self.out is not None:
            self.out.write("ready\n")
            if sys.stdin.readline().strip() != "go":
                raise SystemExit("train_vs_trl: the parent went away")

    def done(self) -> None:
        if self.out is not None:
            self.out.write("done\n")


# ---------------------------------------------------------------------------- the sides


def _reset_accelerate() -> None:
    from webtune.train.loop import _reset_accelerate_state

    _reset_accelerate_state()


def run_webtune(spec: dict[str, Any], tmp: Path, baton: Baton) -> dict[str, Any]:
    """Train with webtune's local trainer; time each optimizer step."""
    from webtune.train.data import save_tokenized
    from webtune.train.loop import Trainer, TrainJob

    _reset_accelerate()
    work = Path(tempfile.mkdtemp(prefix="webtune-", dir=tmp))
    (work / "work").mkdir()
    save_tokenized(work / "data.json", _examples(spec["train"]), [], spec["pad_id"])
    config = {"method": "lora", "lora": {**LORA, "target_modules": SEVEN}, "max_seq_len": spec["rows"],
              "pack_length": spec["rows"], "learning_rate": spec["learning_rate"],
              "lr_scheduler": "constant", "warmup_ratio": 0.0, "epochs": 1, "max_steps": spec["steps"],
              "eval_steps": 0, "save_steps": 10**9, "device": "cpu", "precision": spec["precision"],
              "batch_size": 1, "gradient_accumulation_steps": 1, "max_grad_norm": 1.0, "weight_decay": 0.0}
    job = TrainJob(config=config, base_model=spec["model"], base_model_path=spec["model_dir"],
                   data_path=str(work / "data.json"), output_dir=str(work / "out"),
                   work_dir=str(work / "work"), seed=spec["seed"], resume=False)
    trainer = Trainer(job, console=Console(stderr=True, quiet=True))
    steps: list[dict[str, Any]] = []
    inner = trainer._train_step

    def timed_step(step: int) -> dict[str, float]:
        baton.wait()
        start, cpu = time.perf_counter(), time.process_time()
        figures = inner(step)
        steps.append({"seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu,
                      "tokens": figures["tokens"],
                      "trained": figures["label_tokens"], "loss": figures["loss"]})
        baton.done()
        return figures

    trainer._train_step = timed_step  # type: ignore[method-assign]
    trainer.run()
    model = trainer.accelerator.unwrap_model(trainer.model)
    baton.wait()
    loss = heldout_loss(model, _examples(spec["heldout"]), spec["pad_id"])
    baton.done()
    _reset_accelerate()
    return summarize("webtune", steps, spec["warmup"], heldout_loss=loss, packed_rows=len(trainer.units),
                     precision=spec["precision"], gradient_checkpointing=False)


def run_trl(spec: dict[str, Any], tmp: Path, defaults: bool, baton: Baton) -> dict[str, Any]:
    """Train with TRL's SFTTrainer (BFD packing, padding-free, completion-only loss); time each step."""
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import TrainerCallback
    from trl import SFTConfig, SFTTrainer

    from webtune.models import load_tokenizer
    from webtune.train.packing import IGNORE_INDEX

    _reset_accelerate()
    train = spec["train"]
    dataset = Dataset.from_dict({"input_ids": [ids for ids, _ in train],
                                 "completion_mask": [[int(x != IGNORE_INDEX) for x in labels]
                                                     for _, labels in train]})
    # trl-best: fp32 like webtune, no gradient checkpointing. trl-defaults: SFTConfig's own.
    speed = {} if defaults else {"bf16": spec["precision"] == "bf16", "activation_checkpointing": False}
    if not defaults and spec["precision"] == "bf16" and spec.get("trl_bf16_weights"):
        speed["model_init_kwargs"] = {"dtype": "bfloat16"}  # the frozen base held in bf16, as webtune's
    config = SFTConfig(
        output_dir=tempfile.mkdtemp(prefix="trl-", dir=tmp), max_length=spec["rows"], packing=True,
        packing_strategy="bfd", padding_free=True, completion_only_loss=True,
        per_device_train_batch_size=1, gradient_accumulation_steps=1, max_steps=spec["steps"],
        learning_rate=spec["learning_rate"], lr_scheduler_type="constant", warmup_steps=0,
        weight_decay=0.0, max_grad_norm=1.0, seed=spec["seed"], save_strategy="no", report_to="none",
        disable_tqdm=True, use_cpu=True, dataloader_num_workers=0, **speed)
    peft_config = LoraConfig(r=LORA["r"], lora_alpha=LORA["alpha"], lora_dropout=LORA["dropout"],
                             target_modules=SEVEN, bias="none", task_type="CAUSAL_LM")
    trainer = SFTTrainer(model=spec["model_dir"], args=config, train_dataset=dataset,
                         processing_class=load_tokenizer(Path(spec["model_dir"])), peft_config=peft_config)
    batches: list[tuple[int, int]] = []
    collate = trainer.data_collator

    def counting_collate(examples: list[dict[str, Any]]) -> dict[str, Any]:
        batch = collate(examples)
        # Padding-free: one row holding the batch's sequences, no padding (pad_to_multiple_of is
        # None on CPU), so every position is a real token.
        batches.append((int(batch["input_ids"].numel()), int((batch["labels"] != IGNORE_INDEX).sum())))
        return batch

    trainer.data_collator = counting_collate

    class StepClock(TrainerCallback):
        """Seconds from each optimizer step's start to its end (the batch is already collated)."""

        def __init__(self) -> None:
            self.seconds: list[tuple[float, float]] = []
            self.start = self.cpu = 0.0

        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            baton.wait()
            self.start, self.cpu = time.perf_counter(), time.process_time()

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.seconds.append((time.perf_counter() - self.start, time.process_time() - self.cpu))
            baton.done()

    clock = StepClock()
    trainer.add_callback(clock)
    packed_rows = len(trainer.train_dataset)
    trainer.train()
    # The dataloader fetches one batch ahead: the batches of the steps are the first ones.
    steps = [{"seconds": wall, "cpu_seconds": cpu, "tokens": real, "trained": trained}
             for (wall, cpu), (real, trained) in zip(clock.seconds, batches)]
    baton.wait()
    loss = heldout_loss(trainer.model, _examples(spec["heldout"]), spec["pad_id"])
    baton.done()
    side = "trl-defaults" if defaults else "trl-best"
    result = summarize(side, steps, spec["warmup"], heldout_loss=loss, packed_rows=packed_rows,
                       precision="bf16 autocast" if config.bf16 else "fp32",
                       gradient_checkpointing=bool(config.gradient_checkpointing))
    _reset_accelerate()
    return result


def run_side(side: str, spec: dict[str, Any], tmp: Path, baton: Baton | None = None) -> dict[str, Any]:
    """Run one side in this process, on ``spec['threads']`` threads, with the load around it."""
    import torch

    torch.set_num_threads(spec["threads"])
    baton = baton or Baton()
    load_before = os.getloadavg()[0]
    if side == "webtune":
        result = run_webtune(spec, tmp, baton)
    elif side in ("trl-best", "trl-defaults"):
        result = run_trl(spec, tmp, side == "trl-defaults", baton)
    else:
        raise ValueError(f"unknown side {side!r}; choose from {', '.join(SIDES)}")
    return {**result, "load_before": load_before, "load_after": os.getloadavg()[0]}


def run_interleaved(sides: list[str], spec_path: Path, tmp: Path, threads: int) -> list[dict[str, Any]]:
    """Run each side in its own fresh process, all at once, taking turns a step each (`Baton`).

    Every side loads first; then the parent gives the turn to one side at a time, in the
    order given and in reverse on every other round, and waits until that side has finished
    its step and is ready for the next, so no two sides compute at the same time and load from
    other jobs falls on all of them alike.
    """
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
           "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    procs, messages, outs = {}, {}, {}
    for side in sides:
        read_fd, write_fd = os.pipe()
        outs[side] = tmp / f"result-{side}.json"
        procs[side] = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker", side, "--spec", str(spec_path),
             "--out", str(outs[side]), "--baton-fd", str(write_fd)],
            env=env, stdin=subprocess.PIPE, text=True, pass_fds=(write_fd,))
        os.close(write_fd)
        messages[side] = os.fdopen(read_fd)
    try:
        pending = {side: messages[side].readline().strip() == "ready" for side in sides}  # all loaded
        round_ = 0
        while any(pending.values()):
            for side in (sides if round_ % 2 == 0 else sides[::-1]):
                if not pending[side]:
                    continue
                procs[side].stdin.write("go\n")
                procs[side].stdin.flush()
                if messages[side].readline().strip() != "done":
                    raise SystemExit(f"train_vs_trl: {side} failed during its step")
                pending[side] = messages[side].readline().strip() == "ready"  # "" when it has ended
            round_ += 1
        for side in sides:
            if procs[side].wait() != 0:
                raise SystemExit(f"train_vs_trl: {side} exited with status {procs[side].returncode}")
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
    return [json.loads(outs[side].read_text()) for side in sides]


# ---------------------------------------------------------------------------- the report


def combine(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per side: tokens/s over all its timed steps (every repeat), and its figures."""
    sides: dict[str, dict[str, Any]] = {}
    for run in runs:
        side = sides.setdefault(run["side"], {"runs": [], "timed_tokens": 0, "timed_seconds": 0.0,
                                              "timed_cpu_seconds": 0.0})
        side["runs"].append({k: v for k, v in run.items() if k != "per_step"})
        for key in ("timed_tokens", "timed_seconds", "timed_cpu_seconds"):
            side[key] += run[key]
    for side in sides.values():
        first = side["runs"][0]
        side["tokens_per_s"] = side["timed_tokens"] / side["timed_seconds"] if side["timed_seconds"] else 0.0
        side["tokens_per_cpu_s"] = (side["timed_tokens"] / side["timed_cpu_seconds"]
                                    if side["timed_cpu_seconds"] else 0.0)
        for key in ("steps", "real_tokens", "trained_tokens", "packed_rows", "precision", "gradient_checkpointing"):
            side[key] = first[key]
        side["heldout_loss"] = [r["heldout_loss"] for r in side["runs"]]
    return sides


def ratios(sides: dict[str, dict[str, Any]], key: str = "tokens_per_s") -> dict[str, float]:
    """webtune's tokens/s (``key``: per second of wall time, or of CPU time) over each TRL side's."""
    out = {}
    for trl in ("trl-best", "trl-defaults"):
        if "webtune" in sides and trl in sides and sides[trl][key]:
            out[f"webtune/{trl}"] = sides["webtune"][key] / sides[trl][key]
    return out


def print_report(spec: dict[str, Any], sides: dict[str, dict[str, Any]], wall: dict[str, float],
                 cpu: dict[str, float]) -> None:
    table = Table(title=f"webtune vs TRL · LoRA r16 on {spec['model']} · {len(spec['train'])} examples → "
                        f"{spec['packed_rows']} rows of ≤{spec['rows']} · {spec['steps']} steps · "
                        f"{spec['threads']} thread(s)")
    for col in ("side", "precision", "grad. ckpt", "rows", "steps", "real tokens", "trained tokens",
                "real tokens/s", "per CPU-second", "held-out loss"):
        table.add_column(col, justify="left" if col == "side" else "right")
    for name, s in sides.items():
        table.add_row(name, s["precision"], "on" if s["gradient_checkpointing"] else "off", str(s["packed_rows"]),
                      str(s["steps"]), f"{s['real_tokens']:,}", f"{s['trained_tokens']:,}",
                      f"{s['tokens_per_s']:,.1f}", f"{s['tokens_per_cpu_s']:,.1f}",
                      " / ".join(f"{x:.4f}" for x in s["heldout_loss"]))
    out = Console(width=max(Console().width, 160))
    out.print(table)
    for name, value in wall.items():
        out.print(f"{name}: [bold]{value:.2f}x[/bold] real tokens/s ({cpu[name]:.2f}x per CPU-second)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="catalog name, model dir, or 'tiny' (default: SmolLM2 "
                        "when prepared, else tiny)")
    parser.add_argument("--data", default=None, help="Example JSONL (default: the demo's examples)")
    parser.add_argument("--examples", type=int, default=16, help="training examples (one pass)")
    parser.add_argument("--heldout", type=int, default=8, help="held-out examples for the validation loss")
    parser.add_argument("--rows", type=int, default=1024, help="packed row length (TRL's max_length)")
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps (default: one pass)")
    parser.add_argument("--lr", type=float, default=1e-3, help="learning rate (constant)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed first steps per side")
    parser.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto",
                        help="webtune's precision, and TRL-best's (bf16: autocast on both sides); auto: "
                             "bf16 on a CPU that multiplies it natively (the fastest for both there), else fp32")
    parser.add_argument("--trl-bf16-weights", action="store_true",
                        help="with bf16: TRL-best loads the base in bf16 (model_init_kwargs dtype) instead of fp32 "
                             "under autocast (measured no faster)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per side")
    parser.add_argument("--sides", default=",".join(SIDES), help="comma-separated, run in this order")
    parser.add_argument("--repeats", type=int, default=1, help="rounds; odd rounds run the sides in reverse")
    parser.add_argument("--in-process", action="store_true", help="run the sides in this process")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--spec", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--baton-fd", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.precision == "auto":
        from webtune.train.modeling import cpu_has_native_bf16

        args.precision = "bf16" if cpu_has_native_bf16() else "fp32"

    if args.worker:  # a child process: one side, its result as JSON
        spec = json.loads(args.spec.read_text())
        result = run_side(args.worker, spec, args.spec.parent, Baton(args.baton_fd))
        args.out.write_text(json.dumps(result))
        return 0

    order = [s.strip() for s in args.sides.split(",") if s.strip()]
    unknown = [s for s in order if s not in SIDES]
    if unknown:
        parser.error(f"--sides: unknown {', '.join(unknown)}; choose from {', '.join(SIDES)}")
    with tempfile.TemporaryDirectory(prefix="train-vs-trl-") as name:
        tmp = Path(name)
        spec = prepare(args, tmp)
        spec_path = tmp / "spec.json"
        spec_path.write_text(json.dumps(spec))
        lengths = sorted(len(ids) for ids, _ in spec["train"])
        console.print(f"model {spec['model']} · data {spec['data']} · {len(lengths)} training examples of "
                      f"{lengths[0]}-{lengths[-1]} tokens → {spec['packed_rows']} rows · {len(spec['heldout'])} "
                      f"held out · {spec['steps']} steps · {args.threads} thread(s) per side · "
                      f"{'in-process' if args.in_process else 'one process per side, a step each in turn'}")
        runs = []
        for round_ in range(args.repeats):
            turn = order if round_ % 2 == 0 else order[::-1]
            if args.in_process:
                for side in turn:
                    console.print(f"round {round_ + 1}: {side} …")
                    runs.append(run_side(side, spec, tmp))
            else:
                console.print(f"round {round_ + 1}: {', '.join(turn)}, a step each in turn …")
                runs += run_interleaved(turn, spec_path, tmp, args.threads)
            for run in runs[-len(turn):]:
                console.print(f"  {run['side']}: {run['tokens_per_s']:.1f} real tokens/s, held-out loss "
                              f"{run['heldout_loss']:.4f} (load {run['load_before']:.1f} → {run['load_after']:.1f})")
    sides = combine(runs)
    found, found_cpu = ratios(sides), ratios(sides, "tokens_per_cpu_s")
    print_report(spec, sides, found, found_cpu)
    if args.json:
        machine = {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count()}
        args.json.write_text(json.dumps({
            "model": spec["model"], "data": spec["data"], "examples": len(spec["train"]),
            "heldout": len(spec["heldout"]), "rows": spec["rows"], "packed_rows": spec["packed_rows"],
            "steps": spec["steps"], "machine": machine, "args": {k: str(v) for k, v in vars(args).items()},
            "sides": sides, "ratios": found, "cpu_ratios": found_cpu, "runs": runs}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
