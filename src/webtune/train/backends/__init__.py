"""Trainer backends, registered by name: ``local`` (transformers + PEFT) and ``openai`` (hosted).

A backend is a class with ``train(ctx: StageContext) -> StageResult`` that writes
``train_result.json`` into ``ctx.output_dir`` (see docs/architecture.md).
"""

from webtune.plugins import Registry

# The built-in backends register themselves when the registry is first used (they import
# torch/openai lazily).
TRAINERS: Registry = Registry("trainer backend", label="train backend",
                              builtins=("webtune.train.backends.local", "webtune.train.backends.openai"))
