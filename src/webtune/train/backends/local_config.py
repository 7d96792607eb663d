"""Settings of the local trainer backend (transformers + PEFT on CPU or GPU).

A light module (no torch import): it is loaded with every pipeline file. The defaults come from
bench/train_throughput.py (see bench/RESULTS.md): rows of ``max_seq_len`` tokens filled by
best-fit-decreasing packing, one row per micro-batch, no LoRA dropout, a cosine schedule with
warmup.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from webtune.configbase import RelPath, StrictModel


class LoraConfig(StrictModel):
    """LoRA adapter shape; ``target_modules`` defaults to every linear projection of the
    architecture (see ``webtune.train.modeling.DEFAULT_TARGET_MODULES``)."""

    r: int = Field(16, ge=1)
    alpha: int = Field(32, ge=1)
    # 0 like PEFT's default: on CPU the random masks of LoRA dropout took 15 % of a training
    # step (bench/RESULTS.md), and one or two epochs of fine-tuning rarely need it.
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    target_modules: list[str] | None = None


class PreferenceConfig(StrictModel):
    """``train.preference``: preference tuning (DPO, ORPO or KTO) on the dataset stage's
    ``preference_{train,validation}.jsonl``, after supervised fine-tuning (unless
    ``train.supervised: false``) and starting from its adapter. Unset values take train's own."""

    method: Literal["dpo", "orpo", "kto"] = "dpo"
    # DPO/KTO: how far the policy may move from the reference (the model the phase starts
    # from); ORPO: the weight of the odds-ratio term (TRL's beta, the paper's lambda).
    beta: float = Field(0.1, gt=0, allow_inf_nan=False)
    # KTO: weights of the desirable and undesirable answers' losses (raise the rarer one).
    desirable_weight: float = Field(1.0, gt=0, allow_inf_nan=False)
    undesirable_weight: float = Field(1.0, gt=0, allow_inf_nan=False)
    epochs: float = Field(1, gt=0, le=1000, allow_inf_nan=False)
    max_steps: int | None = Field(None, ge=1)
    learning_rate: float | None = Field(None, gt=0)  # None: train.learning_rate
    # Pairs (DPO/ORPO) or answers (KTO) per micro-batch and device; their sequences are packed.
    batch_size: int = Field(4, ge=1)
    warmup_ratio: float | None = Field(None, ge=0.0, lt=1.0)  # None: train.warmup_ratio


