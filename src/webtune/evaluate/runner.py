"""Run the base and the tuned model over the held-out examples: loss and greedy answers."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn,
                           TimeElapsedColumn)
from rich.text import Text

from webtune.errors import InputError
from webtune.evaluate.metrics.base import ModelResult
from webtune.extras import require
from webtune.handoffs import TrainResult
from webtune.records import Reject
from webtune.serve.models import HostedChatModel, LocalChatModel

MODELS = ("base", "tuned")


@dataclass
class EvalItem:
    """One held-out example: the conversation, the prompt part and the reference reply."""

    line: int
    id: str | None
    messages: list[dict[str, str]]
    prompt: list[dict[str, str]]
    reference: str


@dataclass
class EvalRun:
    """What the runner hands back: per-model results, which items were generated, rejects."""

    results: dict[str, ModelResult]
    loss_items: list[EvalItem]
    generated: list[EvalItem]
    rejects: list[Reject] = field(default_factory=list)
    models: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    per_example_loss: dict[str, list[float | None]] = field(default_factory=dict)


class RateColumn(ProgressColumn):
    """Items per second of a task, in its own unit (``answers/s``, ``examples/s``)."""

    def render(self, task: Task) -> Text:
        unit = task.fields.get("unit", "items")
        elapsed = task.finished_time if task.finished else task.elapsed
        if not elapsed or not task.completed:
            return Text(f"– {unit}/s", style="progress.data.speed")
        return Text(f"{task.completed / elapsed:.2f} {unit}/s", style="progress.data.speed")


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    RateColumn(), TimeElapsedColumn(), console=console, transient=False)


def run_local(items: list[EvalItem], train_dir: Path, train_result: TrainResult, base_model: str,
              config: Any, console: Console, chat_template: str | None = None) -> EvalRun:
    """Loss and answers on every item (answers on the first ``max_examples`` when set), base first.

    The base weights are loaded once: after the base run the LoRA adapter is merged into them.
    """
    from webtune.evaluate.scoring import tuned_tokenizer
    from webtune.models import pick_device, resolve_model
    from webtune.serve.loader import LOCAL_MODEL_MODULES

    require("evaluate of a local model", "train", *LOCAL_MODEL_MODULES)

    trained_on = train_result.base_model
    if trained_on and str(trained_on) != str(base_model):
        raise InputError(f"{train_dir / TrainResult.FILE}: base_model: the tuned model was trained on "
                         f"{trained_on!r}, but the pipeline's base_model is {base_model!r}")
    base_path = resolve_model(base_model)
    adapter, full = train_result.local_dirs(train_dir)
    # the template training rendered with, for the loss and the prompts alike
    tokenizer = tuned_tokenizer(train_dir, train_result, base_path, chat_template)
    loss_items, encoded, rejects = _encode_items(items, tokenizer, config.max_len)
    tuned_name = (f"{base_model} + LoRA adapter {train_dir.name}/{adapter.name}" if adapter
                  else f"{train_dir.name}/{full.name}")
    run = EvalRun(results={}, loss_items=loss_items, generated=loss_items[:config.max_examples],
                  rejects=rejects, models={"base": str(base_model), "tuned": tuned_name})
    _run_both(run, base_path, adapter, full, tokenizer, encoded, config, pick_device(config.device, "evaluate.device"), console)
    return run


def _encode_items(items: list[EvalItem], tokenizer: Any, max_len: int | None
                  ) -> tuple[list[EvalItem], list[dict[str, list[int]]], list[Reject]]:
    """Items with assistant tokens left after encoding, their encodings, and rejects for the rest."""
    from webtune.evaluate.scoring import encode_examples

    kept, encodings, rejects = [], [], []
    for item, enc in zip(items, encode_examples(tokenizer, [i.messages for i in items], max_len=max_len)):
        if not any(label != -100 for label in enc["labels"]):
            rejects.append(Reject(stage="evaluate", step="encode", reason="no_assistant_tokens",
                                  id=item.id, value=len(enc["input_ids"]), threshold=max_len,
                                  record={"line": item.line}))
            continue
        kept.append(item)
        encodings.append(enc)
    return kept, encodings, rejects


def _run_both(run: EvalRun, base_path: Path, adapter: Path | None, full: Path | None, tokenizer: Any,
              encoded: list[dict[str, list[int]]], config: Any, device: str, console: Console) -> None:
    """Evaluate the base model, then turn it into the tuned one (or load that) and evaluate it."""
    from webtune.models import load_causal_lm
    from webtune.models.prepare import progress_bars
    from webtune.serve.loader import load_weights

    vllm = _vllm_answers(config, base_path, adapter, tokenizer)
    with _progress(console) as progress:
        t0 = time.perf_counter()
        with progress_bars(False):
            base = load_causal_lm(base_path)
        run.timings["load_base_s"] = time.perf_counter() - t0
        _run_model("base", LocalChatModel(base, tokenizer, "base", device), run, encoded, config, progress,
                   answers=vllm and vllm("base"))
        t0 = time.perf_counter()
        if adapter is not None:
            tuned = load_weights(base_path, adapter, base_model=base)
        else:
            del base  # a full fine-tune is a second model: free the first before loading it
            tuned = load_weights(full)
        run.timings["load_tuned_s"] = time.perf_counter() - t0
        tuned_answers = vllm and (vllm("tuned") if adapter is not None
                                  else _vllm_answers(config, Path(full), None, tokenizer)("base"))
        _run_model("tuned", LocalChatModel(tuned, tokenizer, "tuned", device), run, encoded, config, progress,
                   answers=tuned_answers)


def _vllm_answers(config: Any, model_path: Path, adapter: Path | None, tokenizer: Any) -> Any:
    """With ``engine: vllm``: a function of "base"/"tuned" giving what answers for that side (one
    vLLM engine, the adapter as a LoRA request); None with the transformers engine."""
    if getattr(config, "engine", "transformers") != "vllm":
        return None
    from functools import partial

    from webtune.serve.vllm_engine import VllmChatModel, check_vllm

    check_vllm("evaluate")
    # The transformers model computing the loss shares the GPU: leave it room.
    model = VllmChatModel(model_path, tokenizer, adapter, name="evaluate",
                          engine_args={"gpu_memory_utilization": 0.45})
    return lambda side: _Answers(partial(model.generate_batch, adapter=side == "tuned"))


class _Answers:
    """What `_generate` calls: ``generate_batch`` of another engine than the loss model's."""

    def __init__(self, generate_batch: Any):
        self.generate_batch = generate_batch


