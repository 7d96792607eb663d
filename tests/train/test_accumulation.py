"""Gradient accumulation (webtune.train.loop): a step's loss is the mean over all its trained tokens.

One optimizer step of a batch of 4 examples of different lengths and four accumulated
micro-batches of one example each must give the same gradients and the same logged loss; a
mean of per-micro-batch means would not (checked too, so this test can fail).
"""

from __future__ import annotations

import io
import random

import pytest
from rich.console import Console

from webtune.train.data import save_tokenized
from webtune.train.loop import TrainJob, Trainer, _reset_accelerate_state, batch_nll
from webtune.train.packing import IGNORE_INDEX, Encoded, collate_padded

# Lengths and labelled tails differ a lot, so per-example means weigh tokens unequally.
SHAPES = [(12, 3), (60, 45), (25, 20), (40, 8)]  # (length, labelled tokens)


def _examples() -> list[Encoded]:
    rng = random.Random(5)
    out = []
    for length, labelled in SHAPES:
        ids = [rng.randrange(3, 300) for _ in range(length)]
        out.append(Encoded(ids, [IGNORE_INDEX] * (length - labelled) + ids[length - labelled:]))
    return out


def _one_step(tmp_path, model_dir, name: str, **settings) -> tuple[dict, dict]:
    """The gradients just before the first optimizer step, and the step's logged figures."""
    data = tmp_path / f"{name}.json"
    save_tokenized(data, _examples(), [], pad_id=2)
    config = {"method": "full", "packing": False, "max_steps": 1, "epochs": 1, "precision": "fp32",
              "device": "cpu", "max_seq_len": 64, "learning_rate": 1e-3, **settings}
    job = TrainJob(config=config, base_model="tiny", base_model_path=str(model_dir), data_path=str(data),
                   output_dir=str(tmp_path / name / "out"), work_dir=str(tmp_path / name / "work"), seed=0,
                   memory_check="off")
    trainer = Trainer(job, console=Console(file=io.StringIO()))
    try:
        trainer._setup()
        grads: dict = {}
        trainer.optimizer.optimizer.register_step_pre_hook(lambda opt, args, kwargs: grads.update(
            {n: p.grad.detach().clone() for n, p in trainer.model.named_parameters() if p.grad is not None}))
        figures = trainer._train_step(0)
        assert [len(b) for b in trainer.plan.micro_batches(0)] == ([4] if settings["batch_size"] == 4 else [1] * 4)
        return grads, figures
    finally:
        _reset_accelerate_state()


def _reference(model_dir):
    """Gradients of the token mean and of the mean of per-example means, computed directly."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model.config.use_cache = False
    results = {}
    for kind in ("token mean", "mean of means"):
        model.zero_grad(set_to_none=True)
        parts = [batch_nll(model, collate_padded([e], 2), "cpu") for e in _examples()]
        if kind == "token mean":
            loss = sum(nll for nll, _ in parts) / sum(n for _, n in parts)
        else:
            loss = sum(nll / n for nll, n in parts) / len(parts)
        loss.backward()
        results[kind] = ({n: p.grad.clone() for n, p in model.named_parameters()}, float(loss.detach()))
    return results


def test_batch_of_four_and_four_accumulated_micro_batches_give_the_same_step(tmp_path, tiny_model_dir):
    import torch

    batched, batched_figures = _one_step(tmp_path, tiny_model_dir, "batched", batch_size=4,
                                         gradient_accumulation_steps=1)
    accumulated, accumulated_figures = _one_step(tmp_path, tiny_model_dir, "accumulated", batch_size=1,
                                                 gradient_accumulation_steps=4)
    assert batched.keys() == accumulated.keys() and len(batched) > 10
    for name in batched:
        torch.testing.assert_close(accumulated[name], batched[name], rtol=1e-4, atol=1e-6, msg=name)
    # The logged loss is the mean over the step's trained tokens, both ways.
    labelled = sum(n for _, n in SHAPES)
    assert batched_figures["label_tokens"] == accumulated_figures["label_tokens"] == labelled
    assert accumulated_figures["loss"] == pytest.approx(batched_figures["loss"], rel=1e-5)

    reference = _reference(tiny_model_dir)
    token_grads, token_loss = reference["token mean"]
    means_grads, means_loss = reference["mean of means"]
    assert accumulated_figures["loss"] == pytest.approx(token_loss, rel=1e-5)
    for name in accumulated:
        key = name.removeprefix("module.")
        torch.testing.assert_close(accumulated[name], token_grads[key], rtol=1e-4, atol=1e-6, msg=name)
    # Averaging per micro-batch would have given another loss and other gradients.
    assert abs(means_loss - token_loss) > 1e-3
    differs = [n for n in token_grads if not torch.allclose(token_grads[n], means_grads[n], rtol=1e-2, atol=1e-5)]
    assert len(differs) > len(token_grads) // 2
