#!/usr/bin/env python3
"""Training throughput: naive padded batches vs webtune's padding-free packing, in one run.

The same model, method (LoRA), examples and optimizer are trained (a) with batches of
``--batch`` examples in random order, padded to the longest (dynamic padding, an attention
mask), and (b) with webtune's best-fit-decreasing packing into rows of ``--rows`` tokens
(position_ids restarting per example, no padding). Each mode makes one pass over the same
``--examples`` examples; the first ``--warmup`` steps are not timed. Printed per mode: real
(non-pad) tokens per second, the padding fraction (pad tokens / token slots computed), and the
ratio packed / padded.

    .venv/bin/python bench/train_throughput.py                      # demo data, SmolLM2 if prepared
    .venv/bin/python bench/train_throughput.py --rows 512,1024,2048 --examples 64
    .venv/bin/python bench/train_throughput.py --model tiny --json out.json

Data: ``--data FILE`` (an Example JSONL), else runs/office-products/dataset/train.jsonl when the
demo has been built, else examples rendered from the demo snapshot with the demo's template,
else generated examples. Model: ``--model`` (a catalog name or directory; ``tiny`` builds the
random test model); default SmolLM2-135M-Instruct when prepared, else tiny.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
DEMO_BUILD = ROOT / "runs" / "office-products" / "dataset" / "train.jsonl"
DEMO_SNAPSHOT = ROOT / "examples" / "office-products" / "data" / "snapshot.json"
SYSTEM = "You are a copywriter for an office-supplies store. Write concise, accurate product descriptions."
console = Console(stderr=True)


def demo_messages_from_snapshot(path: Path) -> list[list[dict[str, str]]]:
    """Chat examples rendered from the demo snapshot like the demo pipeline's template does."""
    out = []
    for product in json.loads(path.read_text(encoding="utf-8")):
        if not (product.get("description") and product.get("features") and product.get("title")):
            continue
        features = "".join(f"- {f}\n" for f in product["features"])
        user = (f"Write a product description for this item.\nTitle: {product['title']}\n"
                f"Brand: {product.get('brand', '')}\nFeatures:\n{features}")
        out.append([{"role": "system", "content": SYSTEM}, {"role": "user", "content": user},
                    {"role": "assistant", "content": str(product["description"])}])
    return out


def generated_messages(n: int, seed: int = 0) -> list[list[dict[str, str]]]:
    """Random examples of 48-400 tokens-ish, when no demo data is around."""
    rng = random.Random(seed)
    words = "paper pen binder stapler desk blue black pack premium durable office school".split()
    return [[{"role": "user", "content": " ".join(rng.choice(words) for _ in range(rng.randint(10, 80)))},
             {"role": "assistant", "content": " ".join(rng.choice(words) for _ in range(rng.randint(20, 250)))}]
            for _ in range(n)]


def load_messages(data: str | None, n: int, demo_split: Path = DEMO_BUILD,
                  snapshot: Path = DEMO_SNAPSHOT) -> tuple[list[list[dict[str, str]]], str]:
    """The examples (``data``, else the demo's ``demo_split`` when built, else the demo
    ``snapshot`` through the demo's template, else generated ones), and where they came from."""
    if data or demo_split.is_file():
        path = Path(data) if data else demo_split
        rows = [json.loads(line)["messages"] for line in path.read_text().splitlines() if line.strip()]
        return rows, str(path)
    if snapshot.is_file():
        return demo_messages_from_snapshot(snapshot), f"{snapshot} (demo template)"
    return generated_messages(n), "generated"


def resolve_model_arg(name: str | None) -> tuple[Path, str]:
    """The model directory and a label: SmolLM2 when prepared, else the tiny random model."""
    from webtune.models import build_tiny_model, is_prepared, models_dir, resolve_model

    if name is None:
        name = "smollm2-135m-instruct" if is_prepared(models_dir() / "smollm2-135m-instruct") else "tiny"
    if name == "tiny":
        return build_tiny_model(Path(tempfile.mkdtemp()) / "tiny"), "tiny random Llama"
    return resolve_model(name), name


