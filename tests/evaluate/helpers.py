"""Shared by the evaluate, registry and serve tests: held-out examples, a trained tiny LoRA
adapter acting as the "tuned" model, and dataset/train stage outputs published with real manifests."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path
from typing import Any

from webtune.config import PipelineConfig, validate_pipeline
from webtune.handoffs import TrainResult
from webtune.jsonl import write_jsonl
from webtune.stage import Counts, StageResult, run_stage

SYSTEM = "You are a tiny test assistant."
ITEMS = [("fox", "The quick brown fox jumps over the lazy dog."),
         ("journey", "A journey of a thousand miles begins with a single step."),
         ("web", "The web is a large collection of pages."),
         ("model", "A model learns from examples."),
         ("answers", "Good answers are clear, correct, and polite."),
         ("water", "Water boils at one hundred degrees Celsius at sea level.")]
_CACHE: dict[str, Path] = {}


def make_examples(n: int = 6) -> list[dict[str, Any]]:
    """``n`` chat examples (system, user, assistant) in webtune's Example shape."""
    out = []
    for i in range(n):
        topic, answer = ITEMS[i % len(ITEMS)]
        out.append({"messages": [{"role": "system", "content": SYSTEM},
                                 {"role": "user", "content": f"Tell me about the {topic}."},
                                 {"role": "assistant", "content": answer}],
                    "meta": {"source_id": f"doc-{i}", "template": "test"}})
    return out


def train_adapter(base_dir: Path, out_dir: Path, examples: list[dict[str, Any]], steps: int = 60) -> Path:
    """A LoRA adapter on the tiny model, really trained (Adam) on ``examples``, saved to ``out_dir``."""
    import torch
    from peft import LoraConfig, get_peft_model

    from webtune.chat_format import encode_chat
    from webtune.models import load_causal_lm, load_tokenizer

    torch.manual_seed(0)
    tokenizer = load_tokenizer(base_dir)
    with warnings.catch_warnings():  # peft calls a transformers API deprecated in v5
        warnings.simplefilter("ignore", FutureWarning)
        model = get_peft_model(load_causal_lm(base_dir), LoraConfig(
            r=8, lora_alpha=16, lora_dropout=0.0, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"]))
    with torch.no_grad():  # start away from the base, as a trained adapter would be
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.02)
    encoded = [encode_chat(tokenizer, e["messages"]) for e in examples]
    width = max(len(e["input_ids"]) for e in encoded)
    ids = torch.full((len(encoded), width), tokenizer.pad_token_id)
    labels = torch.full((len(encoded), width), -100)
    mask = torch.zeros((len(encoded), width), dtype=torch.long)
    for row, e in enumerate(encoded):
        n = len(e["input_ids"])
        ids[row, :n], labels[row, :n], mask[row, :n] = torch.tensor(e["input_ids"]), torch.tensor(e["labels"]), 1
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    for _ in range(steps):
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.save_pretrained(out_dir)
    return out_dir


def cached_adapter(base_dir: Path, root: Path) -> Path:
    """One trained adapter per test session (training takes a second or two)."""
    key = str(base_dir)
    if key not in _CACHE:
        _CACHE[key] = train_adapter(base_dir, root / "adapter", make_examples())
    return _CACHE[key]


def unrelated_examples() -> list[dict[str, Any]]:
    """Training examples sharing no 13-gram with `make_examples` (so nothing is contaminated)."""
    return [{"messages": [{"role": "user", "content": "Name a colour."},
                          {"role": "assistant", "content": "Blue is a colour that many people like a lot, "
                                                           "from the sky to the sea on a summer day."}]}]


def publish_inputs(run_dir: Path, base_dir: Path, adapter: Path | None, test_lines: list[Any] | None = None,
                   train_result: dict[str, Any] | None = None, model: Path | None = None,
                   train_lines: list[Any] | None = None, extra_files: dict[str, list[Any]] | None = None) -> None:
    """Publish ``dataset`` (test.jsonl and train.jsonl) and ``train`` (an adapter or a full ``model``,
    and train_result.json) in ``run_dir`` through the stage contract, so they carry real manifests.
    ``train.jsonl`` holds ``train_lines`` (default: examples unrelated to the test lines);
    ``extra_files`` are more JSONL files of the dataset stage (``preference_test.jsonl``)."""
    lines = test_lines if test_lines is not None else make_examples()

    def dataset(ctx):
        (ctx.output_dir / "test.jsonl").write_text(
            "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
        write_jsonl(ctx.output_dir / "train.jsonl", train_lines if train_lines is not None else unrelated_examples())
        for name, rows in (extra_files or {}).items():
            write_jsonl(ctx.output_dir / name, rows)
        return StageResult(counts=Counts(len(lines), len(lines), 0))

    def train(ctx):
        result = {"backend": "local", "method": "lora", "base_model": str(base_dir),
                  "base_model_path": str(base_dir), "adapter_dir": None, "model_dir": None,
                  "model_id": None, "metrics": {"train_loss": 1.5}}
        if adapter is not None:
            shutil.copytree(adapter, ctx.output_dir / "adapter")
            result["adapter_dir"] = "adapter"
        if model is not None:
            shutil.copytree(model, ctx.output_dir / "model")
            result["model_dir"] = "model"
        result.update(train_result or {})
        TrainResult.model_validate(result).write(ctx.output_dir)
        return StageResult(counts=Counts(1, 1, 0))

    run_stage("dataset", dataset, run_dir=run_dir, config={"test": len(lines), "extra": sorted(extra_files or {})},
              force=True)
    run_stage("train", train, run_dir=run_dir, config={"adapter": str(adapter), "model": str(model)},
              inputs={"dataset": run_dir / "dataset"}, force=True)


def make_pipeline(base_dir: Path, registry: Path, name: str = "tiny", **sections: Any) -> PipelineConfig:
    """A pipeline on the tiny model with a registry under the test's directory."""
    data = {"name": name, "description": "a tiny test pipeline", "base_model": str(base_dir),
            "evaluate": {"max_examples": 4, "max_new_tokens": 8, "metrics": ["loss", "rouge_l", "exact_match",
                                                                               "length"]},
            "register": {"path": str(registry)}}
    for key, value in sections.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    return validate_pipeline(data)
