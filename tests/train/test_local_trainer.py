"""The local trainer end to end on the tiny model: outputs, rejects, resume, methods."""

from __future__ import annotations

import json
import random

import pytest

from tests.train.helpers import make_example, pipeline_for, run_train, write_dataset
from webtune.errors import WebtuneError
from webtune.handoffs import TrainResult
from webtune.models import load_tokenizer
from webtune.stage import read_manifest


def adapter_weights(stage_dir):
    from safetensors.torch import load_file

    return load_file(str(stage_dir / "adapter" / "adapter_model.safetensors"))


def test_lora_run_writes_outputs_rejects_and_learns(tmp_path, tiny_model_dir):
    rng = random.Random(9)
    long_prompt = make_example(rng, 900)
    long_prompt["messages"][1]["content"] = "word " * 400  # the reply starts past max_seq_len
    no_reply = make_example(rng, 901)
    no_reply["messages"] = no_reply["messages"][:2]
    dataset = write_dataset(tmp_path / "dataset", n_train=40,
                        extra_train=[json.dumps(long_prompt), json.dumps(no_reply), "{not json"])
    manifest = run_train(pipeline_for(tiny_model_dir, epochs=3, learning_rate=3e-2), tmp_path / "run", dataset)
    out = tmp_path / "run" / "train"
    assert manifest.counts.to_json() == {"in": 43, "kept": 40, "rejected": 3}
    reasons = sorted(json.loads(line)["reason"] for line in (out / "rejects.jsonl").read_text().splitlines())
    assert reasons == ["invalid_json", "no_assistant_tokens", "too_long"]

    result = json.loads((out / "train_result.json").read_text())
    assert result["backend"] == "local" and result["method"] == "lora"
    assert result["adapter_dir"] == "adapter" and result["model_dir"] is None and result["model_id"] is None
    # How it encoded, for evaluate to do the same: the base tokenizer's template, the configured length.
    recorded = TrainResult.read(out)
    assert recorded.max_seq_len == 256 and recorded.chat_template == load_tokenizer(tiny_model_dir).chat_template
    assert (out / "adapter" / "adapter_config.json").is_file()
    assert (out / "adapter" / "tokenizer_config.json").is_file()
    assert (out / "loss.png").stat().st_size > 1000
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [m["step"] for m in metrics if "loss" in m]
    assert steps == list(range(1, result["metrics"]["steps"] + 1))
    assert all({"loss", "lr", "tokens_per_s", "epoch"} <= m.keys() for m in metrics if "loss" in m)
    assert sum(1 for m in metrics if "val_loss" in m) >= 3  # before, every 4 steps, after

    stats = manifest.stats
    assert 0.5 < stats["packing_efficiency"] <= 1.0
    assert stats["attention"] == "webtune_segments"  # per-example attention over packed rows on CPU
    assert stats["train_examples"] == 40 and stats["validation_examples"] == 8
    # Trained on random words, the model gets better at them than the random base model (not by
    # much: LoRA cannot change the tiny model's frozen final norm, which caps its logits).
    assert stats["val_loss"] < stats["base_val_loss"] - 0.05
    # The validation loss the stage reports is the evaluate-stage definition (encode_chat + NLL).
    assert result["metrics"]["val_loss"] == pytest.approx(stats["val_loss"])


