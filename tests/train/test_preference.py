"""Preference tuning (DPO, ORPO, KTO) in the local trainer, on the tiny model.

Losses are checked against hand computations: log-probabilities of each answer from a plain
forward pass of the model (one sequence at a time, no packing), put into the papers' formulas.
"""

from __future__ import annotations

import json
import math

import pytest

from tests.train.helpers import pipeline_for, run_train, write_dataset, write_preference
from webtune.errors import WebtuneError

BETA = 0.1
LORA = {"r": 4, "alpha": 8, "dropout": 0.0}  # no dropout: the training forward equals a plain one


def read_rows(path, phase=None):
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return [r for r in rows if phase is None or r.get("phase") == phase]


def step_row(rows, step):
    return next(r for r in rows if r["step"] == step and "loss" in r)


def answer_logp(model, tokenizer, prompt, answer):
    """Summed log-probability of ``answer``'s assistant tokens after ``prompt`` (and their count)."""
    import torch

    from webtune.chat_format import encode_chat

    enc = encode_chat(tokenizer, [*prompt, {"role": "assistant", "content": answer}])
    ids = torch.tensor([enc["input_ids"]])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0].float()
    token_logp = torch.log_softmax(logits[:-1], dim=-1).gather(1, ids[0, 1:, None])[:, 0]
    mask = torch.tensor(enc["labels"][1:]) != -100
    return float(token_logp[mask].sum()), int(mask.sum())


def base_model(model_dir):
    import torch
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32).eval()


def with_lora_state(model_dir, state):
    """The base model with a LoRA adapter (the test's r/alpha) holding ``state``."""
    import torch
    from peft import LoraConfig, get_peft_model

    from webtune.train.modeling import default_target_modules

    model = base_model(model_dir)
    model = get_peft_model(model, LoraConfig(r=LORA["r"], lora_alpha=LORA["alpha"], lora_dropout=0.0,
                                             target_modules=default_target_modules("llama"),
                                             task_type="CAUSAL_LM"))
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in state.items():
            params[name].copy_(value)
    return model.eval()


def with_adapter(model_dir, adapter_dir):
    from peft import PeftModel

    return PeftModel.from_pretrained(base_model(model_dir), str(adapter_dir)).eval()


