"""Trainer backends, registered by name: ``local`` (transformers + PEFT) and ``openai`` (hosted).

A backend is a class with ``train(ctx: StageContext) -> StageResult`` that writes
``train_result.json`` into ``ctx.output_dir`` (see docs/architecture.md).
"""

from webtune.plugins import Registry

TRAINERS: Registry = Registry("trainer backend", label="train backend")

# Importing the built-in backends registers them (they import torch/openai lazily).
from webtune.train.backends import local, openai  # noqa: E402,F401