def test_resume_after_a_kill_matches_an_uninterrupted_run(tmp_path, tiny_model_dir, monkeypatch):
    from webtune.train import loop

    dataset = write_dataset(tmp_path / "dataset", n_train=30)
    pipeline = pipeline_for(tiny_model_dir, epochs=2, save_steps=3, eval_steps=0)
    run_train(pipeline, tmp_path / "whole", dataset)
    whole = adapter_weights(tmp_path / "whole" / "train")

    original = loop.Trainer._train_step

    def killed_at_step_7(self, step):
        if step == 7:
            raise KeyboardInterrupt
        return original(self, step)

    monkeypatch.setattr(loop.Trainer, "_train_step", killed_at_step_7)
    with pytest.raises(KeyboardInterrupt):
        run_train(pipeline, tmp_path / "cut", dataset)
    assert read_manifest(tmp_path / "cut" / "train") is None
    work = tmp_path / "cut" / ".work" / "train"
    assert json.loads((work / "checkpoints" / "latest.json").read_text())["step"] == 6
    monkeypatch.setattr(loop.Trainer, "_train_step", original)

    # Resuming is the default: the same pipeline, run again, continues from step 6.
    manifest = run_train(pipeline, tmp_path / "cut", dataset)
    resumed = adapter_weights(tmp_path / "cut" / "train")
    assert resumed.keys() == whole.keys()
    for name in whole:
        assert (resumed[name] - whole[name]).abs().max() < 1e-5, name
    # Same losses step by step, and each step logged once.
    def losses(run):
        lines = (tmp_path / run / "train" / "metrics.jsonl").read_text().splitlines()
        return [(m["step"], m["loss"]) for m in map(json.loads, lines) if "loss" in m]
    assert [s for s, _ in losses("cut")] == [s for s, _ in losses("whole")]
    assert [l for _, l in losses("cut")] == pytest.approx([l for _, l in losses("whole")], rel=1e-4)
    # The summary's train loss (a mean of the last steps) counts the steps before the kill too.
    assert manifest.stats["train_loss"] == pytest.approx(
        read_manifest(tmp_path / "whole" / "train").stats["train_loss"], rel=1e-6)
    # The resume flag does not change the stage fingerprint (a finished run stays "unchanged").
    assert manifest.fingerprint == read_manifest(tmp_path / "whole" / "train").fingerprint


def kill_at_step(monkeypatch, step_to_kill: int) -> None:
    """Make training raise KeyboardInterrupt (as Ctrl-C would) when it reaches ``step_to_kill``."""
    from webtune.train import loop

    original = loop.Trainer._train_step

    def killed(self, step):
        if step == step_to_kill:
            raise KeyboardInterrupt
        return original(self, step)

    monkeypatch.setattr(loop.Trainer, "_train_step", killed)


def test_no_resume_starts_over_and_ignores_the_checkpoint(tmp_path, tiny_model_dir, monkeypatch, capsys):
    from webtune.train import checkpoint

    dataset = write_dataset(tmp_path / "dataset", n_train=12)
    pipeline = pipeline_for(tiny_model_dir, epochs=2, save_steps=2, eval_steps=0)
    with monkeypatch.context() as patch:
        kill_at_step(patch, 3)
        with pytest.raises(KeyboardInterrupt):
            run_train(pipeline, tmp_path / "run", dataset)
    assert checkpoint.latest_checkpoint(tmp_path / "run" / ".work" / "train") is not None
    monkeypatch.setattr(checkpoint, "load_checkpoint", lambda path: pytest.fail("resumed"))
    run_train(pipeline_for(tiny_model_dir, epochs=2, save_steps=2, eval_steps=0, resume=False),
              tmp_path / "run", dataset)
    assert "--no-resume: dropping the checkpoint" in " ".join(capsys.readouterr().err.split())
    lines = (tmp_path / "run" / "train" / "metrics.jsonl").read_text().splitlines()
    steps = [m["step"] for m in map(json.loads, lines) if "loss" in m]
    assert steps == list(range(1, len(steps) + 1))  # logged from the start, each step once


def test_by_default_a_checkpoint_of_other_settings_is_set_aside(tmp_path, tiny_model_dir, monkeypatch, capsys):
    from webtune.train import checkpoint

    dataset = write_dataset(tmp_path / "dataset", n_train=12)
    with monkeypatch.context() as patch:
        kill_at_step(patch, 5)
        with pytest.raises(KeyboardInterrupt):
            run_train(pipeline_for(tiny_model_dir, epochs=3, save_steps=2), tmp_path / "run", dataset)
    monkeypatch.setattr(checkpoint, "load_checkpoint", lambda path: pytest.fail("resumed"))
    manifest = run_train(pipeline_for(tiny_model_dir, epochs=3, save_steps=2, learning_rate=1e-4),
                         tmp_path / "run", dataset)
    assert manifest.counts.kept > 0
    assert "other data, settings or base model; starting over" in " ".join(capsys.readouterr().err.split())


