"""The ``gguf`` exporter: the merged model as llama.cpp GGUF files (f16, q8_0), tokenizer and
chat template in the metadata, each proven by a round trip (`webtune.export.roundtrip`).

Written with the ``gguf`` package (the one llama.cpp's own converter uses): `GGUFWriter`, its
LLaMA tensor-name map and `gguf.quants.quantize`. What llama.cpp's ``convert_hf_to_gguf.py``
adds for LLaMA is done here too: q_proj/k_proj rows are permuted to its rotary layout (which
transformers' GGUF loader reverses), 1-D tensors stay f32, a tied output matrix is not written,
and a byte-level BPE vocabulary is stored as ``tokenizer.ggml.model = gpt2`` with its merges,
token types and pre-tokenizer name. Only architectures that llama.cpp and transformers both read
as ``llama`` are written; others are refused in one line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from webtune.errors import InputError
from webtune.export import EXPORTERS
from webtune.export.source import ExportOutput, ExportSource
from webtune.extras import Needs
from webtune.jsonl import atomic_path

Quantization = Literal["f16", "q8_0"]
SUPPORTED_ARCHITECTURES = {"LlamaForCausalLM": "llama"}
# q8_0 stores blocks of 32 values along a row.
Q8_BLOCK = 32


class GGUFExportConfig(BaseModel):
    """Write one GGUF file per quantization."""

    format: Literal["gguf"] = "gguf"
    quantizations: list[Quantization] = Field(default=["f16", "q8_0"], min_length=1)


@EXPORTERS.register("gguf")
class GGUFExporter:
    """The merged model as GGUF files, each checked by a round trip through transformers' GGUF loader."""

    Config = GGUFExportConfig
    needs = Needs("train", "torch", "transformers", "peft", "gguf")

    def __init__(self, config: GGUFExportConfig):
        self.config = config

    def export(self, source: ExportSource, out_dir: Path) -> ExportOutput:
        """Write ``<stem>-<quant>.gguf`` for each quantization and ``roundtrip.json`` beside them."""
        from webtune.export.roundtrip import check_gguf, write_report

        out_dir.mkdir(parents=True, exist_ok=True)
        files, reports = [], {}
        for quant in self.config.quantizations:
            path = write_gguf(source, out_dir / f"{source.stem}-{quant}.gguf", quant)
            reports[quant] = check_gguf(source, path, quant)
            source.ggufs[quant] = path
            files.append(path)
        report_files = write_report(out_dir, source, reports)
        return ExportOutput("gguf", out_dir, files + report_files, roundtrip=reports)


# ---------------------------------------------------------------------------------- writing
def write_gguf(source: ExportSource, path: Path, quant: str) -> Path:
    """Write the merged model of ``source`` as a GGUF file at ``path`` (atomically); return it."""
    import gguf

    model, tokenizer = source.model, source.tokenizer
    arch = check_architecture(model.config, source.label)
    with atomic_path(path) as tmp:
        writer = gguf.GGUFWriter(str(tmp), arch)
        writer.add_name(source.stem)
        writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if quant == "f16" else gguf.LlamaFileType.MOSTLY_Q8_0)
        add_hyperparameters(writer, model.config)
        add_tokenizer(writer, tokenizer, model.config.vocab_size, source.end_of_turn_id(), source.label)
        for name, array, qtype in tensors(model, quant):
            writer.add_tensor(name, array, raw_dtype=qtype)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
    return path


def check_architecture(config: Any, label: str) -> str:
    """The GGUF architecture name of ``config``; an InputError in one line when it cannot be written."""
    archs = list(getattr(config, "architectures", None) or [])
    arch = SUPPORTED_ARCHITECTURES.get(archs[0] if archs else "")
    if arch is None:
        supported = ", ".join(SUPPORTED_ARCHITECTURES)
        raise InputError(f"{label}: gguf export supports {supported}; this model is "
                         f"{archs[0] if archs else config.model_type}")
    scaling = getattr(config, "rope_scaling", None) or {}
    if scaling.get("rope_type", scaling.get("type", "default")) not in ("default", None):
        raise InputError(f"{label}: gguf export does not write rope scaling {scaling.get('rope_type')!r} yet")
    if getattr(config, "attention_bias", False) or getattr(config, "mlp_bias", False):
        raise InputError(f"{label}: gguf export does not write llama attention/mlp biases")
    return arch


def rope_theta(config: Any) -> float:
    """The rotary base, from ``rope_theta`` or (transformers 5) ``rope_parameters``."""
    params = getattr(config, "rope_parameters", None) or {}
    return float(params.get("rope_theta") or getattr(config, "rope_theta", None) or 10000.0)


def add_hyperparameters(writer: Any, config: Any) -> None:
    """The ``llama.*`` keys llama.cpp and transformers read the model's shape from."""
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads or config.num_attention_heads)
    writer.add_rope_dimension_count(head_dim)
    writer.add_rope_freq_base(rope_theta(config))
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_vocab_size(config.vocab_size)


