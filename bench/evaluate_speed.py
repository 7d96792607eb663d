#!/usr/bin/env python3
"""Evaluation's answer generation: batched vs one prompt at a time, in one run, same outputs.

The same model answers the same held-out prompts twice with greedy decoding, through
`webtune.generation.generate_batch` (what evaluate uses): (a) one prompt at a time
(``batch_size=1``, as evaluate did before batching), (b) in length-sorted, left-padded batches
of ``--batch-size`` with the KV cache. Printed per mode: answers, wall time, answers/s,
generated tokens/s, and the speed-up of (b) over (a). The answers of (b) must equal those of (a)
token for token: the script checks it and exits non-zero (saying where) when they differ.

    .venv/bin/python bench/evaluate_speed.py                    # demo test split, SmolLM2 if prepared
    .venv/bin/python bench/evaluate_speed.py --examples 27 --batch-size 16 --max-new-tokens 96
    .venv/bin/python bench/evaluate_speed.py --model tiny --examples 8 --json out.json

Data: ``--data FILE`` (an Example JSONL), else runs/office-products/dataset/test.jsonl when the
demo has been built, else prompts rendered from the demo snapshot with the demo's template,
else generated prompts. Model: ``--model`` (a catalog name or directory; ``tiny`` builds the
random test model); default SmolLM2-135M-Instruct when prepared, else tiny.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
DEMO_TEST = ROOT / "runs" / "office-products" / "dataset" / "test.jsonl"
sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_throughput import generated_messages, load_messages, resolve_model_arg  # noqa: E402,F401

console = Console(stderr=True)


def load_prompts(data: str | None, n: int) -> tuple[list[list[dict[str, str]]], str]:
    """Up to ``n`` prompts (the conversation before its last reply) and where they came from."""
    rows, source = load_messages(data, n, demo_split=DEMO_TEST)
    return [r[:-1] for r in rows[:n]], source


def timed(chat: Any, prompts: list[str], batch_size: int, max_new_tokens: int) -> tuple[list[Any], float]:
    """The greedy answers and the seconds they took."""
    from webtune.generation import generate_batch

    t0 = time.perf_counter()
    out = generate_batch(chat.model, chat.tokenizer, prompts, max_new_tokens=max_new_tokens,
                         stop_ids=chat.stop_ids(), batch_size=batch_size, device=chat.device)
    return out, time.perf_counter() - t0


def first_difference(a: list[Any], b: list[Any]) -> str | None:
    """Where two runs' answers first differ, or None when they are identical."""
    for n, (x, y) in enumerate(zip(a, b)):
        if x.ids != y.ids:
            at = next((i for i, (p, q) in enumerate(zip(x.ids, y.ids)) if p != q), min(len(x.ids), len(y.ids)))
            return f"answer {n} differs at token {at} ({len(x.ids)} vs {len(y.ids)} tokens)"
    return None if len(a) == len(b) else f"{len(a)} vs {len(b)} answers"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="catalog name, model dir, or 'tiny'")
    parser.add_argument("--data", default=None, help="Example JSONL (default: the demo's test split)")
    parser.add_argument("--examples", type=int, default=27, help="prompts answered (the demo has 27)")
    parser.add_argument("--batch-size", type=int, default=16, help="evaluate's default batch size")
    parser.add_argument("--max-new-tokens", type=int, default=96, help="the demo's setting")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)

    import torch

    from webtune.models import load_causal_lm, load_tokenizer
    from webtune.serve.models import LocalChatModel

    if args.threads:
        torch.set_num_threads(args.threads)
    model_dir, label = resolve_model_arg(args.model)
    conversations, source = load_prompts(args.data, args.examples)
    chat = LocalChatModel(load_causal_lm(model_dir), load_tokenizer(model_dir), label)
    prompts = [chat.render(c) for c in conversations]
    lengths = [len(chat.tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts]
    console.print(f"model {label} · {len(prompts)} prompts from {source} ({min(lengths)}-{max(lengths)} "
                  f"tokens) · greedy, max {args.max_new_tokens} new tokens · {torch.get_num_threads()} threads")
    timed(chat, prompts[:1], 1, 2)  # warm-up: first-call allocations are not part of either mode

    alone, alone_s = timed(chat, prompts, 1, args.max_new_tokens)
    batched, batched_s = timed(chat, prompts, args.batch_size, args.max_new_tokens)
    difference = first_difference(alone, batched)
    tokens = sum(len(g.ids) for g in alone)
    modes = [("(a) one at a time", 1, alone_s), (f"(b) batched, batches of {args.batch_size}", args.batch_size,
                                                  batched_s)]
    table = Table(title="evaluate · answer generation, same prompts, greedy")
    for column in ("mode", "answers", "seconds", "answers/s", "new tokens/s", "speed-up"):
        table.add_column(column, justify="left" if column == "mode" else "right")
    for name, _, seconds in modes:
        table.add_row(name, str(len(prompts)), f"{seconds:.1f}", f"{len(prompts) / seconds:.2f}",
                      f"{tokens / seconds:.1f}", f"{alone_s / seconds:.2f}x")
    Console().print(table)
    stopped = sum(g.finish_reason == "stop" for g in alone)
    print(f"identical greedy outputs: {'yes' if difference is None else 'NO: ' + difference} · "
          f"{tokens} new tokens · {stopped}/{len(prompts)} answers ended with end-of-turn")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "model": label, "source": source, "prompts": len(prompts), "max_new_tokens": args.max_new_tokens,
            "batch_size": args.batch_size, "threads": torch.get_num_threads(), "new_tokens": tokens,
            "one_at_a_time_s": alone_s, "batched_s": batched_s, "speedup": alone_s / batched_s,
            "identical": difference is None, "machine": platform.processor() or platform.machine(),
            "cpus": os.cpu_count()}, indent=2))
    return 0 if difference is None else 1


if __name__ == "__main__":
    sys.exit(main())
