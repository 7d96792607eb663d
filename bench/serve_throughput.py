#!/usr/bin/env python3
"""Benchmark: `webtune serve` tokens/s for 8 concurrent clients vs the same requests one after another.

    .venv/bin/python bench/serve_throughput.py [--model smollm2-135m-instruct] [--clients 8]
        [--max-tokens 64] [--threads 2] [--json out.json]

The server runs in this process (uvicorn on 127.0.0.1, a free port) with webtune's batcher;
the clients are the official `openai` SDK, one thread each. Both modes send the same prompts
with the same ``max_tokens``, greedy, to the same server, in the same run; the concurrent
answers must equal the sequential ones (the batch is left-padded, so it changes nothing).
``--model`` is anything `webtune serve --model` takes; the default is the packaged
SmolLM2-135M-Instruct when it is prepared (`webtune models prepare smollm2-135m-instruct`),
else a tiny random-weight model built on the spot (the script says which). Target: 3x.
"""

from __future__ import annotations

import argparse
import json
import platform
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

TARGET = 3.0
PROMPTS = [
    "Write a short product description for a stapler.",
    "What is a good name for a coffee shop?",
    "Explain what a paper clip is for.",
    "List three uses of a desk lamp.",
    "Describe a fountain pen in two sentences.",
    "Why do offices use filing cabinets?",
    "Give a tip for keeping a desk tidy.",
    "What makes a good notebook?",
    "Suggest a gift for a new colleague.",
    "How should sticky notes be used?",
    "Compare pencils and pens briefly.",
    "What is a whiteboard good for?",
    "Describe the perfect office chair.",
    "Name two kinds of envelopes.",
    "What does a label maker do?",
    "How do you refill a stapler?",
]


def pick_model(text: str | None) -> tuple[str, str]:
    """(``--model`` value, what it is): SmolLM2 when prepared, else a tiny model built now."""
    from webtune.models.resolve import is_prepared, models_dir

    if text:
        return text, text
    smol = models_dir() / "smollm2-135m-instruct"
    if is_prepared(smol):
        return str(smol), "SmolLM2-135M-Instruct (prepared from the packaged GGUF, fp32)"
    from webtune.models.tiny import build_tiny_model

    tiny = build_tiny_model(Path(tempfile.mkdtemp(prefix="webtune-bench-")) / "model")
    return str(tiny), "a TINY random-weight model (SmolLM2 is not prepared here)"


def start_server(table, options) -> tuple[str, object, threading.Thread]:
    import uvicorn

    from webtune.serve.server import guarded_app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(guarded_app(table, options), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}/v1", server, thread


def ask(client, prompt: str, max_tokens: int) -> tuple[str, int]:
    reply = client.chat.completions.create(model="m", messages=[{"role": "user", "content": prompt}],
                                           max_tokens=max_tokens, temperature=0)
    return reply.choices[0].message.content, reply.usage.completion_tokens


def run_sequential(client, prompts: list[str], max_tokens: int) -> tuple[float, list]:
    started = time.perf_counter()
    answers = [ask(client, p, max_tokens) for p in prompts]
    return time.perf_counter() - started, answers


def run_concurrent(client, prompts: list[str], max_tokens: int, clients: int) -> tuple[float, list]:
    """``clients`` threads, each sending its share of the prompts one after another."""
    answers: list = [None] * len(prompts)
    barrier = threading.Barrier(clients)

    def worker(first: int) -> None:
        barrier.wait()
        for i in range(first, len(prompts), clients):
            answers[i] = ask(client, prompts[i], max_tokens)

    threads = [threading.Thread(target=worker, args=(c,)) for c in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, answers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="what `webtune serve --model` takes (default: SmolLM2 if prepared)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=16, help="requests per mode (a multiple of --clients)")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    import torch
    from openai import OpenAI

    from webtune.registry.store import ModelRegistry
    from webtune.serve.chat import pick_ref
    from webtune.serve.loader import load_chat_model
    from webtune.serve.server import ServeOptions
    from webtune.serve.table import ModelTable

    if args.threads:
        torch.set_num_threads(args.threads)
    model_text, described = pick_model(args.model)
    print(f"model: {described}", flush=True)
    chat_model = load_chat_model(pick_ref(model_text, ModelRegistry()), device="cpu")
    table = ModelTable.of_models({"m": chat_model}, max_batch=args.clients)
    url, server, thread = start_server(table, ServeOptions(max_batch=args.clients))
    client = OpenAI(base_url=url, api_key="unused", max_retries=0, timeout=600)
    prompts = (PROMPTS * (args.requests // len(PROMPTS) + 1))[:args.requests]
    try:
        ask(client, "warm up", 4)
        seq_s, seq_answers = run_sequential(client, prompts, args.max_tokens)
        stats = table.get("m").engine.stats
        before = (stats.batches, stats.requests)
        con_s, con_answers = run_concurrent(client, prompts, args.max_tokens, args.clients)
        batches, requests = stats.batches - before[0], stats.requests - before[1]
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    tokens = sum(n for _, n in seq_answers)
    same = sum(a[0] == b[0] for a, b in zip(seq_answers, con_answers))
    seq_rate, con_rate = tokens / seq_s, sum(n for _, n in con_answers) / con_s
    ratio = con_rate / seq_rate
    print(f"machine: {platform.machine()} {platform.processor() or ''} {torch.get_num_threads()} torch threads, "
          f"python {platform.python_version()}, torch {torch.__version__}; {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"{len(prompts)} requests, max_tokens {args.max_tokens}, greedy, {tokens} completion tokens")
    print(f"one after another: {seq_s:7.2f} s  {seq_rate:7.1f} tokens/s")
    print(f"{args.clients} concurrent:      {con_s:7.2f} s  {con_rate:7.1f} tokens/s  "
          f"({batches} batches for {requests} requests)")
    print(f"speed-up: {ratio:.2f}x (target {TARGET:g}x); identical answers: {same}/{len(prompts)}")
    if args.json:
        args.json.write_text(json.dumps({
            "model": described, "requests": len(prompts), "clients": args.clients, "max_tokens": args.max_tokens,
            "tokens": tokens, "sequential_s": seq_s, "concurrent_s": con_s, "sequential_tokens_per_s": seq_rate,
            "concurrent_tokens_per_s": con_rate, "ratio": ratio, "identical_answers": same,
            "batches": batches}, indent=2))
    return 0 if ratio >= TARGET and same == len(prompts) else 1


if __name__ == "__main__":
    sys.exit(main())
