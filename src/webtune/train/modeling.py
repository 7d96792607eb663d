"""Loading the base model for a training method (LoRA, QLoRA, full) and saving what was trained."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path
from typing import Any

from webtune.errors import ConfigError, WebtuneError
from webtune.models.prepare import progress_bars

# LoRA on every linear projection of attention and MLP (what QLoRA's paper found best), per
# architecture; architectures not listed fall back to PEFT's "all-linear".
_LLAMA_LIKE = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
DEFAULT_TARGET_MODULES: dict[str, list[str]] = {
    **{name: _LLAMA_LIKE for name in (
        "llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "gemma", "gemma2",
        "gemma3_text", "phi3", "olmo", "olmo2", "granite", "smollm3", "cohere")},
    "gpt2": ["c_attn", "c_proj", "c_fc"],
    "gpt_neox": ["query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"],
    "gptj": ["q_proj", "k_proj", "v_proj", "out_proj", "fc_in", "fc_out"],
    "phi": ["q_proj", "k_proj", "v_proj", "dense", "fc1", "fc2"],
    "falcon": ["query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"],
    "bloom": ["query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"],
    "opt": ["q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"],
}


def default_target_modules(model_type: str) -> list[str] | str:
    """LoRA target modules for a transformers ``model_type`` ("all-linear" when unknown)."""
    return DEFAULT_TARGET_MODULES.get(model_type, "all-linear")


def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bf16 matrices natively (AVX512-BF16 or AMX-BF16).

    There, bf16 products run several times faster than fp32 ones (4.8x for SmolLM2's shapes on
    one core of an AMD EPYC with AVX512-BF16, bench/RESULTS.md); elsewhere bf16 is emulated and slower.
    """
    import torch

    capabilities = torch.cpu.get_capabilities() if hasattr(torch.cpu, "get_capabilities") else {}
    return bool(capabilities.get("avx512_bf16") or capabilities.get("amx_bf16"))


def precision_tip(requested: str, device: str, method: str) -> str | None:
    """A one-line suggestion when ``train.precision: auto`` leaves a LoRA run in fp32 on a CPU
    that multiplies bf16 natively (where bf16 trains about twice as fast), else None."""
    if requested != "auto" or device != "cpu" or method != "lora" or not cpu_has_native_bf16():
        return None
    return ("tip: this CPU multiplies bf16 natively (AVX512-BF16/AMX): train.precision: bf16 trains "
            "LoRA about 2x faster here (frozen base in bf16, the adapter in fp32; see docs/pipeline.md)")


def pick_precision(requested: str, device: str) -> str:
    """Accelerate's mixed-precision mode: ``no`` (fp32), ``bf16`` or ``fp16``.

    ``auto`` is bf16 on a CUDA GPU that supports it and fp32 elsewhere: a CPU run stays in fp32
    unless asked, so the same configuration gives the same numbers on every CPU (`precision_tip`
    suggests bf16 where the CPU multiplies it natively).
    """
    import torch

    if requested == "auto":
        return "bf16" if device == "cuda" and torch.cuda.is_bf16_supported() else "no"
    if requested == "fp16" and device == "cpu":
        raise ConfigError("train.precision: fp16 needs a CUDA GPU; use bf16 or fp32 on CPU")
    return {"fp32": "no"}.get(requested, requested)


def check_qlora_possible(device: str) -> None:
    """QLoRA needs a CUDA GPU and bitsandbytes; say so clearly instead of crashing."""
    if device != "cuda":
        raise WebtuneError(
            "train.method: qlora loads the base model in 4 bits with bitsandbytes, which needs a "
            "CUDA GPU, and this machine has none; use method: lora (the same adapter on a "
            "full-precision base model) or run on a machine with an NVIDIA GPU"
        )
    if importlib.util.find_spec("bitsandbytes") is None:
        raise WebtuneError(
            "train.method: qlora needs the bitsandbytes package; install it with: "
            "pip install bitsandbytes"
        )


def attention_implementation(device: str, model_config: Any = None) -> str:
    """The attention that skips what a packed row's block-diagonal mask blocks, where there is one.

    On CUDA, FlashAttention 2 (varlen) when installed; on CPU, webtune's per-example causal SDPA
    (`webtune.train.segment_attention`) for plain causal models; transformers' SDPA otherwise.
    """
    if device == "cuda" and importlib.util.find_spec("flash_attn") is not None:
        return "flash_attention_2"
    if device == "cpu" and model_config is not None:
        from webtune.train import segment_attention

        if segment_attention.supports_segments(model_config):
            return segment_attention.register()
    return "sdpa"


