"""The memory planner: peak memory of a training run, estimated before the model is loaded.

Running out of memory after the data work is done is the most common failure of fine-tuning.
`estimate` adds up, from the base model's ``config.json`` alone (no weights are read), what a
training step of the local trainer (`webtune.train.loop`) holds at its peak:

* **weights**: every parameter in its training dtype (fp32 for full fine-tuning; the frozen
  base in bf16/fp16 for LoRA under half precision; 4-bit NF4 with double quantisation for the
  QLoRA linear layers, the rest in fp32 as PEFT's ``prepare_model_for_kbit_training`` leaves
  it); LoRA adapters in fp32.
* **optimizer**: AdamW's two fp32 states per trainable parameter.
* **gradients**: one fp32 gradient per trainable parameter.
* **activations**: what autograd saves per layer and token (residual inputs and norms, q/k/v
  after RoPE, the attention output and its log-sum-exp (FlashAttention, SDPA and webtune's
  per-example attention all keep no score matrix; padded batches keep their mask), the MLP's
  gate/up/product), counted term by term against transformers' Llama code; with gradient
  checkpointing, one hidden state per layer plus one recomputed layer. Full fine-tuning under
  autocast also keeps bf16 copies of the weights.
* **logits**: the loss is computed only at labelled positions (``logits_to_keep``), in fp32:
  the saved log-softmax, its gradient and the gradient of the logits, positions x vocabulary x
  12 bytes, often the largest term for small models with big vocabularies.

The peak is not the plain sum: gradients are allocated while backward frees activations, so
it is ``runtime + weights + optimizer + max(saved activations + max(logits, one layer's backward
work), gradients + the optimizer step's temporaries)`` (``runtime``: a CPU process's own
buffers). bench/memory_planner.py compares it with measured peaks (bench/RESULTS.md): within
5 % on CPU for LoRA and full fine-tuning, two row lengths, checkpointing on and off, the same
on a fresh install as on an old one. Not counted: the shared libraries' code pages, which are
clean, shared and reclaimed under pressure, and whose resident share depends on the page cache.

Written here rather than taken from a library: accelerate's ``estimate-memory`` counts only
weights (and a fixed multiple for Adam), and has no activations, LoRA, QLoRA or packed rows.
A light module: torch is imported only to ask a GPU how much memory it has.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable, Sequence

from webtune.errors import WebtuneError

GB = 1024 ** 3
LLAMA_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
# NF4 with double quantisation: 4 bits, plus an 8-bit absmax per 64 weights and an fp32
# constant per 256 of those (QLoRA paper, section 3).
NF4_BYTES = 0.5 + 1 / 64 + 4 / (64 * 256)
# Bytes per position x vocabulary entry for the loss: fp32 log-softmax (saved), its gradient
# and the gradient of the logits, alive together in log-softmax's backward.
LOGIT_BYTES = 12
# Under bf16/fp16 autocast the LM head writes half-precision logits that the loss upcasts
# (`loop.batch_nll`): their gradient comes back in half precision next to the fp32 ones.
HALF_LOGIT_BYTES = 2
# What a training process holds besides tensors once it has run a step: kernel and thread-pool
# buffers, the tokenizer, accelerate's state (bench/memory_planner.py measured 9-11 MiB on CPU,
# the first training of a process against a second one; shared libraries' code pages, whose
# resident share depends on the page cache and not on the run, left out).
RUNTIME_BYTES = 10 * 2 ** 20
# On CPU, glibc's heap keeps freed blocks (up to 32 MiB each) resident for reuse, so the resident
# peak exceeds the live tensors: the training part was 1.17-1.75x the estimate in
# bench/memory_planner.py --glibc-default (1.32x for SmolLM2-135M; up to 2.18x in an earlier run
# that counted library pages too), varying from run to run. The plan shows that bound and warns
# when it does not fit.
CPU_RETENTION = 2.2


# Norms some architectures add to every layer: q/k norms over a head, sandwich norms.
_EXTRA_NORMS = {
    "qwen3": lambda s: 2 * s.head_dim, "qwen3_moe": lambda s: 2 * s.head_dim,
    "gemma2": lambda s: 2 * s.hidden, "gemma3_text": lambda s: 2 * s.hidden + 2 * s.head_dim,
}


@dataclass(frozen=True)
class ModelShape:
    """The sizes of a decoder-only transformer that decide its memory (from ``config.json``)."""

    model_type: str
    vocab: int
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    tied: bool = True
    qkv_bias: bool = False
    experts: int = 1  # mixture of experts: experts per layer ...
    experts_per_token: int = 1  # ... and how many each token runs through

    @classmethod
    def from_config(cls, data: dict[str, Any], source: str = "config.json") -> "ModelShape":
        """Read a transformers config (a dict); a multimodal one's ``text_config`` is used."""
        text = data.get("text_config") or data
        missing = [k for k in ("hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size")
                   if not isinstance(text.get(k), int)]
        if missing:
            raise WebtuneError(f"{source}: cannot plan memory for model type "
                               f"{data.get('model_type')!r}: no {', '.join(missing)}")
        hidden, heads = text["hidden_size"], text["num_attention_heads"]
        experts = int(text.get("num_local_experts") or text.get("num_experts") or 1)
        intermediate = (text.get("moe_intermediate_size") if experts > 1 else None) \
            or text.get("intermediate_size") or 4 * hidden
        model_type = str(text.get("model_type") or data.get("model_type") or "")
        return cls(
            model_type=model_type, vocab=text["vocab_size"], hidden=hidden, intermediate=int(intermediate),
            layers=text["num_hidden_layers"], heads=heads,
            kv_heads=int(text.get("num_key_value_heads") or heads),
            head_dim=int(text.get("head_dim") or hidden // heads),
            tied=bool(data.get("tie_word_embeddings", text.get("tie_word_embeddings", True))),
            qkv_bias=bool(text.get("attention_bias", False)) or model_type == "qwen2",
            experts=experts, experts_per_token=int(text.get("num_experts_per_tok") or 1) if experts > 1 else 1)

    @classmethod
    def from_dir(cls, model_dir: Path) -> "ModelShape":
        """The shape of the model whose ``config.json`` is in ``model_dir``."""
        path = Path(model_dir) / "config.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise WebtuneError(f"{path}: cannot read the model config ({exc})") from None
        return cls.from_config(data, str(path))

    @property
    def q_dim(self) -> int:
        return self.heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        return self.kv_heads * self.head_dim

    def projections(self) -> dict[str, tuple[int, int]]:
        """(in, out) features of each linear projection of one layer (one expert's MLP)."""
        h, i = self.hidden, self.intermediate
        return {"q_proj": (h, self.q_dim), "k_proj": (h, self.kv_dim), "v_proj": (h, self.kv_dim),
                "o_proj": (self.q_dim, h), "gate_proj": (h, i), "up_proj": (h, i), "down_proj": (i, h)}

    def linear_parameters(self) -> int:
        """Parameters of the layers' linear projections (what QLoRA quantises)."""
        p = self.projections()
        attention = sum(a * b for name, (a, b) in p.items() if name in LLAMA_PROJECTIONS[:4])
        mlp = sum(a * b for name, (a, b) in p.items() if name in LLAMA_PROJECTIONS[4:]) * self.experts
        return self.layers * (attention + mlp)

    def other_parameters(self) -> int:
        """Embeddings, LM head, norms, biases and routers: what stays unquantised."""
        bias = (self.q_dim + 2 * self.kv_dim) if self.qkv_bias else 0
        router = self.hidden * self.experts if self.experts > 1 else 0
        per_layer = 2 * self.hidden + bias + router + _EXTRA_NORMS.get(self.model_type, lambda s: 0)(self)
        head = 0 if self.tied else self.vocab * self.hidden
        return self.vocab * self.hidden + head + self.layers * per_layer + self.hidden

    def parameters(self) -> int:
        """All parameters of the model."""
        return self.linear_parameters() + self.other_parameters()

    def lora_parameters(self, r: int, targets: Sequence[str]) -> int:
        """Parameters of a LoRA adapter of rank ``r`` on the ``targets`` projections."""
        p = self.projections()
        per_layer = sum(r * (p[t][0] + p[t][1]) * (self.experts if t in LLAMA_PROJECTIONS[4:] else 1)
                        for t in targets if t in p)
        return self.layers * per_layer


@dataclass(frozen=True)
class Setup:
    """How the model is trained, and the largest micro-batch it sees."""

    method: str = "lora"  # full | lora | qlora
    precision: str = "fp32"  # fp32 | bf16 | fp16 (autocast)
    tokens: int = 1024  # token slots of the largest micro-batch (rows x width)
    logit_positions: int = 1024  # positions with a label in the largest micro-batch
    rows: int = 1  # rows (or examples) per micro-batch
    padded: bool = False  # padded batches with an attention mask (packing off)
    gradient_checkpointing: bool = False
    lora_r: int = 16
    lora_targets: tuple[str, ...] = LLAMA_PROJECTIONS
    lora_dropout: float = 0.0
    device: str = "cpu"


@dataclass
class MemoryPlan:
    """Estimated bytes of each part of the peak, and what the device has."""

    shape: ModelShape
    setup: Setup
    parameters: int
    trainable: int
    weights: int
    optimizer: int
    gradients: int
    activations: int
    logits: int
    total: int
    runtime: int = 0
    available: int | None = None
    device_label: str = ""

    @property
    def fits(self) -> bool:
        """Whether the live peak fits in what the device has (True when that is unknown)."""
        return self.available is None or self.total <= self.available

    @property
    def resident(self) -> int | None:
        """On CPU, the resident memory the process may reach with glibc's heap retention."""
        if self.setup.device != "cpu":
            return None
        fixed = self.weights + self.runtime
        return int(fixed + CPU_RETENTION * (self.total - fixed))


def _targets(shape: ModelShape, targets: Iterable[str] | str | None) -> tuple[str, ...]:
    """The LoRA targets that are Llama-style projections (all seven for "all-linear" or None)."""
    if targets is None or targets == "all-linear" or isinstance(targets, str):
        return LLAMA_PROJECTIONS
    return tuple(t for t in targets if t in shape.projections()) or LLAMA_PROJECTIONS


def weight_bytes(shape: ModelShape, setup: Setup, lora: int) -> int:
    """Bytes of the weights as the local trainer loads them (`modeling.load_for_training`)."""
    half = setup.precision in ("bf16", "fp16")
    if setup.method == "qlora":
        return int(shape.linear_parameters() * NF4_BYTES) + 4 * shape.other_parameters() + 4 * lora
    if setup.method == "lora":
        return (2 if half else 4) * shape.parameters() + 4 * lora
    return 4 * shape.parameters()


def layer_activation_bytes(shape: ModelShape, setup: Setup) -> float:
    """Bytes autograd saves per token in one decoder layer (no checkpointing)."""
    h, i, q, kv = shape.hidden, shape.intermediate * shape.experts_per_token, shape.q_dim, shape.kv_dim
    full = setup.method == "full"
    a = 2 if setup.precision in ("bf16", "fp16") else 4  # matmul inputs/outputs under autocast
    targets = set(setup.lora_targets) if not full else set(LLAMA_PROJECTIONS)
    # RMSNorm computes in fp32: it keeps its input (4h) and 1/rms, and its normalised input
    # only when its own weight trains (full).
    norms = 2 * (4 * h + 4 + (4 * h if full else 0))
    saved = norms
    # A linear keeps its input only when its weight (or its adapter) trains.
    saved += a * h if targets & {"q_proj", "k_proj", "v_proj"} else 0  # norm output
    saved += a * (q + 2 * kv) + a * q + 4 * shape.heads  # q, k (RoPE), v, attention out, lse
    saved += a * q if "o_proj" in targets else 0  # attention out, made contiguous
    saved += a * h if targets & {"gate_proj", "up_proj"} else 0  # norm output
    saved += 3 * a * i  # gate (for silu), silu(gate) and up (for their product)
    saved += a * i if "down_proj" in targets else 0  # the product
    if not full:
        saved += a * setup.lora_r * len(targets)  # each adapter's A output, kept by B
        if setup.lora_dropout > 0:
            # Each adapter drops out its own copy of the input, keeping it and a bool mask.
            p = shape.projections()
            saved += sum((a + 1) * p[t][0] for t in targets if t in p)
    if setup.padded:
        saved += a * setup.tokens / max(setup.rows, 1)  # the attention mask, a row per query
    return saved


def activation_bytes(shape: ModelShape, setup: Setup) -> tuple[int, int]:
    """Bytes of activations saved for backward when it starts, and the most that backward
    itself adds while it goes through one layer (with checkpointing: that layer's recomputed
    activations too)."""
    layer = layer_activation_bytes(shape, setup)
    h, i = shape.hidden, shape.intermediate * shape.experts_per_token
    a = 2 if setup.precision in ("bf16", "fp16") else 4
    full = setup.method == "full"
    # Rotary cos/sin and the final norm (its input and, for full, its normalised input).
    fixed = 2 * 4 * shape.head_dim + 4 * h + (4 * h if full else 0)
    # Backward of one layer: gradients of its MLP intermediates and hidden states in flight.
    workspace = a * (2 * i + 2 * h)
    if setup.gradient_checkpointing:
        saved, transient = shape.layers * 4 * h + fixed, layer + workspace
    else:
        saved, transient = shape.layers * layer + fixed, workspace
    saved_total = saved * setup.tokens
    saved_total += 4 * h * setup.logit_positions if full else 0  # LM head input
    if full and a == 2:
        saved_total += 2 * (shape.linear_parameters() + shape.vocab * shape.hidden)  # autocast weight copies
    return int(saved_total), int(transient * setup.tokens)


def estimate(shape: ModelShape, setup: Setup, available: int | None = None,
             device_label: str = "") -> MemoryPlan:
    """The peak memory of training ``shape`` with ``setup`` (see the module docstring)."""
    targets = _targets(shape, setup.lora_targets)
    setup = replace(setup, lora_targets=targets)
    lora = 0 if setup.method == "full" else shape.lora_parameters(setup.lora_r, targets)
    trainable = shape.parameters() if setup.method == "full" else lora
    weights = weight_bytes(shape, setup, lora)
    runtime = RUNTIME_BYTES if setup.device == "cpu" else 0  # CUDA counts tensors only
    optimizer = 8 * trainable
    gradients = 4 * trainable
    saved, transient = activation_bytes(shape, setup)
    half = setup.precision in ("bf16", "fp16")
    logits = (LOGIT_BYTES + (HALF_LOGIT_BYTES if half else 0)) * setup.logit_positions * shape.vocab
    head_grad = 4 * shape.vocab * shape.hidden if setup.method == "full" else 0
    # Backward starts at the loss (the logits' buffers, then the LM head's gradient) and frees
    # them before it reaches the layers, whose work comes on top of what is still saved.
    backward = saved + max(logits, LOGIT_BYTES // 3 * setup.logit_positions * shape.vocab + head_grad,
                           transient)
    # AdamW's step: on CPU one parameter at a time, with two temporaries of its size
    # (sqrt(v), then divided); on CUDA the foreach implementation takes one of every state.
    largest = max(shape.vocab * shape.hidden, *(a * b for a, b in shape.projections().values()))
    if setup.method != "full":
        largest = max(setup.lora_r * max(a, b) for a, b in shape.projections().values())
    step_temp = 4 * trainable if setup.device == "cuda" else 8 * min(trainable, largest)
    total = runtime + weights + optimizer + max(backward, gradients + step_temp)
    return MemoryPlan(shape=shape, setup=setup, parameters=shape.parameters(), trainable=trainable,
                      weights=weights, optimizer=optimizer, gradients=gradients, runtime=runtime,
                      activations=saved + (transient if transient > logits else 0), logits=logits,
                      total=int(total), available=available, device_label=device_label)


# ---------------------------------------------------------------------- the device


def cpu_available() -> int | None:
    """Bytes of RAM this process can still take: MemAvailable, capped by a cgroup limit."""
    found: list[int] = []
    try:
        import psutil  # type: ignore[import-not-found]

        found.append(int(psutil.virtual_memory().available))
    except ImportError:
        try:
            text = Path("/proc/meminfo").read_text()
            match = re.search(r"MemAvailable:\s+(\d+) kB", text)
            if match:
                found.append(int(match.group(1)) * 1024)
        except OSError:
            pass
    found += _cgroup_room()
    return min(found) if found else None


def _cgroup_room() -> list[int]:
    """Room left under a cgroup v2 / v1 memory limit (containers), if there is one."""
    pairs = [("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
             ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes")]
    for limit_file, usage_file in pairs:
        try:
            limit = Path(limit_file).read_text().strip()
            usage = int(Path(usage_file).read_text().strip())
        except (OSError, ValueError):
            continue
        if limit.isdigit() and int(limit) < 1 << 60:
            return [max(0, int(limit) - usage)]
    return []


def device_available(device: str, index: int = 0) -> tuple[int | None, str]:
    """Free bytes on ``device`` (``cpu`` or ``cuda``) and a label saying what was asked."""
    if device == "cuda":
        import torch

        free, total = torch.cuda.mem_get_info(index)
        return int(free), f"cuda:{index} {torch.cuda.get_device_name(index)} ({total / GB:.1f} GiB)"
    return cpu_available(), f"cpu ({os.cpu_count()} cores, available RAM)"


# ---------------------------------------------------------------------- the run's batches


def micro_batch_extent(batches: Iterable[Sequence[Sequence[Any]]]) -> tuple[int, int, int]:
    """(token slots, labelled logit positions, rows) of the largest micro-batches.

    ``batches`` yields micro-batches as lists of rows, a row being a list of `Encoded`
    examples (one example when not packed). Slots are rows x the widest row (what the model
    computes on); logit positions are the columns where any row has a label after the shift
    (what ``batch_nll`` keeps), times the rows.
    """
    slots = positions = rows = 0
    for batch in batches:
        width = max(sum(len(e) for e in row) for row in batch)
        labelled: set[int] = set()
        for row in batch:
            offset = 0
            for example in row:
                # collate: an example's first label is dropped; column c predicts token c + 1.
                labelled.update(offset + c - 1 for c, x in enumerate(example.labels) if c and x != -100)
                offset += len(example)
        slots = max(slots, width * len(batch))
        positions = max(positions, max(len(labelled), 1) * len(batch))
        rows = max(rows, len(batch))
    return slots, positions, rows


def step_batches(units: Sequence[Sequence[int]], examples: Sequence[Any], plan: Any,
                 world_size: int = 1) -> Iterable[list[list[Any]]]:
    """Every micro-batch of every process over the whole run, as lists of rows of examples
    (``plan`` a `webtune.train.plan.StepPlan` over ``units``)."""
    for step in range(plan.total_steps):
        for rank in range(world_size):
            for batch in plan.micro_batches(step, rank):
                yield [[examples[i] for i in units[u]] for u in batch]


def run_extent(config: Any, examples: Sequence[Any], seed: int) -> tuple[int, int, int]:
    """(tokens, logit positions, rows) of a one-process run of ``config`` on ``examples``,
    packed and ordered as the trainer does (`webtune.train.loop`)."""
    from webtune.train.packing import row_length, training_units
    from webtune.train.plan import StepPlan

    lengths = [len(e) for e in examples]
    # train lengths only: the validation rows do not change the training's batches
    units = training_units(config, lengths, row_length(config, lengths))
    plan = StepPlan(units, config.batch_size, config.gradient_accumulation_steps, 1, seed,
                    config.epochs, config.max_steps)
    return micro_batch_extent(step_batches(units, examples, plan))


def plan_run(config: Any, base_path: Path, seed: int, dataset_dir: Path | None) -> tuple[MemoryPlan, str]:
    """The plan of a local training run before it starts, and where its batch sizes came from.

    With the dataset stage's ``train.jsonl`` the largest micro-batch is found as the trainer
    will pack and order it; without, rows are assumed full and every token labelled.
    """
    from webtune.models import load_tokenizer, pick_device
    from webtune.train.modeling import pick_precision

    device = pick_device(config.device, "train.device")
    shape = ModelShape.from_dir(base_path)
    train = Path(dataset_dir) / "train.jsonl" if dataset_dir is not None else None
    if train is not None and train.is_file():
        from webtune.train.data import tokenize_split

        tokenizer = load_tokenizer(base_path)
        split = tokenize_split(train, tokenizer, config.max_seq_len, config.chat_template)
        if not split.examples:
            raise WebtuneError(f"{train}: no usable training examples to plan with")
        extent, source = run_extent(config, split.examples, seed), f"the {len(split.examples)} examples of {train}"
    else:
        extent, source = worst_case_extent(config), "no dataset yet: full rows, every token labelled"
    available, label = device_available(device)
    setup = setup_for(config, *extent, device=device, precision=pick_precision(config.precision, device))
    return estimate(shape, setup, available, label), source


def check_run(config: Any, base_path: Path, units: Sequence[Sequence[int]], examples: Sequence[Any],
              step_plan: Any, accelerator: Any, console: Any, mode: str) -> MemoryPlan | None:
    """The trainer's check before it loads the model: plan the run (its largest micro-batch on
    the accelerator's device), print the plan on ``console``, refuse or warn per ``mode``.

    None when ``mode`` is off or the model's config cannot be planned (said on ``console``).
    """
    from accelerate.utils import DistributedType

    if mode == "off":
        return None
    try:
        shape = ModelShape.from_dir(base_path)
    except WebtuneError as exc:
        if console is not None:
            console.print(f"[yellow]no memory plan: {exc}[/yellow]")
        return None
    acc = accelerator
    extent = micro_batch_extent(step_batches(units, examples, step_plan, acc.num_processes))
    device = acc.device.type
    available, label = device_available(device, acc.local_process_index)
    if device == "cpu" and acc.num_processes > 1 and available is not None:
        available //= acc.num_processes  # the processes of a CPU run share the machine's memory
        label += f", shared by {acc.num_processes} processes"
    plan = estimate(shape, setup_for(config, *extent, device=device, precision=str(acc.mixed_precision)),
                    available, label)
    if acc.distributed_type in (DistributedType.FSDP, DistributedType.DEEPSPEED) and mode == "refuse":
        mode = "warn"  # sharded weights and states: the one-process estimate is too high
    check(plan, config, console, mode)
    return plan


def setup_for(config: Any, tokens: int, logit_positions: int, rows: int, device: str,
              precision: str) -> Setup:
    """A `Setup` from a `LocalTrainConfig` and the run's largest micro-batch.

    ``precision`` is accelerate's mode (``no``, ``bf16``, ``fp16``).
    """
    lora = config.lora
    return Setup(method=config.method, precision={"no": "fp32"}.get(precision, precision),
                 tokens=tokens, logit_positions=logit_positions, rows=rows, padded=not config.packing,
                 gradient_checkpointing=config.gradient_checkpointing, lora_r=lora.r,
                 lora_targets=tuple(lora.target_modules) if lora.target_modules else LLAMA_PROJECTIONS,
                 lora_dropout=lora.dropout, device=device)


def worst_case_extent(config: Any) -> tuple[int, int, int]:
    """(tokens, logit positions, rows) without the data: full rows, every token labelled."""
    width = max(config.pack_length or 0, config.max_seq_len)
    return config.batch_size * width, config.batch_size * width, config.batch_size


# ---------------------------------------------------------------------- showing and refusing


def gib(n: float) -> str:
    """Bytes as GiB (MiB below one GiB) for people."""
    return f"{n / GB:.2f} GiB" if n >= GB else f"{n / 2 ** 20:.0f} MiB"


def render(plan: MemoryPlan, title: str = "memory plan") -> Any:
    """A rich table of the plan's parts, its peak and what the device has."""
    from rich.table import Table

    s = plan.setup
    caption = (f"{s.method}, {s.precision}, {s.rows} row(s) x {s.tokens // max(s.rows, 1)} tokens, "
               f"{s.logit_positions} labelled positions, gradient checkpointing "
               f"{'on' if s.gradient_checkpointing else 'off'}")
    table = Table(title=title, caption=caption)
    table.add_column("part")
    table.add_column("estimate", justify="right")
    table.add_column("what", style="dim")
    rows = [("weights", plan.weights, f"{plan.parameters:,} parameters"),
            ("optimizer (AdamW)", plan.optimizer, f"2 fp32 states x {plan.trainable:,} trainable"),
            ("gradients", plan.gradients, "fp32, one per trainable parameter"),
            ("activations", plan.activations, f"{plan.shape.layers} layers x {s.tokens:,} tokens"),
            ("logits (loss)", plan.logits, f"{s.logit_positions:,} positions x {plan.shape.vocab:,} words, fp32")]
    if plan.runtime:
        rows.append(("runtime", plan.runtime, "the process's kernel buffers, thread pools, tokenizer"))
    for name, value, what in rows:
        table.add_row(name, gib(value), what)
    table.add_row("[bold]peak[/bold]", f"[bold]{gib(plan.total)}[/bold]",
                  "not the sum: backward frees activations as gradients come")
    if plan.resident is not None:
        table.add_row("resident on CPU, up to", gib(plan.resident),
                      "glibc's heap keeps freed blocks for reuse")
    if plan.available is not None:
        verdict = "[green]fits[/green]" if plan.fits else "[red]does not fit[/red]"
        table.add_row("available", gib(plan.available), f"{plan.device_label} · {verdict}")
    else:
        table.add_row("available", "?", f"{plan.device_label} · unknown")
    return table


def suggestions(plan: MemoryPlan, config: Any) -> list[tuple[str, MemoryPlan]]:
    """Changes of the settings that lower the peak, each with the plan it would give.

    The settings are named as in the pipeline file (``train.method: qlora``).
    """
    s, out = plan.setup, []

    def again(label: str, setup: Setup) -> None:
        out.append((label, estimate(plan.shape, setup, plan.available, plan.device_label)))

    if s.method == "full":
        again("train.method: lora", replace(s, method="lora"))
    if s.method != "qlora" and s.device == "cuda":
        again("train.method: qlora", replace(s, method="qlora", precision="bf16"))
    if not s.gradient_checkpointing:
        again("train.gradient_checkpointing: true", replace(s, gradient_checkpointing=True))
    if s.rows > 1:
        batch = getattr(config, "batch_size", s.rows)
        accumulation = getattr(config, "gradient_accumulation_steps", 1)
        again(f"train.batch_size: 1 with gradient_accumulation_steps: {batch * accumulation}",
              replace(s, tokens=s.tokens // s.rows, logit_positions=max(1, s.logit_positions // s.rows), rows=1))
    width = s.tokens // max(s.rows, 1)
    if width >= 64:
        half = width // 2
        again(f"train.max_seq_len: {half} (and pack_length)",
              replace(s, tokens=s.tokens // 2, logit_positions=max(1, s.logit_positions // 2)))
    if s.precision == "fp32" and s.device == "cuda":
        again("train.precision: bf16", replace(s, precision="bf16"))
    return sorted(out, key=lambda pair: pair[1].total)


def refusal(plan: MemoryPlan, config: Any) -> str:
    """The one-line error for a plan that does not fit, with what each suggestion brings."""
    tips = suggestions(plan, config)
    parts = [f"{label} (-> {gib(p.total)}{', fits' if p.fits else ''})" for label, p in tips]
    if tips and not any(p.fits for _, p in tips):
        combined = _all_together(plan, config)
        parts.append(f"all of these together (-> {gib(combined.total)}{', fits' if combined.fits else ''})")
    return (f"train: the estimated peak memory {gib(plan.total)} does not fit in the "
            f"{gib(plan.available or 0)} available on {plan.device_label}; try "
            + "; ".join(parts) + "; or set train.memory_check: warn to train anyway")


def _all_together(plan: MemoryPlan, config: Any) -> MemoryPlan:
    s = plan.setup
    method = "qlora" if s.device == "cuda" else "lora"
    rows = max(s.rows, 1)
    combined = replace(s, method=method, gradient_checkpointing=True, rows=1,
                       tokens=s.tokens // rows // 2, logit_positions=max(1, s.logit_positions // rows // 2),
                       precision="bf16" if s.device == "cuda" else s.precision)
    return estimate(plan.shape, combined, plan.available, plan.device_label)


def check(plan: MemoryPlan, config: Any, console: Any = None, mode: str = "refuse") -> None:
    """Print the plan and refuse (``mode`` refuse) or warn (warn) when it does not fit."""
    if console is not None:
        console.print(render(plan))
    if mode == "off":
        return
    if not plan.fits:
        message = refusal(plan, config)
        if mode == "refuse":
            raise WebtuneError(message)
        if console is not None:
            console.print(f"[yellow]warning: {message}[/yellow]")
    elif plan.available is not None and (plan.resident or 0) > plan.available and console is not None:
        console.print(f"[yellow]warning: the tensors fit, but with what the allocator keeps the "
                      f"process may reach {gib(plan.resident or 0)} of the {gib(plan.available)} "
                      f"available; if it is killed, try train.gradient_checkpointing or shorter rows[/yellow]")