def test_resume_refuses_a_checkpoint_of_other_settings(tmp_path, tiny_model_dir, monkeypatch):
    from webtune.train import loop

    dataset = write_dataset(tmp_path / "dataset", n_train=12)
    original = loop.Trainer._train_step
    monkeypatch.setattr(loop.Trainer, "_train_step",
                        lambda self, step: (_ for _ in ()).throw(KeyboardInterrupt) if step == 5
                        else original(self, step))
    with pytest.raises(KeyboardInterrupt):
        run_train(pipeline_for(tiny_model_dir, epochs=3, save_steps=2), tmp_path / "run", dataset)
    monkeypatch.setattr(loop.Trainer, "_train_step", original)
    other = pipeline_for(tiny_model_dir, epochs=3, save_steps=2, learning_rate=1e-4, resume=True)
    with pytest.raises(WebtuneError, match="other data, settings or base model"):
        run_train(other, tmp_path / "run", dataset)


def test_qlora_without_cuda_is_a_clear_message(tmp_path, tiny_model_dir, dataset_dir):
    with pytest.raises(WebtuneError, match="qlora.*needs a CUDA GPU.*use method: lora"):
        run_train(pipeline_for(tiny_model_dir, method="qlora", device="cpu"), tmp_path / "run", dataset_dir)


def test_full_fine_tuning_writes_a_model_and_merge_writes_both(tmp_path, tiny_model_dir, dataset_dir):
    from webtune.models import load_causal_lm

    run_train(pipeline_for(tiny_model_dir, method="full", max_steps=4, learning_rate=1e-2),
              tmp_path / "full", dataset_dir)
    result = json.loads((tmp_path / "full" / "train" / "train_result.json").read_text())
    assert result["adapter_dir"] is None and result["model_dir"] == "model"
    tuned = load_causal_lm(tmp_path / "full" / "train" / "model")
    base = load_causal_lm(tiny_model_dir)
    assert any((a - b).abs().max() > 0 for a, b in zip(tuned.parameters(), base.parameters()))
    stats = read_manifest(tmp_path / "full" / "train").stats
    assert stats["val_loss"] < stats["base_val_loss"] - 0.2  # all weights move: it learns fast

    run_train(pipeline_for(tiny_model_dir, max_steps=3, merge=True), tmp_path / "merged", dataset_dir)
    result = json.loads((tmp_path / "merged" / "train" / "train_result.json").read_text())
    assert (result["adapter_dir"], result["model_dir"]) == ("adapter", "model")
    merged = load_causal_lm(tmp_path / "merged" / "train" / "model")
    assert not any("lora" in name for name, _ in merged.named_parameters())


def test_early_stopping_stops_and_keeps_the_best_weights(tmp_path, tiny_model_dir, dataset_dir):
    # A huge learning rate makes validation loss rise after the first steps.
    manifest = run_train(pipeline_for(tiny_model_dir, epochs=5, learning_rate=0.5, eval_steps=2,
                                      warmup_ratio=0.0, early_stopping_patience=2),
                         tmp_path / "run", dataset_dir)
    stats = manifest.stats
    assert stats["early_stopped"] is True
    assert stats["steps"] < stats["total_steps"]
    assert stats["val_loss"] == pytest.approx(stats["best_val_loss"])


