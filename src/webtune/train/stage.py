"""The train stage: hand the dataset stage's splits to the configured trainer backend."""

from __future__ import annotations

from webtune.stage import StageContext, StageResult
from webtune.train.backends import TRAINERS


def run_train(ctx: StageContext) -> StageResult:
    """Train with ``ctx.config.backend``; the backend writes ``train_result.json`` and its outputs."""
    trainer = TRAINERS.get(ctx.config.backend)(ctx.config)
    return trainer.train(ctx)
