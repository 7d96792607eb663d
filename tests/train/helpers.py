"""Helpers of the train tests: small dataset directories and fast pipelines on the tiny model."""

from __future__ import annotations

import json
import random
from pathlib import Path

WORDS = ("the quick brown fox jumps over lazy dog paper pen binder stapler blue red "
         "answer question page model data clean short useful").split()


def make_example(rng: random.Random, i: int, reply_words: tuple[int, int] = (5, 60)) -> dict:
    """A chat example with random words (lengths vary, so packing has work to do)."""
    user = "Describe " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 30)))
    reply = " ".join(rng.choice(WORDS) for _ in range(rng.randint(*reply_words)))
    return {"messages": [{"role": "system", "content": "You write."},
                         {"role": "user", "content": user},
                         {"role": "assistant", "content": reply}],
            "meta": {"source_id": f"doc{i}", "template": "t"}}


def write_dataset(dataset: Path, n_train: int = 40, n_val: int = 8, seed: int = 0,
                extra_train: list[str] | None = None) -> Path:
    """A dataset-stage directory with train.jsonl and validation.jsonl (plus raw extra lines)."""
    rng = random.Random(seed)
    dataset.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(make_example(rng, i)) for i in range(n_train)] + list(extra_train or [])
    (dataset / "train.jsonl").write_text("".join(f"{line}\n" for line in lines))
    (dataset / "validation.jsonl").write_text(
        "".join(json.dumps(make_example(rng, 1000 + i)) + "\n" for i in range(n_val)))
    return dataset


def pipeline_for(model_dir: Path, **train) -> "object":
    """A validated pipeline on ``model_dir`` with small, fast training settings."""
    from webtune.config import validate_pipeline

    settings = {"max_seq_len": 256, "eval_steps": 4, "save_steps": 4, "learning_rate": 5e-3,
                "lora": {"r": 4, "alpha": 8, "dropout": 0.1}, **train}
    return validate_pipeline({"name": "t", "base_model": str(model_dir), "seed": 3, "train": settings})


def run_logged(pipe, run_dir: Path, **kwargs) -> tuple:
    """Run the train stage on ``run_dir/dataset``; its manifest and what it printed."""
    from rich.console import Console

    from webtune.pipeline import run_one_stage, stage_spec

    console = Console(record=True, width=120)
    manifest = run_one_stage(stage_spec("train"), pipe, run_dir, inputs={"dataset": run_dir / "dataset"},
                             console=console, **kwargs)
    return manifest, console.export_text()


def run_train(pipeline, run_dir: Path, dataset: Path, force: bool = True) -> dict:
    """Run the train stage (in-process) and return its manifest."""
    from webtune.pipeline import run_one_stage, stage_spec

    return run_one_stage(stage_spec("train"), pipeline, run_dir, inputs={"dataset": dataset}, force=force)


GOOD = "answer question page model data clean".split()  # one token each in the tiny tokenizer
BAD = "quick brown fox jumps over lazy".split()  # one token each too


def make_pair(rng: random.Random, i: int, words: int = 6) -> dict:
    """An easy preference pair: the chosen answer uses one set of words, the rejected another."""
    prompt = [{"role": "system", "content": "You write."},
              {"role": "user", "content": "Describe " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 8)))}]
    return {"prompt": prompt,
            "chosen": " ".join(rng.choice(GOOD) for _ in range(words)),
            "rejected": " ".join(rng.choice(BAD) for _ in range(words)),
            "meta": {"source_id": f"doc{i}"}}


def write_preference(dataset: Path, n_train: int = 24, n_val: int = 8, seed: int = 0,
                     unpaired: bool = False, extra_train: list[str] | None = None) -> Path:
    """preference_train.jsonl and preference_validation.jsonl (the dataset stage's contract):
    pairs, or (``unpaired``) single answers labelled desirable or not, for KTO."""
    from webtune.records import PreferenceExample

    rng = random.Random(seed)
    dataset.mkdir(parents=True, exist_ok=True)

    def record(i: int) -> dict:
        pair = make_pair(rng, i)
        if not unpaired:
            return PreferenceExample.model_validate(pair).to_json()
        desirable = i % 3 != 0  # two desirable answers to one undesirable
        return PreferenceExample(prompt=pair["prompt"], completion=pair["chosen" if desirable else "rejected"],
                                 desirable=desirable, meta=pair["meta"]).to_json()

    lines = [json.dumps(record(i)) for i in range(n_train)] + list(extra_train or [])
    (dataset / "preference_train.jsonl").write_text("".join(f"{line}\n" for line in lines))
    (dataset / "preference_validation.jsonl").write_text(
        "".join(json.dumps(record(1000 + i)) + "\n" for i in range(n_val)))
    return dataset