def test_gradient_checkpointing_trains_the_same_weights(tmp_path, tiny_model_dir, dataset_dir):
    plain = run_train(pipeline_for(tiny_model_dir, max_steps=3, eval_steps=0), tmp_path / "a", dataset_dir)
    checkpointed = run_train(pipeline_for(tiny_model_dir, max_steps=3, eval_steps=0,
                                          gradient_checkpointing=True), tmp_path / "b", dataset_dir)
    a, b = adapter_weights(tmp_path / "a" / "train"), adapter_weights(tmp_path / "b" / "train")
    for name in a:
        assert (a[name] - b[name]).abs().max() < 1e-5, name
    assert plain.stats["train_loss"] == pytest.approx(checkpointed.stats["train_loss"], rel=1e-5)
    from webtune.train.backends.local_config import LocalTrainConfig
    from webtune.train.modeling import load_for_training

    model = load_for_training(tiny_model_dir, LocalTrainConfig(gradient_checkpointing=True), "cpu", "no")
    assert model.get_base_model().is_activation_checkpointing


def test_without_packing_padded_batches_train_too(tmp_path, tiny_model_dir, dataset_dir):
    """packing: false feeds padded batches with an attention mask (SDPA's path, not the segments')."""
    manifest = run_train(pipeline_for(tiny_model_dir, packing=False, batch_size=4, epochs=2,
                                      learning_rate=3e-2), tmp_path / "run", dataset_dir)
    stats = manifest.stats
    assert stats["rows"] is None and stats["packing_efficiency"] is None
    assert stats["steps"] == 20  # 40 examples in batches of 4, twice
    metrics = [json.loads(line) for line in (tmp_path / "run" / "train" / "metrics.jsonl").read_text().splitlines()]
    assert all(m["padding_fraction"] > 0 for m in metrics if "loss" in m)
    assert stats["val_loss"] < stats["base_val_loss"] - 0.05


def test_a_custom_chat_template_is_saved_with_the_adapter_and_the_merged_model(tmp_path, tiny_model_dir, dataset_dir):
    """Chat, serve and export load the tokenizer saved by training: it must render as training did."""
    custom = load_tokenizer(tiny_model_dir).chat_template + "{# trained with webtune #}"
    run_train(pipeline_for(tiny_model_dir, max_steps=2, eval_steps=0, merge=True, chat_template=custom),
              tmp_path / "run", dataset_dir)
    for folder in ("adapter", "model"):
        assert load_tokenizer(tmp_path / "run" / "train" / folder).chat_template == custom, folder


def test_bf16_on_cpu_trains_and_saves_an_fp32_adapter(tmp_path, tiny_model_dir):
    """`train.precision: bf16` on CPU end to end: the stage trains (a bf16 base, fp32 adapter),
    records its precision, learns, and saves an fp32 adapter that loads on the fp32 base."""
    import torch

    dataset = write_dataset(tmp_path / "dataset", n_train=24)
    pipeline = pipeline_for(tiny_model_dir, epochs=2, learning_rate=3e-2, precision="bf16", device="cpu",
                            lora={"r": 4, "alpha": 8, "dropout": 0.0})
    manifest = run_train(pipeline, tmp_path / "run", dataset)
    stats = manifest.stats
    assert stats["mixed_precision"] == "bf16"
    assert stats["val_loss"] < stats["base_val_loss"] - 0.05
    weights = adapter_weights(tmp_path / "run" / "train")
    assert weights and all(w.dtype == torch.float32 for w in weights.values())
    assert max(float(w.abs().max()) for name, w in weights.items() if "lora_B" in name) > 1e-3


def test_an_earlier_accelerator_in_the_process_does_not_block_another_precision(tmp_path, tiny_model_dir):
    """Another library's trainer (TRL's, in the same notebook) leaves accelerate's process-wide
    state at its precision; webtune's run starts from its own settings anyway."""
    from accelerate import Accelerator

    Accelerator(cpu=True, mixed_precision="no")  # as TRL's Trainer leaves it
    dataset = write_dataset(tmp_path / "dataset", n_train=8)
    pipeline = pipeline_for(tiny_model_dir, max_steps=2, precision="bf16", device="cpu")
    manifest = run_train(pipeline, tmp_path / "run", dataset)
    assert manifest.stats["mixed_precision"] == "bf16"
