"""Trainer backends, registered by name: ``local`` (transformers + PEFT) and ``openai`` (hosted).

A trainer has the shape of every backend (`webtune.plugins.Backend`): ``Trainer(config)`` with a
``Config`` (tag ``backend``) and one method, ``train(ctx: StageContext) -> StageResult``, that
writes ``train_result.json`` into ``ctx.output_dir`` (see docs/architecture.md). The built-ins
(which import torch/openai lazily) load through the same path as plugins of the entry-point
group ``webtune.trainers``.
"""

from typing import Any

from webtune.plugins import Registry

TRAINERS: Registry = Registry("trainer", builtins=("webtune.train.backends.local", "webtune.train.backends.openai"),
                              label="train backend")


class TrainerBackend:
    """Base of trainer backends: built from the ``train`` config like every backend."""

    Config: Any

    def __init__(self, config: Any):
        self.config = config
