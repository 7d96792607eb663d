"""The hosted trainer: fine-tune an OpenAI model on the dataset stage's splits.

``method: supervised`` uploads the chat splits; ``method: dpo`` the preference splits in OpenAI's
preference format and sends ``method: {type: dpo, dpo: {hyperparameters: {beta, n_epochs,
batch_size, learning_rate_multiplier}}}``. Both go through the same never-twice job handling.

validate (the dataset stage's validator) -> strip ``meta`` -> reattach or (estimate, confirm, upload once,
create once) -> watch -> results. Resume state (uploaded file ids by content hash, the job id)
lives in ``ctx.work_dir`` so a rerun never uploads or pays twice; see ``webtune.hosted``.
"""

from __future__ import annotations

import re
from typing import Any

from webtune.extras import Needs
from webtune.stage import Counts, StageContext, StageResult
from webtune.train.backends import TRAINERS, TrainerBackend
from webtune.train.backends.openai_config import OpenAITrainConfig


@TRAINERS.register("openai")
class OpenAITrainer(TrainerBackend):
    """Hosted supervised or preference (DPO) fine-tuning through the official ``openai`` SDK."""

    Config = OpenAITrainConfig
    needs = Needs("hosted", "openai")

    def train(self, ctx: StageContext) -> StageResult:
        """Run (or reattach to) the fine-tuning job and write ``train_result.json``."""
        from webtune.handoffs import ApiEndpoint
        from webtune.hosted.client import client_for
        from webtune.hosted.jobs import estimate, prepare_splits, start_or_reattach, validate_splits
        from webtune.hosted.results import finish_job
        from webtune.hosted.state import HostedState
        from webtune.hosted.sunset import warn_openai_dates

        config: OpenAITrainConfig = ctx.config
        dataset_dir = ctx.input("dataset")
        ctx.console.print(f"[bold]train[/bold] (openai): validating {dataset_dir}")
        # any error stops here, before a byte is uploaded
        reports = validate_splits(dataset_dir, ctx.console, method=config.method)
        prepared = prepare_splits(dataset_dir, ctx.work_dir / "upload", reports, method=config.method)
        request = self.request(ctx, prepared)
        client = client_for(config)
        warn_openai_dates(str(client.base_url), ctx.console)
        state = HostedState.load(ctx.work_dir)
        state.base_url, state.api_key_env = str(client.base_url), config.api_key_env
        state.save()
        prices = dict(ctx.shared.get("prices") or {})  # dataset.hosted.prices, declared by train's StageSpec
        job = start_or_reattach(client, state, request, prepared, config, ctx.console, prices)
        result = finish_job(client, job.id, ctx.output_dir, ctx.console, config.poll_interval,
                            extra={"files": {k: v.path.name for k, v in prepared.items()},
                                   # where the model lives (no secret: the key's variable name only)
                                   "api": ApiEndpoint(base_url=state.base_url, api_key_env=config.api_key_env)})
        state.update_job(status="succeeded", fine_tuned_model=result.model_id)
        seen = sum(split.examples for split in prepared.values())
        stats = {"job_id": result.job_id, "model_id": result.model_id, "base_model": result.base_model,
                 "examples": {k: v.examples for k, v in prepared.items()},
                 "estimated_cost_usd": estimate(prepared, request, prices)["estimated_usd"], **result.metrics}
        # The job's state outlives publishing: a forced rerun reattaches instead of paying again.
        return StageResult(counts=Counts(seen=seen, kept=seen, rejected=0), stats=stats,
                           keep_work=(state.path.name,))

    @staticmethod
    def request(ctx: StageContext, prepared: dict[str, Any]) -> Any:
        """The job request: the config's settings, the shared defaults (name, seed), the files' hashes."""
        from webtune.hosted.jobs import JobRequest

        config: OpenAITrainConfig = ctx.config
        name = ctx.shared.get("name") or ctx.run_dir.name
        seed = config.seed if config.seed is not None else ctx.shared.get("seed")
        suffix = config.suffix or (re.sub(r"[^A-Za-z0-9._-]", "-", name)[:40] or None)
        metadata = {**config.metadata, "webtune_pipeline": name[:512], "webtune_run": str(ctx.run_dir.name)[:512]}
        return JobRequest(model=config.model, method=config.method, hyperparameters=config.hyperparameters(),
                          suffix=suffix, seed=seed, files={k: v.sha256 for k, v in prepared.items()},
                          metadata=metadata)
