"""HF export: merged safetensors that answer like the merged model, stop tokens, and the model card."""

from __future__ import annotations

import json

import yaml

from webtune.export.roundtrip import greedy, prompt_ids
from webtune.export.source import ExportSource


def test_hf_directory_loads_back_and_answers_like_the_merged_model(exported, tiny_version):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    registry, out = exported[0], exported[1] / "hf"
    assert (out / "model.safetensors").is_file() and not (out / "adapter_config.json").exists()
    model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(out)
    source = ExportSource.open(tiny_version[1].label, registry, max_new_tokens=12)
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    prompt = prompt_ids(tokenizer, messages)
    assert prompt == prompt_ids(source.tokenizer, messages)
    stops = source.stop_ids()
    assert greedy(model, prompt, stops, 12, tokenizer) == greedy(source.model, prompt, stops, 12, source.tokenizer)
    base = AutoModelForCausalLM.from_pretrained(source.ref.model_path, dtype=torch.float32)
    name = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(model.state_dict()[name], base.state_dict()[name])  # the LoRA is merged in


def test_generation_config_stops_at_the_end_of_turn(exported, tiny_model_dir):
    from transformers import AutoTokenizer

    config = json.loads((exported[1] / "hf" / "generation_config.json").read_text())
    im_end = AutoTokenizer.from_pretrained(tiny_model_dir).convert_tokens_to_ids("<|im_end|>")
    eos = config["eos_token_id"]
    assert im_end in (eos if isinstance(eos, list) else [eos])


def test_model_card_front_matter_holds_lineage_data_training_and_evaluation(exported, tiny_version):
    text = (exported[1] / "hf" / "README.md").read_text()
    assert text.startswith("---\n")
    front = yaml.safe_load(text.split("---\n")[1])
    card = front["webtune"]
    assert front["pipeline_tag"] == "text-generation" and "<|im_end|>" in front["stop_tokens"]
    assert card["model"] == "tiny@1" and card["weights_sha256"] == tiny_version[1].weights_sha256
    assert card["lineage"]["stages"]["train"] == "t" * 16 and card["lineage"]["data_sha256"]["dataset"]
    assert card["data_counts"]["dataset"] == {"in": 10, "kept": 8, "rejected": 2}
    assert card["training"]["config"]["epochs"] == 1 and card["training"]["seed"] == 7 and card["training"]["metrics"]["train_loss"] == 6.2
    assert card["evaluation"]["rows"][0]["metric"] == "loss" and card["evaluation"]["metrics"]["tuned"]["loss"] == 6.1
    assert "| loss | 6.6000 | 6.1000 | -0.5000 |" in text