def _run_model(label: str, chat: LocalChatModel, run: EvalRun, encoded: list[dict[str, list[int]]],
               config: Any, progress: Progress, answers: Any = None) -> None:
    """Fill ``run`` with one model's losses and answers."""
    from webtune.evaluate.scoring import example_losses

    result = ModelResult(references=[i.reference for i in run.generated])
    if encoded and "loss" in config.metric_names():  # forward passes only when the loss is asked for
        task = progress.add_task(f"{label} · loss", total=len(encoded), unit="examples")
        t0 = time.perf_counter()
        pad = chat.tokenizer.pad_token_id
        result.nll, result.tokens = example_losses(
            chat.model, encoded, pad_id=pad, device=chat.device, max_tokens=config.loss_batch_tokens,
            on_batch=lambda n: progress.advance(task, n))
        run.timings[f"{label}_loss_s"] = time.perf_counter() - t0
        run.per_example_loss[label] = [n / t if t else None for n, t in zip(result.nll, result.tokens)]
    _generate(label, answers or chat, run, result, config, progress)
    run.results[label] = result


def _generate(label: str, chat: Any, run: EvalRun, result: ModelResult, config: Any,
              progress: Progress) -> None:
    """Greedy answers of one model to the generated items."""
    if not run.generated:
        return
    task = progress.add_task(f"{label} · generate", total=len(run.generated), unit="answers")
    t0 = time.perf_counter()
    answers = chat.generate_batch([i.prompt for i in run.generated], max_new_tokens=config.max_new_tokens,
                                  batch_size=config.batch_size, on_batch=lambda n: progress.advance(task, n))
    run.timings[f"{label}_generate_s"] = time.perf_counter() - t0
    result.predictions = [a.text for a in answers]
    result.finish_reasons = [a.finish_reason for a in answers]


def run_hosted(items: list[EvalItem], train_result: TrainResult, config: Any, console: Console,
               client: Any = None) -> EvalRun:
    """Answers from the hosted base and tuned models (hosted APIs give no loss)."""
    base_id = str(train_result.base_model or "")
    tuned_id = str(train_result.model_id)
    if not base_id:
        raise InputError("train_result.json: base_model is not set (the hosted base to compare with)")
    generated = items[:config.max_examples]
    if client is None:  # both models answer at the endpoint the tuned one was trained on
        from webtune.openai_client import connect

        client = connect(recorded=train_result.api)
    run = EvalRun(results={}, loss_items=[], generated=generated, models={"base": base_id, "tuned": tuned_id})
    with _progress(console) as progress:
        for label, model_id in (("base", base_id), ("tuned", tuned_id)):
            result = ModelResult(references=[i.reference for i in generated])
            _generate(label, HostedChatModel(model_id, client=client), run, result, config, progress)
            run.results[label] = result
    return run
