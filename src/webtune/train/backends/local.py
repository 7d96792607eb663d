"""The local trainer backend: LoRA, QLoRA or full fine-tuning with transformers + PEFT.

Reads the dataset stage's ``train.jsonl`` and ``validation.jsonl``, renders them with the base
model's chat template (loss on assistant tokens only), packs them padding-free, trains on CPU or
GPU (in-process, or under ``accelerate launch``), and writes into the stage directory:
``train_result.json``, ``adapter/`` and/or ``model/``, ``metrics.jsonl``, ``tensorboard/`` and
``loss.png``. Checkpoints stay in the work directory, so a rerun (``webtune train`` or ``webtune run``) continues a
killed run. The loop itself is `webtune.train.loop`.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

from webtune.errors import InputError
from webtune.extras import Needs
from webtune.handoffs import TrainResult
from webtune.records import canonical_json
from webtune.stage import Counts, StageContext, StageResult, sha256_file
from webtune.train.backends import TRAINERS, TrainerBackend
from webtune.train.backends.local_config import LocalTrainConfig

DATA = "data.json"


@TRAINERS.register("local")
class LocalTrainer(TrainerBackend):
    """Fine-tune the pipeline's base model (``ctx.shared["base_model"]``) on this machine."""

    Config = LocalTrainConfig
    needs = Needs("train", "torch", "transformers", "peft", "accelerate")

    def train(self, ctx: StageContext) -> StageResult:
        """Tokenize, train (resuming when asked) and write the stage's outputs."""
        from webtune.models import resolve_model
        from webtune.models.hub import commit_of
        from webtune.train.data import save_tokenized, tokenize_split
        from webtune.models import load_tokenizer, pick_device
        from webtune.train.modeling import check_qlora_possible

        config: LocalTrainConfig = ctx.config
        from webtune.tracking import check_trackers

        check_trackers(config.tracking)  # a missing tracker library stops here, not after the data work
        if config.method == "qlora" and config.launcher == "none":
            check_qlora_possible(pick_device(config.device, "train.device"))  # before the slow parts
        base_model = ctx.shared.get("base_model")
        if not base_model:
            raise InputError("train: no base model (set base_model in the pipeline file)")
        seed = config.seed if config.seed is not None else ctx.shared.get("seed", 0)
        base_path = resolve_model(base_model)
        tokenizer = load_tokenizer(base_path)
        dataset = ctx.input("dataset")
        train = tokenize_split(dataset / "train.jsonl", tokenizer, config.max_seq_len, config.chat_template)
        val = tokenize_split(dataset / "validation.jsonl", tokenizer, config.max_seq_len,
                             config.chat_template, required=False)
        for reject in train.rejects:
            ctx.rejects.write(reject)
        if not train.examples:
            raise InputError(f"{dataset / 'train.jsonl'}: no usable training examples "
                             f"({train.seen} read, {len(train.rejects)} rejected; see rejects.jsonl)")
        data_path = ctx.work_dir / DATA
        save_tokenized(data_path, train.examples, val.examples, tokenizer.pad_token_id)
        job = self._job(ctx, config, base_model, base_path, data_path, seed)
        job.tracking = self._tracking(ctx, config, base_model, base_path, seed, len(train.examples))
        result = self._run(job, config, ctx)
        # Later stages encode as training did: the template it rendered with, its sequence length.
        template = config.chat_template or getattr(tokenizer, "chat_template", None)
        self._write_outputs(ctx, config, base_model, base_path, result, template)
        stats = {**result["metrics"],
                 "train_examples": len(train.examples), "validation_examples": len(val.examples),
                 "validation_rejected": len(val.rejects), "truncated": train.truncated,
                 "train_example_tokens": train.tokens, "train_label_tokens": train.label_tokens,
                 "base_model_revision": commit_of(base_path)}
        self._summary(ctx, stats)
        return StageResult(counts=Counts(seen=train.seen, kept=len(train.examples),
                                         rejected=len(train.rejects)), stats=stats)

    def _job(self, ctx: StageContext, config: LocalTrainConfig, base_model: str, base_path: Path,
             data_path: Path, seed: int) -> Any:
        from webtune.train.loop import TrainJob

        # What decides the trained weights (not merge, which only adds an output).
        setup = {"config": config.model_dump(mode="json", exclude={"merge"}), "data": sha256_file(data_path),
                 "base_model": str(base_path), "seed": seed}
        return TrainJob(config=config.model_dump(mode="json"), base_model=base_model,
                        base_model_path=str(base_path), data_path=str(data_path),
                        output_dir=str(ctx.output_dir), work_dir=str(ctx.work_dir), seed=seed,
                        resume=config.resume, memory_check=config.memory_check,
                        fingerprint=hashlib.sha256(canonical_json(setup).encode()).hexdigest()[:16])

    def _tracking(self, ctx: StageContext, config: LocalTrainConfig, base_model: str, base_path: Path,
                  seed: int, n_train: int) -> dict[str, Any]:
        """The trackers' setup (webtune.tracking): which, where, and the run's parameters."""
        from webtune.models.hub import commit_of

        params = {**config.model_dump(mode="json", exclude={"chat_template"}), "base_model": base_model,
                  "base_model_revision": commit_of(base_path), "seed": seed, "train_examples": n_train}
        return {"backends": list(config.tracking), "run_dir": str(ctx.run_dir), "project": config.tracking_project,
                "run_name": Path(ctx.run_dir).name, "params": params}

    def _run(self, job: Any, config: LocalTrainConfig, ctx: StageContext) -> dict[str, Any]:
        if config.launcher == "accelerate":
            from webtune.train.launch import launch_accelerate

            return launch_accelerate(job, config.accelerate_config, ctx.console)
        from webtune.train.loop import run_training

        return run_training(job, console=ctx.console)

    def _write_outputs(self, ctx: StageContext, config: LocalTrainConfig, base_model: str,
                       base_path: Path, result: dict[str, Any], chat_template: str | None) -> None:
        """train_result.json, metrics.jsonl, TensorBoard events and loss.png in the output dir."""
        from webtune.models.hub import commit_of
        from webtune.tracking import log_artifacts, read_runs
        from webtune.train.monitor import LOCAL_LOSS_COLUMNS, METRICS, TENSORBOARD, plot_loss, read_metrics

        out, work = ctx.output_dir, ctx.work_dir
        if (work / METRICS).exists():
            shutil.copyfile(work / METRICS, out / METRICS)
        if (work / TENSORBOARD).is_dir():
            shutil.copytree(work / TENSORBOARD, out / TENSORBOARD, dirs_exist_ok=True)
        metrics = read_metrics(out / METRICS)
        plot_loss(metrics, LOCAL_LOSS_COLUMNS, out / "loss.png", title=f"{config.method} on {base_model}")
        runs = read_runs(work)
        TrainResult(backend="local", method=config.method, base_model=base_model,
                    base_model_path=str(base_path), base_model_revision=commit_of(base_path),
                    adapter_dir=result.get("adapter_dir"),
                    model_dir=result.get("model_dir"), metrics=result["metrics"],
                    max_seq_len=config.max_seq_len, chat_template=chat_template, tracking=runs).write(out)
        log_artifacts(runs, [out / "loss.png", out / TrainResult.FILE, out / METRICS], "train")

    def _summary(self, ctx: StageContext, stats: dict[str, Any]) -> None:
        """A small table of the figures people compare: losses, throughput, packing."""
        from rich.table import Table

        table = Table(title="train", show_header=False)
        rows = [("validation loss (base → tuned)", _pair(stats.get("base_val_loss"), stats.get("val_loss"))),
                ("train loss (last steps)", _fmt(stats.get("train_loss"))),
                ("steps / epochs", f"{stats.get('steps')} / {stats.get('epochs')}"),
                ("tokens per second", _fmt(stats.get("tokens_per_second"), ",.0f")),
                ("packing efficiency", _fmt(stats.get("packing_efficiency"), ".1%")),
                ("attention", str(stats.get("attention") or "—")),
                ("train time", f"{stats.get('train_seconds')} s")]
        for key, value in rows:
            table.add_row(key, value)
        ctx.console.print(table)


def _fmt(value: Any, spec: str = ".4f") -> str:
    return "—" if value is None else format(value, spec)


def _pair(a: Any, b: Any) -> str:
    return f"{_fmt(a)} → {_fmt(b)}"