class LocalTrainConfig(StrictModel):
    """How to fine-tune the base model locally."""

    backend: Literal["local"] = "local"
    method: Literal["lora", "qlora", "full"] = "lora"
    lora: LoraConfig = LoraConfig()
    # Supervised fine-tuning on train.jsonl. false: only preference tuning (needs `preference`).
    supervised: bool = True
    # Then preference tuning, starting from the supervised adapter (see PreferenceConfig).
    preference: PreferenceConfig | None = None
    # Finite and bounded: `.inf` passed once and crashed training after the data was built.
    epochs: float = Field(2, gt=0, le=1000, allow_inf_nan=False)
    # Stop after this many optimizer steps (overrides epochs when smaller).
    max_steps: int | None = Field(None, ge=1)
    learning_rate: float = Field(2e-4, gt=0)
    lr_scheduler: Literal["cosine", "linear", "constant"] = "cosine"
    warmup_ratio: float = Field(0.1, ge=0.0, lt=1.0)
    weight_decay: float = Field(0.0, ge=0.0)
    max_grad_norm: float = Field(1.0, gt=0)
    max_seq_len: int = Field(1024, ge=16)  # longer examples are cut to this many tokens
    # Length of the packed rows. None: max_seq_len. Attention runs per example within a row
    # (FlashAttention varlen on CUDA, webtune's per-example SDPA on CPU), so a longer row costs no
    # more per token and its bigger matrix products run faster (bench/train_throughput.py: rows of
    # 1024 were 1.13x faster per token than rows of 512 on CPU). Shorter rows mean more optimizer
    # steps per epoch. Rows are never shorter than the longest example.
    pack_length: int | None = Field(None, ge=16)
    # Packed rows (packing) or examples (no packing) per micro-batch and device.
    batch_size: int = Field(1, ge=1)
    gradient_accumulation_steps: int = Field(1, ge=1)
    # Best-fit-decreasing packing into rows of max_seq_len tokens, padding-free. Off: naive
    # batches of batch_size examples padded to the longest (what the benchmark compares with).
    packing: bool = True
    seed: int | None = None  # None: the pipeline's seed
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # auto: bf16 on a CUDA GPU that supports it, else fp32.
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    gradient_checkpointing: bool = False
    # Validation loss on the validation split every N optimizer steps, and before the first step
    # (the base model's loss) and after the last. None: about 5 times per run; 0: only before
    # and after.
    eval_steps: int | None = Field(None, ge=0)
    # Stop when validation loss has not improved by min_delta for this many evaluations; the
    # best weights are kept.
    early_stopping_patience: int | None = Field(None, ge=1)
    early_stopping_min_delta: float = Field(0.0, ge=0.0)
    # Checkpoint every N optimizer steps (in the work dir). None: about 10 times per run.
    save_steps: int | None = Field(None, ge=1)
    save_total_limit: int = Field(2, ge=1)
    log_steps: int = Field(1, ge=1)
    # Also write the base model with the adapter merged in (model/), for LoRA and QLoRA.
    merge: bool = False
    chat_template: str | None = None  # a Jinja chat template for base models without one
    # Continued training: start from this LoRA adapter (a directory holding adapter_config.json,
    # e.g. a registry version's artifact/) instead of a fresh one; its r, alpha and target
    # modules are the adapter's own. A refresh run's `refresh.train: continue` sets it to the
    # production version's adapter.
    init_adapter: RelPath | None = None
    # How training runs, not what it produces: left out of the stage fingerprint.
    # None: continue from the checkpoint of an interrupted run of this same setup, if any;
    # True: it must (--resume); False: start over (--no-resume).
    resume: bool | None = Field(None, exclude=True)
    launcher: Literal["none", "accelerate"] = Field("none", exclude=True)
    # Where metrics go besides metrics.jsonl (webtune.tracking): how the run is watched, not what
    # it produces, so also out of the fingerprint. MLflow: MLFLOW_TRACKING_URI, else a file store
    # in <run dir>/mlruns; W&B: offline in <run dir>/wandb unless WANDB_API_KEY is set.
    tracking: list[Literal["tensorboard", "mlflow", "wandb"]] = Field(["tensorboard"], exclude=True)
    tracking_project: str = Field("webtune", min_length=1, exclude=True)  # MLflow experiment, W&B project
    accelerate_config: RelPath | None = Field(None, exclude=True)
    # Before loading the model the trainer estimates the run's peak memory
    # (`webtune.train.memory`) and prints it: refuse a run that will not fit on the device,
    # warn and train anyway, or off (no estimate).
    memory_check: Literal["refuse", "warn", "off"] = Field("refuse", exclude=True)

    @model_validator(mode="after")
    def _init_adapter_needs_lora(self) -> "LocalTrainConfig":
        if self.init_adapter is not None and self.method not in ("lora", "qlora"):
            raise ValueError("init_adapter continues a LoRA adapter: use method: lora or qlora")
        return self

    @model_validator(mode="after")
    def _check_launcher(self) -> "LocalTrainConfig":
        if self.accelerate_config is not None and self.launcher != "accelerate":
            self.launcher = "accelerate"
        if not self.supervised and self.preference is None:
            raise ValueError("supervised: false leaves nothing to train; add a preference section "
                             "(method: dpo | orpo | kto) or drop supervised: false")
        return self

    @property
    def objectives(self) -> list[str]:
        """The phases this config trains, in order: ``sft`` and/or the preference method."""
        return (["sft"] if self.supervised else []) + ([self.preference.method] if self.preference else [])

    def preference_phase(self) -> "LocalTrainConfig":
        """The settings the preference phase trains with (its own epochs, steps, rate, batch)."""
        pref = self.preference
        assert pref is not None
        return self.model_copy(update={
            "epochs": pref.epochs, "max_steps": pref.max_steps, "batch_size": pref.batch_size,
            "learning_rate": pref.learning_rate or self.learning_rate,
            "warmup_ratio": self.warmup_ratio if pref.warmup_ratio is None else pref.warmup_ratio})