def encode_all(tokenizer: Any, conversations: list, max_len: int) -> list:
    from webtune.chat_format import encode_chat
    from webtune.train.packing import Encoded

    out = []
    for messages in conversations:
        enc = encode_chat(tokenizer, messages, max_len=max_len)
        out.append(Encoded(enc["input_ids"], enc["labels"]))
    return out


def train_pass(model_dir: Path, batches: list[dict[str, Any]], args: argparse.Namespace,
               naive: bool = False) -> dict[str, Any]:
    """Train one pass over ``batches`` (a fresh LoRA model, one optimizer step per batch).

    ``naive``: the loss the way a plain transformers loop computes it (``model(..., labels=)``,
    logits over every position); otherwise webtune's (`batch_nll`: logits only where a label is).
    """
    import torch

    from webtune.train.backends.local_config import LocalTrainConfig
    from webtune.train.loop import batch_nll
    from webtune.train.modeling import load_for_training

    torch.manual_seed(0)
    config = LocalTrainConfig(gradient_checkpointing=args.gradient_checkpointing)
    if args.lora_dropout is not None:
        config = config.model_copy(update={"lora": config.lora.model_copy(update={"dropout": args.lora_dropout})})
    # bf16: frozen base weights in bf16 (adapters fp32); bf16-autocast: fp32 weights, bf16 matmuls.
    # The naive loop is transformers' own SDPA and PEFT's own LoRA; webtune's picks its attention
    # per device and computes each LoRA layer as one merged product (train/fused_lora.py).
    model = load_for_training(model_dir, config, "cpu", "bf16" if args.precision == "bf16" else "no",
                              attention="sdpa" if naive else None, fused_lora=not naive)
    autocast = args.precision == "bf16-autocast"
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    real = slots = 0
    seconds = 0.0
    per_step: list[float] = []  # real tokens/s of each timed step
    for i, batch in enumerate(batches):
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            if naive:
                loss = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                             labels=batch["labels"], use_cache=False).loss
            else:
                nll, n = batch_nll(model, batch, "cpu")
                loss = nll / max(n, 1)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        took = time.perf_counter() - start
        console.print(f"  step {i + 1}/{len(batches)}: {batch['n_real']} real tokens of "
                      f"{batch['n_slots']} in {took:.1f}s", highlight=False)
        if i >= args.warmup:
            seconds += took
            per_step.append(batch["n_real"] / took)
            real += batch["n_real"]
            slots += batch["n_slots"]
    return {"steps": len(batches), "timed_steps": max(0, len(batches) - args.warmup), "seconds": seconds,
            "real_tokens": real, "slots": slots, "tokens_per_s": real / seconds if seconds else 0.0,
            "padding_fraction": 1 - real / slots if slots else 0.0,
            # Robust to other jobs stealing the CPU for a few steps (shared machines).
            "median_step_tokens_per_s": statistics.median(per_step) if per_step else 0.0}


def padded_batches(examples: list, batch: int, pad_id: int, seed: int) -> list[dict[str, Any]]:
    from webtune.train.packing import collate_padded

    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    return [collate_padded([examples[i] for i in order[k:k + batch]], pad_id)
            for k in range(0, len(order), batch)]