def permute(weights: Any, n_head: int, n_head_kv: int | None) -> Any:
    """llama.cpp's rotary layout of a q_proj/k_proj matrix (its converter's ``LlamaModel.permute``)."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def tensors(model: Any, quant: str):
    """(GGUF name, array, GGML type) of every tensor of ``model``, in the order of its state dict."""
    import gguf
    import numpy as np

    config = model.config
    name_map = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, config.num_hidden_layers)
    tied = bool(getattr(config, "tie_word_embeddings", False))
    for hf_name, tensor in model.state_dict().items():
        if tied and hf_name == "lm_head.weight":
            continue  # llama.cpp reads a missing output.weight as tied to token_embd
        if hf_name.endswith("rotary_emb.inv_freq"):
            continue
        name = name_map.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if name is None:
            raise InputError(f"gguf export: no GGUF name for tensor {hf_name}")
        data = tensor.detach().to("cpu").float().numpy()
        if hf_name.endswith("q_proj.weight"):
            data = permute(data, config.num_attention_heads, config.num_attention_heads)
        elif hf_name.endswith("k_proj.weight"):
            data = permute(data, config.num_attention_heads, config.num_key_value_heads)
        yield (name, *encode(np.ascontiguousarray(data), quant))


def encode(data: Any, quant: str) -> tuple[Any, Any]:
    """(array, GGML type): 1-D tensors stay f32; matrices are f16, or q8_0 when their rows split in 32s."""
    import gguf
    import numpy as np

    types = gguf.GGMLQuantizationType
    if data.ndim <= 1:
        return data.astype(np.float32), types.F32
    if quant == "q8_0" and data.shape[-1] % Q8_BLOCK == 0:
        return gguf.quants.quantize(data, types.Q8_0), types.Q8_0
    return data.astype(np.float16), types.F16


# ---------------------------------------------------------------------------------- tokenizer
def add_tokenizer(writer: Any, tokenizer: Any, vocab_size: int, eot_id: int | None, label: str) -> None:
    """A byte-level BPE vocabulary (``gpt2``): tokens, types, merges, pre-tokenizer, special ids, template."""
    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    model = spec.get("model") or {}
    if model.get("type") != "BPE" or not _byte_level(spec):
        raise InputError(f"{label}: gguf export writes byte-level BPE tokenizers; this one is "
                         f"{model.get('type', 'unknown')}")
    tokens, types = vocabulary(spec, vocab_size)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre_tokenizer_name(spec, label))
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in model.get("merges") or []])
    for adder, token_id in ((writer.add_bos_token_id, tokenizer.bos_token_id),
                            (writer.add_eos_token_id, tokenizer.eos_token_id),
                            (writer.add_eot_token_id, eot_id),
                            (writer.add_pad_token_id, tokenizer.pad_token_id),
                            (writer.add_unk_token_id, tokenizer.unk_token_id)):
        if token_id is not None:
            adder(int(token_id))
    plain, full = tokenizer.encode("x", add_special_tokens=False), tokenizer.encode("x")
    writer.add_add_bos_token(len(full) > len(plain) and full[0] == tokenizer.bos_token_id)
    writer.add_add_eos_token(len(full) > len(plain) and full[-1] == tokenizer.eos_token_id)
    writer.add_chat_template(tokenizer.chat_template)


def _byte_level(spec: dict[str, Any]) -> bool:
    """Whether the tokenizer's pre-tokenizer (or one step of it) is ByteLevel."""
    pre = spec.get("pre_tokenizer") or {}
    steps = pre.get("pretokenizers", [pre]) if pre.get("type") == "Sequence" else [pre]
    return any(step.get("type") == "ByteLevel" for step in steps)


def pre_tokenizer_name(spec: dict[str, Any], label: str) -> str:
    """llama.cpp's name for how the text is split before BPE (``tokenizer.ggml.pre``).

    ``smollm``: single digits, then GPT-2's split (SmolLM2); ``gpt-2``: GPT-2's split alone;
    ``llama-bpe``: Llama 3's split regex. Anything else is refused rather than guessed.
    """
    pre = spec.get("pre_tokenizer") or {}
    steps = pre.get("pretokenizers", [pre]) if pre.get("type") == "Sequence" else [pre]
    kinds = [step.get("type") for step in steps]
    if kinds == ["Digits", "ByteLevel"] and steps[0].get("individual_digits") and steps[1].get("use_regex", True):
        return "smollm"
    if kinds == ["ByteLevel"] and steps[0].get("use_regex", True):
        return "gpt-2"
    if kinds == ["Split", "ByteLevel"] and "(?i:'s|'t|'re|'ve|'m|'ll|'d)" in json.dumps(steps[0].get("pattern")):
        return "llama-bpe"
    raise InputError(f"{label}: gguf export cannot name this pre-tokenizer for llama.cpp ({' + '.join(map(str, kinds))})")


def vocabulary(spec: dict[str, Any], vocab_size: int) -> tuple[list[str], list[int]]:
    """Tokens by id (padded to the model's embedding rows with ``[PADn]``) and their GGUF token types."""
    import gguf

    by_id: dict[int, tuple[str, int]] = {i: (t, gguf.TokenType.NORMAL) for t, i in spec["model"]["vocab"].items()}
    for added in spec.get("added_tokens") or []:
        kind = gguf.TokenType.CONTROL if added.get("special") else gguf.TokenType.USER_DEFINED
        by_id[int(added["id"])] = (added["content"], kind)
    if by_id and max(by_id) >= vocab_size:
        raise InputError(f"tokenizer has {max(by_id) + 1} tokens but the model only {vocab_size} embeddings")
    tokens, types = [], []
    for index in range(vocab_size):
        token, kind = by_id.get(index, (f"[PAD{index}]", gguf.TokenType.UNUSED))
        tokens.append(token)
        types.append(int(kind))
    return tokens, types