def load_for_training(base_path: Path, config: Any, device: str, precision: str,
                      device_index: int = 0, attention: str | None = None, fused_lora: bool = True,
                      init: Path | None = None) -> Any:
    """The base model ready for ``config.method``: LoRA/QLoRA adapters added, or all weights trainable.

    ``precision`` is accelerate's mixed-precision mode; ``device_index`` the GPU of this process
    (QLoRA quantizes the weights straight onto it); ``attention`` a transformers attention
    implementation instead of `attention_implementation`'s choice (the benchmark's baseline);
    ``fused_lora`` False keeps PEFT's own LoRA forward (see `webtune.train.fused_lora`).
    ``init``: start from this adapter directory (LoRA/QLoRA: trained further, with its own
    shape) or model directory (full: loaded instead of the base) rather than from scratch.
    """
    if init is not None and config.method == "full":
        base_path = init
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    if attention is None:
        model_config = AutoConfig.from_pretrained(str(base_path), local_files_only=True)
        attention = attention_implementation(device, model_config)
    kwargs: dict[str, Any] = {"local_files_only": True, "attn_implementation": attention}
    half = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    if config.method == "qlora":
        check_qlora_possible(device)
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=half or torch.bfloat16)
        kwargs["dtype"] = half or torch.bfloat16
        kwargs["device_map"] = {"": device_index}
    elif config.method == "lora" and half is not None:
        kwargs["dtype"] = half  # frozen base in half precision; adapters stay fp32 (PEFT)
    else:
        kwargs["dtype"] = torch.float32  # full fine-tuning keeps fp32 master weights
    with progress_bars(False):  # the stage shows its own progress
        model = AutoModelForCausalLM.from_pretrained(str(base_path), **kwargs)
    model.config.use_cache = False
    if config.method == "qlora":
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=config.gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False})
    elif config.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if config.method in ("lora", "qlora"):
        if init is None and getattr(config, "init_adapter", None):
            init = Path(config.init_adapter)
        model = continue_adapter(model, init) if init is not None else add_lora(model, config.lora)
    if fused_lora and config.method == "lora" and device == "cpu" and precision in ("no", "bf16"):
        from webtune.train import fused_lora

        fused_lora.install(model)  # one product per LoRA layer (see fused_lora)
    return model


def continue_adapter(model: Any, adapter_dir: Path) -> Any:
    """Wrap ``model`` with the trainable LoRA adapter saved in ``adapter_dir`` (continued training;
    its r, alpha and target modules are the adapter's own)."""
    from peft import PeftModel

    if not (adapter_dir / "adapter_config.json").is_file():
        raise ConfigError(f"train.init_adapter: {adapter_dir} holds no LoRA adapter (adapter_config.json)")
    with warnings.catch_warnings():  # a deprecation inside PEFT, not ours to act on
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
        return PeftModel.from_pretrained(model, str(adapter_dir), is_trainable=True)


def add_lora(model: Any, lora: Any) -> Any:
    """Wrap ``model`` with a LoRA adapter (PEFT); only the adapter weights are trainable."""
    from peft import LoraConfig, get_peft_model

    targets = lora.target_modules or default_target_modules(model.config.model_type)
    peft_config = LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                             target_modules=targets, bias="none", task_type="CAUSAL_LM")
    try:
        with warnings.catch_warnings():  # a deprecation inside PEFT, not ours to act on
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
            return get_peft_model(model, peft_config)
    except ValueError as exc:  # PEFT: "Target modules {...} not found in the base model"
        raise ConfigError(f"train.lora.target_modules: {exc}") from None


def trainable_state(model: Any) -> dict[str, Any]:
    """The trainable parameters (the adapter for LoRA), detached copies on CPU."""
    return {n: p.detach().to("cpu", copy=True) for n, p in model.named_parameters() if p.requires_grad}


def load_trainable_state(model: Any, state: dict[str, Any]) -> None:
    """Copy ``state`` (from `trainable_state`) back into the model's parameters."""
    import torch

    params = dict(model.named_parameters())
    missing = [n for n in state if n not in params]
    if missing:
        raise WebtuneError(f"checkpoint does not match the model: unknown weights {missing[:3]}")
    with torch.no_grad():
        for name, value in state.items():
            params[name].copy_(value.to(params[name].device, params[name].dtype))


def save_trained(model: Any, tokenizer: Any, out_dir: Path, method: str, base_path: Path,
                 merge: bool, state_dict: dict[str, Any] | None = None,
                 chat_template: str | None = None) -> dict[str, str | None]:
    """Save the adapter (LoRA/QLoRA) and/or the full model; return their directory names.

    The tokenizer (with its chat template) goes next to each, so either directory can be
    loaded on its own. ``chat_template`` (``train.chat_template``) replaces the base
    tokenizer's template there, so chat, serve and export render as training did.
    ``merge`` also writes the base model with the adapter merged in.
    ``state_dict`` is the gathered full state of a sharded (FSDP/DeepSpeed) model.
    """
    if chat_template:
        tokenizer.chat_template = chat_template
    dirs: dict[str, str | None] = {"adapter_dir": None, "model_dir": None}
    if method == "full":
        model.save_pretrained(out_dir / "model", state_dict=state_dict)
        tokenizer.save_pretrained(out_dir / "model")
        dirs["model_dir"] = "model"
        return dirs
    model.save_pretrained(out_dir / "adapter", state_dict=state_dict)
    tokenizer.save_pretrained(out_dir / "adapter")
    dirs["adapter_dir"] = "adapter"
    if merge:
        merged = merge_adapter(base_path, out_dir / "adapter")
        merged.save_pretrained(out_dir / "model")
        tokenizer.save_pretrained(out_dir / "model")
        dirs["model_dir"] = "model"
    return dirs


def merge_adapter(base_path: Path, adapter_dir: Path) -> Any:
    """The base model (fp32, on CPU) with the adapter in ``adapter_dir`` merged into its weights.

    Reloading the base in full precision (rather than merging into the training copy) makes
    merging exact for QLoRA too, whose training copy is 4-bit.
    """
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    with progress_bars(False):
        base = AutoModelForCausalLM.from_pretrained(str(base_path), dtype=torch.float32,
                                                    local_files_only=True)
    return PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