def records(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def snapshots(monkeypatch):
    """The trainable weights at the start of every preference step (a spy on the real loop)."""
    from webtune.train.modeling import trainable_state
    from webtune.train.preference import PreferenceTrainer

    taken = {}
    original = PreferenceTrainer._train_step

    def spy(self, step):
        taken[step] = trainable_state(self.accelerator.unwrap_model(self.model))
        return original(self, step)

    monkeypatch.setattr(PreferenceTrainer, "_train_step", spy)
    return taken


def test_dpo_step_loss_matches_a_hand_computation_on_two_pairs(tmp_path, tiny_model_dir, snapshots):
    from webtune.models import load_tokenizer

    dataset = write_preference(tmp_path / "dataset", n_train=2, n_val=2, seed=5)
    pipeline = pipeline_for(tiny_model_dir, supervised=False, lora=LORA, eval_steps=0,
                            preference={"method": "dpo", "beta": BETA, "batch_size": 2, "max_steps": 2,
                                        "epochs": 2, "learning_rate": 0.05, "warmup_ratio": 0.0})
    run_train(pipeline, tmp_path / "run", dataset)
    rows = read_rows(tmp_path / "run" / "train" / "metrics.jsonl", "dpo")
    # Step 1: the policy is the reference (LoRA starts as a no-op), so every pair's loss is log 2.
    assert step_row(rows, 1)["loss"] == pytest.approx(math.log(2), abs=1e-6)

    # Step 2, by hand: the reference is the base model, the policy the weights after step 1.
    tokenizer = load_tokenizer(tiny_model_dir)
    reference, policy = base_model(tiny_model_dir), with_lora_state(tiny_model_dir, snapshots[1])
    losses, margins = [], []
    for pair in records(dataset / "preference_train.jsonl"):
        pc, _ = answer_logp(policy, tokenizer, pair["prompt"], pair["chosen"])
        pr, _ = answer_logp(policy, tokenizer, pair["prompt"], pair["rejected"])
        rc, _ = answer_logp(reference, tokenizer, pair["prompt"], pair["chosen"])
        rr, _ = answer_logp(reference, tokenizer, pair["prompt"], pair["rejected"])
        margin = BETA * ((pc - rc) - (pr - rr))
        margins.append(margin)
        losses.append(math.log1p(math.exp(-margin)))  # -logsigmoid(margin)
    assert min(abs(m) for m in margins) > 1e-3  # the policy has moved: a real check, not log 2 again
    step2 = step_row(rows, 2)
    assert step2["loss"] == pytest.approx(sum(losses) / 2, abs=2e-5)
    assert step2["rewards/margins"] == pytest.approx(sum(margins) / 2, abs=2e-5)
    assert step2["rewards/accuracies"] == sum(m > 0 for m in margins) / 2


def test_orpo_loss_matches_a_hand_computation(tmp_path, tiny_model_dir):
    from webtune.models import load_tokenizer

    dataset = write_preference(tmp_path / "dataset", n_train=2, n_val=2, seed=6)
    pipeline = pipeline_for(tiny_model_dir, supervised=False, lora=LORA, eval_steps=0,
                            preference={"method": "orpo", "beta": 0.25, "batch_size": 2, "max_steps": 1})
    run_train(pipeline, tmp_path / "run", dataset)
    first = step_row(read_rows(tmp_path / "run" / "train" / "metrics.jsonl", "orpo"), 1)

    # No reference in ORPO; at step 1 the policy is the base model (LoRA starts as a no-op).
    tokenizer, model = load_tokenizer(tiny_model_dir), base_model(tiny_model_dir)
    nll, chosen_tokens, odds_terms, log_odds_all = 0.0, 0, [], []
    for pair in records(dataset / "preference_train.jsonl"):
        pc, nc = answer_logp(model, tokenizer, pair["prompt"], pair["chosen"])
        pr, nr = answer_logp(model, tokenizer, pair["prompt"], pair["rejected"])
        nll, chosen_tokens = nll - pc, chosen_tokens + nc
        mc, mr = pc / nc, pr / nr  # mean log-probability per token
        log_odds = (mc - math.log1p(-math.exp(mc))) - (mr - math.log1p(-math.exp(mr)))
        log_odds_all.append(log_odds)
        odds_terms.append(0.25 * math.log1p(math.exp(-log_odds)))  # -beta * logsigmoid(log_odds)
    expected_nll = nll / chosen_tokens
    assert first["nll_loss"] == pytest.approx(expected_nll, abs=2e-5)
    assert first["log_odds_ratio"] == pytest.approx(sum(log_odds_all) / 2, abs=2e-5)
    assert first["loss"] == pytest.approx(expected_nll + sum(odds_terms) / 2, abs=2e-5)
    assert first["loss"] > expected_nll + 0.1  # the odds-ratio term is really in the loss


def test_kto_trains_on_unpaired_desirable_and_undesirable_answers(tmp_path, tiny_model_dir):
    dataset = write_preference(tmp_path / "dataset", n_train=24, n_val=9, unpaired=True, seed=2)
    pipeline = pipeline_for(tiny_model_dir, supervised=False, lora=LORA, eval_steps=0,
                            preference={"method": "kto", "beta": 0.5, "batch_size": 4, "epochs": 3,
                                        "learning_rate": 0.03, "undesirable_weight": 2.0})
    manifest = run_train(pipeline, tmp_path / "run", dataset)
    assert manifest.counts.to_json() == {"in": 24, "kept": 24, "rejected": 0}
    rows = read_rows(tmp_path / "run" / "train" / "metrics.jsonl", "kto")
    steps = [r for r in rows if "loss" in r]
    assert len(steps) == 18 and all("kl" in r and r["kl"] >= 0 for r in steps)
    # At the start policy = reference: every answer's loss is w * (1 - sigmoid(0)); 6 of the 9
    # validation answers are desirable (weight 1), 3 undesirable (weight 2).
    stats = manifest.stats
    assert stats["preference_base_val_loss"] == pytest.approx((6 * 0.5 + 3 * 1.0) / 9, abs=1e-6)
    assert stats["preference_val_loss"] < stats["preference_base_val_loss"] - 0.02
    last_val = [r for r in rows if "val_loss" in r][-1]
    assert last_val["val_rewards/chosen"] > 0 > last_val["val_rewards/rejected"]


def test_dpo_improves_validation_preference_accuracy_on_an_easy_set(tmp_path, tiny_model_dir):
    dataset = write_preference(tmp_path / "dataset", n_train=32, n_val=12, seed=1)
    pipeline = pipeline_for(tiny_model_dir, supervised=False, lora=LORA, eval_steps=0,
                            preference={"method": "dpo", "beta": 0.5, "batch_size": 4, "epochs": 3,
                                        "learning_rate": 0.05})
    manifest = run_train(pipeline, tmp_path / "run", dataset)
    stats = manifest.stats
    # The random base model finds the chosen answer likelier in 7 of the 12 validation pairs;
    # after DPO in 10 (the tiny model's frozen final norm caps how far LoRA can move it).
    assert stats["preference_base_val_preference_accuracy"] == pytest.approx(7 / 12)
    assert stats["preference_val_preference_accuracy"] >= 10 / 12
    assert stats["preference_val_reward_accuracy"] >= 11 / 12
    assert stats["preference_val_reward_margin"] > 0.5
    assert stats["preference_val_loss"] < 0.5 < stats["preference_base_val_loss"]
    result = json.loads((tmp_path / "run" / "train" / "train_result.json").read_text())
    assert result["objective"] == "dpo" and result["adapter_dir"] == "adapter"
    assert (tmp_path / "run" / "train" / "tensorboard" / "dpo").is_dir()


def chain_pipeline(model_dir, **extra):
    return pipeline_for(model_dir, epochs=1, lora=LORA, eval_steps=0, learning_rate=0.03,
                        preference={"method": "dpo", "beta": BETA, "batch_size": 4, "epochs": 2,
                                    "learning_rate": 0.02}, **extra)


def test_chained_dpo_starts_from_the_supervised_adapter(tmp_path, tiny_model_dir):
    from webtune.models import load_tokenizer

    dataset = write_dataset(tmp_path / "dataset", n_train=12, n_val=4)
    write_preference(dataset, n_train=4, n_val=4, seed=3)
    manifest = run_train(chain_pipeline(tiny_model_dir), tmp_path / "run", dataset)
    out = tmp_path / "run" / "train"
    assert json.loads((out / "train_result.json").read_text())["objective"] == "sft+dpo"
    assert manifest.counts.to_json() == {"in": 16, "kept": 16, "rejected": 0}
    rows = read_rows(out / "metrics.jsonl")
    assert {r.get("phase") for r in rows} == {None, "dpo"}  # supervised rows, then dpo rows
    first = step_row([r for r in rows if r.get("phase") == "dpo"], 1)

    # Step 1 of DPO sees all 4 pairs: its policy log-probabilities are the supervised adapter's.
    tokenizer = load_tokenizer(tiny_model_dir)
    sft, base = with_adapter(tiny_model_dir, out / "sft_adapter"), base_model(tiny_model_dir)
    pairs = records(dataset / "preference_train.jsonl")
    sft_chosen = sum(answer_logp(sft, tokenizer, p["prompt"], p["chosen"])[0] for p in pairs) / 4
    base_chosen = sum(answer_logp(base, tokenizer, p["prompt"], p["chosen"])[0] for p in pairs) / 4
    assert first["logps/chosen"] == pytest.approx(sft_chosen, abs=1e-4)
    # The supervised phase moved them by about 0.1 nats (the tolerance above is 1e-4).
    assert abs(sft_chosen - base_chosen) > 0.05
    assert first["loss"] == pytest.approx(math.log(2), abs=1e-6)  # the reference is that adapter too
    # The final adapter is DPO's: it differs from the supervised one.
    from safetensors.torch import load_file

    final = load_file(str(out / "adapter" / "adapter_model.safetensors"))
    before = load_file(str(out / "sft_adapter" / "adapter_model.safetensors"))
    assert max(float((final[k] - before[k]).abs().max()) for k in final) > 1e-3


def test_resume_mid_dpo_gives_the_same_adapter_as_an_uninterrupted_run(tmp_path, tiny_model_dir, monkeypatch):
    from safetensors.torch import load_file

    from webtune.train import loop
    from webtune.train.preference import PreferenceTrainer

    dataset = write_dataset(tmp_path / "dataset", n_train=8, n_val=2)
    write_preference(dataset, n_train=16, n_val=4, seed=4)
    pipeline = chain_pipeline(tiny_model_dir, save_steps=3)
    run_train(pipeline, tmp_path / "whole", dataset)
    whole = load_file(str(tmp_path / "whole" / "train" / "adapter" / "adapter_model.safetensors"))

    original = PreferenceTrainer._train_step

    def killed_at_step_5(self, step):
        if step == 5:
            raise KeyboardInterrupt
        return original(self, step)

    monkeypatch.setattr(PreferenceTrainer, "_train_step", killed_at_step_5)
    with pytest.raises(KeyboardInterrupt):
        run_train(pipeline, tmp_path / "killed", dataset)
    supervised_steps, preference_steps = [], []
    sft_step = loop.Trainer._train_step
    monkeypatch.setattr(loop.Trainer, "_train_step",
                        lambda self, step: supervised_steps.append(step) or sft_step(self, step))
    monkeypatch.setattr(PreferenceTrainer, "_train_step",
                        lambda self, step: preference_steps.append(step) or original(self, step))
    run_train(pipeline, tmp_path / "killed", dataset)
    resumed = load_file(str(tmp_path / "killed" / "train" / "adapter" / "adapter_model.safetensors"))
    # The supervised phase had finished: not run again; DPO went on from its step-3 checkpoint.
    assert supervised_steps == [] and preference_steps == [3, 4, 5, 6, 7]
    assert whole.keys() == resumed.keys()
    for name in whole:
        assert float((whole[name] - resumed[name]).abs().max()) < 1e-6, name
    rows = read_rows(tmp_path / "killed" / "train" / "metrics.jsonl", "dpo")
    assert [r["step"] for r in rows if "loss" in r] == list(range(1, 9))


def test_init_adapter_starts_preference_tuning_from_a_trained_adapter(tmp_path, tiny_model_dir):
    from webtune.models import load_tokenizer

    dataset = write_dataset(tmp_path / "dataset", n_train=12, n_val=4)
    write_preference(dataset, n_train=4, n_val=2, seed=8)
    run_train(pipeline_for(tiny_model_dir, epochs=1, lora=LORA, learning_rate=0.03), tmp_path / "sft", dataset)
    adapter = tmp_path / "sft" / "train" / "adapter"
    pipeline = pipeline_for(tiny_model_dir, supervised=False, init_adapter=str(adapter), eval_steps=0,
                            preference={"method": "dpo", "batch_size": 4, "max_steps": 1})
    run_train(pipeline, tmp_path / "dpo", dataset)
    first = step_row(read_rows(tmp_path / "dpo" / "train" / "metrics.jsonl", "dpo"), 1)
    tokenizer, model = load_tokenizer(tiny_model_dir), with_adapter(tiny_model_dir, adapter)
    pairs = records(dataset / "preference_train.jsonl")
    expected = sum(answer_logp(model, tokenizer, p["prompt"], p["rejected"])[0] for p in pairs) / 4
    assert first["logps/rejected"] == pytest.approx(expected, abs=1e-4)


def test_init_adapter_of_another_base_model_is_refused(tmp_path, tiny_model_dir):
    from webtune.models.tiny import build_tiny_model

    dataset = write_dataset(tmp_path / "dataset", n_train=12, n_val=2)
    other = build_tiny_model(tmp_path / "other-model")
    run_train(pipeline_for(other, max_steps=1), tmp_path / "other", dataset)
    pipeline = pipeline_for(tiny_model_dir, init_adapter=str(tmp_path / "other" / "train" / "adapter"))
    with pytest.raises(WebtuneError, match="train.init_adapter: .* was trained on .*other-model"):
        run_train(pipeline, tmp_path / "run", dataset)


def test_bad_preference_records_are_rejected_with_reasons(tmp_path, tiny_model_dir):
    pair = {"prompt": [{"role": "user", "content": "Describe a pen"}]}
    extra = [json.dumps({**pair, "completion": "a pen", "desirable": True}),  # KTO record, DPO run
             json.dumps({**pair, "chosen": "same", "rejected": "same"}),
             json.dumps({"prompt": "not a list", "chosen": "a", "rejected": "b"}),
             json.dumps({**pair, "chosen": "fine " * 300, "rejected": "b"}),  # reply past max_seq_len
             "{broken"]
    long_prompt = {"prompt": [{"role": "user", "content": "word " * 400}], "chosen": "a", "rejected": "b"}
    dataset = write_preference(tmp_path / "dataset", n_train=6, n_val=2, extra_train=extra + [json.dumps(long_prompt)])
    pipeline = pipeline_for(tiny_model_dir, supervised=False, eval_steps=0,
                            preference={"method": "dpo", "batch_size": 2, "max_steps": 1})
    manifest = run_train(pipeline, tmp_path / "run", dataset)
    assert manifest.counts.to_json() == {"in": 12, "kept": 7, "rejected": 5}
    reasons = sorted(r["reason"] for r in records(tmp_path / "run" / "train" / "rejects.jsonl"))
    assert reasons == ["invalid_json", "invalid_preference_example", "not_a_pair", "same_answers", "too_long"]
    assert manifest.stats["preference_truncated"] == 1  # the long chosen answer was cut, not dropped


def test_full_fine_tuning_dpo_writes_a_model(tmp_path, tiny_model_dir):
    dataset = write_preference(tmp_path / "dataset", n_train=8, n_val=4, seed=9)
    pipeline = pipeline_for(tiny_model_dir, supervised=False, method="full", eval_steps=0,
                            preference={"method": "dpo", "batch_size": 4, "epochs": 2, "learning_rate": 1e-3})
    manifest = run_train(pipeline, tmp_path / "run", dataset)
    result = json.loads((tmp_path / "run" / "train" / "train_result.json").read_text())
    assert result["model_dir"] == "model" and result["adapter_dir"] is None
    assert (tmp_path / "run" / "train" / "model" / "config.json").is_file()
    assert manifest.stats["preference_val_loss"] < manifest.stats["preference_base_val_loss"]


def test_preference_config_errors_name_the_field(tiny_model_dir):
    from webtune.errors import ConfigError

    with pytest.raises(ConfigError, match="supervised: false leaves nothing to train"):
        pipeline_for(tiny_model_dir, supervised=False)
    with pytest.raises(ConfigError, match="train.preference.method"):
        pipeline_for(tiny_model_dir, preference={"method": "ppo"})
    with pytest.raises(ConfigError, match="train.preference.beta"):
        pipeline_for(tiny_model_dir, preference={"beta": 0})


def test_reference_log_probs_are_computed_only_for_the_pairs_the_run_trains_on(tmp_path, tiny_model_dir, monkeypatch):
    from webtune.train.preference import PreferenceTrainer

    dataset = write_preference(tmp_path / "dataset", n_train=20, n_val=2, seed=2)
    seen = {}
    original = PreferenceTrainer._setup

    def keep(self):
        original(self)
        seen["ref"] = self.ref_train.clone()
        seen["used"] = {self.units[u][0] for step in range(3) for batch in self.plan.micro_batches(step)
                        for u in batch}

    monkeypatch.setattr(PreferenceTrainer, "_setup", keep)
    pipeline = pipeline_for(tiny_model_dir, supervised=False, eval_steps=0,
                            preference={"method": "dpo", "batch_size": 2, "max_steps": 3})
    run_train(pipeline, tmp_path / "run", dataset)
    computed = {i for i in range(20) if not seen["ref"][i].isnan().any()}
    assert len(seen["used"]) == 6 and computed == seen["used"]  # 3 steps x 2 pairs of the 20