def packed_batches(examples: list, rows: int, pad_id: int, seed: int) -> tuple[list[dict[str, Any]], float]:
    from webtune.train.packing import best_fit_decreasing, collate_packed, packing_efficiency

    lengths = [len(e) for e in examples]
    units = best_fit_decreasing(lengths, rows)
    random.Random(seed).shuffle(units)
    return ([collate_packed([[examples[i] for i in unit]], pad_id) for unit in units],
            packing_efficiency(lengths, units, rows))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="catalog name, model dir, or 'tiny'")
    parser.add_argument("--data", default=None, help="Example JSONL (default: the demo data)")
    parser.add_argument("--examples", type=int, default=64, help="examples per mode (one pass)")
    parser.add_argument("--rows", default="1024", help="packed row length(s), comma-separated")
    parser.add_argument("--batch", type=int, default=8, help="examples per padded batch")
    parser.add_argument("--warmup", type=int, default=1, help="untimed first steps per mode")
    parser.add_argument("--precision", choices=["fp32", "bf16", "bf16-autocast"], default="fp32")
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument("--lora-dropout", type=float, default=None, help="default: webtune's default")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-padded-webtune-loss", action="store_true",
                        help="leave out (a'), which separates the loss's share of the gain from packing's")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)

    import torch

    from webtune.models import load_tokenizer

    if args.threads:
        torch.set_num_threads(args.threads)
    model_dir, model_label = resolve_model_arg(args.model)
    tokenizer = load_tokenizer(model_dir)
    conversations, source = load_messages(args.data, args.examples)
    random.Random(args.seed).shuffle(conversations)
    row_sizes = [int(r) for r in args.rows.split(",")]
    examples = encode_all(tokenizer, conversations[:args.examples], max(row_sizes))
    lengths = sorted(len(e) for e in examples)
    console.print(f"model {model_label} · data {source} · {len(examples)} examples of "
                  f"{lengths[0]}-{lengths[-1]} tokens (median {lengths[len(lengths) // 2]}) · "
                  f"{torch.get_num_threads()} threads · {args.precision}")

    results: dict[str, Any] = {}
    padded = padded_batches(examples, args.batch, tokenizer.pad_token_id, args.seed)
    console.print(f"(a) naive: padded batches of {args.batch}, transformers' loss …")
    results["padded"] = train_pass(model_dir, padded, args, naive=True)
    if not args.skip_padded_webtune_loss:
        console.print(f"(a') padded batches of {args.batch}, webtune's loss (logits only where labelled) …")
        results["padded_webtune_loss"] = train_pass(model_dir, padded, args)
    for rows in row_sizes:
        console.print(f"(b) packed rows of {rows} …")
        batches, efficiency = packed_batches([e for e in examples if len(e) <= rows], rows,
                                             tokenizer.pad_token_id, args.seed)
        results[f"packed_{rows}"] = {**train_pass(model_dir, batches, args), "packing_efficiency": efficiency}

    base = results["padded"]["tokens_per_s"]
    table = Table(title=f"training throughput · LoRA on {model_label} · {len(examples)} examples")
    med = results["padded"]["median_step_tokens_per_s"]
    for col in ("mode", "steps", "real tokens/s", "ratio vs padded", "median step tokens/s", "median ratio",
                "padding fraction", "packing efficiency"):
        table.add_column(col, justify="left" if col == "mode" else "right")
    for name, r in results.items():
        label = {"padded": f"(a) naive: padded batches of {args.batch}",
                 "padded_webtune_loss": f"(a') padded batches of {args.batch}, webtune loss"}.get(
                     name, f"(b) webtune: packed rows of {name.split('_')[-1]}")
        eff = f"{r['packing_efficiency']:.1%}" if "packing_efficiency" in r else "—"
        table.add_row(label, str(r["steps"]), f"{r['tokens_per_s']:,.0f}",
                      f"{r['tokens_per_s'] / base:.2f}x" if base else "—",
                      f"{r['median_step_tokens_per_s']:,.0f}",
                      f"{r['median_step_tokens_per_s'] / med:.2f}x" if med else "—",
                      f"{r['padding_fraction']:.1%}", eff)
    Console().print(table)
    if args.json:
        machine = {"platform": platform.platform(), "processor": platform.processor(),
                   "cpus": os.cpu_count(), "threads": torch.get_num_threads(), "torch": torch.__version__}
        args.json.write_text(json.dumps({"model": model_label, "data": source, "examples": len(examples),
                                         "machine": machine, "args": {k: str(v) for k, v in vars(args).items()},
                                         "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
