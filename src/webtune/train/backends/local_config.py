"""Settings of the local trainer backend (transformers + PEFT on CPU or GPU)."""

from __future__ import annotations

from typing import Literal

from webtune.configbase import StrictModel


class LoraConfig(StrictModel):
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: list[str] | None = None


class LocalTrainConfig(StrictModel):
    backend: Literal["local"] = "local"
    method: Literal["lora", "qlora", "full"] = "lora"
    lora: LoraConfig = LoraConfig()
    epochs: float = 2
    learning_rate: float = 2e-4
    max_seq_len: int = 1024
    seed: int = 0
