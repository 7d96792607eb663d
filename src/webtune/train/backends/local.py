"""The local trainer backend: LoRA, QLoRA or full fine-tuning with transformers + PEFT.

Reads the dataset stage's ``train.jsonl`` and ``validation.jsonl`` (and, with ``train.preference``,
``preference_{train,validation}.jsonl`` for DPO, ORPO or KTO after supervised training), renders them with the base
model's chat template (loss on assistant tokens only), packs them padding-free, trains on CPU or
GPU (in-process, or under ``accelerate launch``), and writes into the stage directory:
``train_result.json``, ``adapter/`` and/or ``model/``, ``metrics.jsonl``, ``tensorboard/`` and
``loss.png``. Checkpoints stay in the work directory, so a rerun (``webtune train`` or ``webtune run``) continues a
killed run. The loop itself is `webtune.train.loop`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from webtune.errors import InputError
from webtune.extras import Needs
from webtune.handoffs import TrainResult
from webtune.jsonl import write_jsonl
from webtune.records import canonical_json
from webtune.stage import Counts, StageContext, StageResult, sha256_file, tree_sha256
from webtune.train.backends import TRAINERS, TrainerBackend
from webtune.train.backends.local_config import LocalTrainConfig

DATA = "data.json"
PREFERENCE_DATA = "preference_data.json"
PREFERENCE = "preference"  # the preference phase's work directory (checkpoints, metrics)
SFT_OUTPUT = "sft_output"  # the supervised phase's adapter/model when a preference phase follows
SFT_DONE = "sft_done.json"  # written when that supervised phase has finished
SFT_ADAPTER = "sft_adapter"  # its adapter, published beside the final one


@dataclass
class PhaseData:
    """One phase's tokenized data file and its record counts."""

    path: Path
    seen: int
    kept: int
    rejected: int
    stats: dict[str, Any]


def resolve_init(config: LocalTrainConfig, base_path: Path) -> Path:
    """The directory ``train.init_adapter`` names: an adapter for LoRA/QLoRA trained on this base
    model, a model directory for full fine-tuning."""
    from webtune.serve.loader import resolve_ref

    ref = resolve_ref(str(config.init_adapter))
    if ref.hosted or ref.model_path is None:
        raise InputError(f"train.init_adapter: {config.init_adapter} is a hosted model; "
                         "name a local adapter or model")
    if config.method == "full":
        if ref.adapter_path is not None:
            raise InputError(f"train.init_adapter: {config.init_adapter} is a LoRA adapter; "
                             "full fine-tuning starts from a model directory (or use method: lora)")
        return ref.model_path
    if ref.adapter_path is None:
        raise InputError(f"train.init_adapter: {config.init_adapter} is a full model, not an adapter; "
                         f"method {config.method} starts from a LoRA adapter")
    if Path(ref.model_path).resolve() != Path(base_path).resolve():
        raise InputError(f"train.init_adapter: {config.init_adapter} was trained on {ref.model_path}, "
                         f"not on this pipeline's base model {base_path}")
    return ref.adapter_path


@TRAINERS.register("local")
class LocalTrainer(TrainerBackend):
    """Fine-tune the pipeline's base model (``ctx.shared["base_model"]``) on this machine."""

    Config = LocalTrainConfig
    needs = Needs("train", "torch", "transformers", "peft", "accelerate")

    def train(self, ctx: StageContext) -> StageResult:
        """Tokenize, train each phase (resuming when asked) and write the stage's outputs."""
        from webtune.models import load_tokenizer, pick_device, resolve_model
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
        init = resolve_init(config, base_path) if config.init_adapter else None
        tokenizer = load_tokenizer(base_path)
        dataset = ctx.input("dataset")
        # Both phases' data are read first, so a bad preference file stops before supervised training.
        sft = self._supervised_data(ctx, config, tokenizer, dataset) if config.supervised else None
        pref = self._preference_data(ctx, config, tokenizer, dataset) if config.preference else None
        chained = sft is not None and pref is not None
        results: dict[str, dict[str, Any]] = {}
        if sft is not None:
            sft_config = config.model_copy(update={"merge": False}) if chained else config
            out_dir = ctx.work_dir / SFT_OUTPUT if chained else ctx.output_dir
            job = self._job(ctx, sft_config, base_model, base_path, sft.path, seed, init=init,
                            output_dir=out_dir)
            job.tracking = self._tracking(ctx, config, base_model, base_path, seed, sft.kept)
            results["sft"] = self._run_phase(job, config, ctx, marker=ctx.work_dir / SFT_DONE if chained else None)
            init = out_dir / (results["sft"]["adapter_dir"] or results["sft"]["model_dir"])
        if pref is not None:
            assert config.preference is not None
            job = self._job(ctx, config.preference_phase(), base_model, base_path, pref.path, seed,
                            init=init, output_dir=ctx.output_dir, work_dir=ctx.work_dir / PREFERENCE,
                            objective=config.preference.method)
            job.tracking = self._tracking(ctx, config, base_model, base_path, seed, pref.kept,
                                          objective=config.preference.method)
            results["preference"] = self._run_phase(job, config, ctx)
        # Later stages encode as training did: the template it rendered with, its sequence length.
        template = config.chat_template or getattr(tokenizer, "chat_template", None)
        metrics = self._write_outputs(ctx, config, base_model, base_path, results, template)
        from webtune.models.hub import commit_of

        stats: dict[str, Any] = {**metrics, "base_model_revision": commit_of(base_path)}
        for data in (sft, pref):
            if data is not None:
                stats.update(data.stats)
        self._summary(ctx, stats)
        phases = [d for d in (sft, pref) if d is not None]
        return StageResult(counts=Counts(seen=sum(d.seen for d in phases), kept=sum(d.kept for d in phases),
                                         rejected=sum(d.rejected for d in phases)), stats=stats)

    def _supervised_data(self, ctx: StageContext, config: LocalTrainConfig, tokenizer: Any,
                         dataset: Path) -> "PhaseData":
        """train.jsonl and validation.jsonl, tokenized into the supervised phase's data file."""
        from webtune.train.data import save_tokenized, tokenize_split

        train = tokenize_split(dataset / "train.jsonl", tokenizer, config.max_seq_len, config.chat_template)
        val = tokenize_split(dataset / "validation.jsonl", tokenizer, config.max_seq_len,
                             config.chat_template, required=False)
        _keep_train_rejects(ctx, train, len(train.examples), dataset / "train.jsonl", "training examples")
        path = ctx.work_dir / DATA
        save_tokenized(path, train.examples, val.examples, tokenizer.pad_token_id)
        stats = {"train_examples": len(train.examples), "validation_examples": len(val.examples),
                 "validation_rejected": len(val.rejects), "truncated": train.truncated,
                 "train_example_tokens": train.tokens, "train_label_tokens": train.label_tokens}
        return PhaseData(path, train.seen, len(train.examples), len(train.rejects), stats)

    def _preference_data(self, ctx: StageContext, config: LocalTrainConfig, tokenizer: Any,
                         dataset: Path) -> "PhaseData":
        """preference_train.jsonl and preference_validation.jsonl, tokenized for the method."""
        from webtune.train.preference_data import SPLIT_FILES, save_preference, tokenize_preference_split

        assert config.preference is not None
        method = config.preference.method
        train = tokenize_preference_split(dataset / SPLIT_FILES["train"], tokenizer, config.max_seq_len,
                                          method, config.chat_template)
        val = tokenize_preference_split(dataset / SPLIT_FILES["validation"], tokenizer, config.max_seq_len,
                                        method, config.chat_template, required=False)
        _keep_train_rejects(ctx, train, len(train.items), dataset / SPLIT_FILES["train"],
                            f"{method} training records")
        path = ctx.work_dir / PREFERENCE_DATA
        save_preference(path, method, train.items, val.items, tokenizer.pad_token_id)
        stats = {"preference_train_items": len(train.items), "preference_validation_items": len(val.items),
                 "preference_validation_rejected": len(val.rejects), "preference_truncated": train.truncated,
                 "preference_train_tokens": train.tokens}
        return PhaseData(path, train.seen, train.seen - len(train.rejects), len(train.rejects), stats)

    def _job(self, ctx: StageContext, config: LocalTrainConfig, base_model: str, base_path: Path,
             data_path: Path, seed: int, *, init: Path | None, output_dir: Path,
             work_dir: Path | None = None, objective: str = "sft") -> Any:
        from webtune.train.loop import TrainJob

        # What decides the trained weights (not merge, which only adds an output).
        setup = {"config": config.model_dump(mode="json", exclude={"merge"}), "data": sha256_file(data_path),
                 "base_model": str(base_path), "seed": seed}
        if objective != "sft":
            setup["objective"] = objective
        if init is not None:
            setup["init"] = tree_sha256(init)
        work_dir = work_dir or ctx.work_dir
        work_dir.mkdir(parents=True, exist_ok=True)
        return TrainJob(config=config.model_dump(mode="json"), base_model=base_model,
                        base_model_path=str(base_path), data_path=str(data_path),
                        output_dir=str(output_dir), work_dir=str(work_dir), seed=seed,
                        resume=config.resume, memory_check=config.memory_check, objective=objective,
                        init_adapter=str(init) if init is not None else None,
                        fingerprint=hashlib.sha256(canonical_json(setup).encode()).hexdigest()[:16])

    def _tracking(self, ctx: StageContext, config: LocalTrainConfig, base_model: str, base_path: Path,
                  seed: int, n_train: int, objective: str = "sft") -> dict[str, Any]:
        """The trackers' setup (webtune.tracking): which, where, and the run's parameters (a
        preference phase is a run of its own, named ``<run>-<method>``)."""
        from webtune.models.hub import commit_of

        params = {**config.model_dump(mode="json", exclude={"chat_template"}), "base_model": base_model,
                  "base_model_revision": commit_of(base_path), "seed": seed, "train_examples": n_train,
                  "objective": objective}
        name = Path(ctx.run_dir).name + ("" if objective == "sft" else f"-{objective}")
        return {"backends": list(config.tracking), "run_dir": str(ctx.run_dir), "project": config.tracking_project,
                "run_name": name, "params": params}

    def _run_phase(self, job: Any, config: LocalTrainConfig, ctx: StageContext,
                   marker: Path | None = None) -> dict[str, Any]:
        """Train one phase; with a ``marker``, a finished phase of the same setup is not run again
        (the supervised half of a chain whose preference half was interrupted)."""
        from webtune.jsonl import atomic_write_json

        if marker is not None and marker.is_file() and config.resume is not False:
            done = json.loads(marker.read_text(encoding="utf-8"))
            if done.get("fingerprint") == job.fingerprint:
                ctx.console.print(f"[dim]{job.objective}: finished by an earlier attempt; not run again[/dim]")
                return done["result"]
        if marker is not None:
            marker.unlink(missing_ok=True)
        Path(job.output_dir).mkdir(parents=True, exist_ok=True)
        result = self._run(job, config, ctx)
        if marker is not None:
            atomic_write_json(marker, {"fingerprint": job.fingerprint, "result": result})
        return result

    def _run(self, job: Any, config: LocalTrainConfig, ctx: StageContext) -> dict[str, Any]:
        if config.launcher == "accelerate":
            from webtune.train.launch import launch_accelerate

            return launch_accelerate(job, config.accelerate_config, ctx.console)
        from webtune.train.run import run_training

        return run_training(job, console=ctx.console)

    def _write_outputs(self, ctx: StageContext, config: LocalTrainConfig, base_model: str,
                       base_path: Path, results: dict[str, dict[str, Any]],
                       chat_template: str | None) -> dict[str, Any]:
        """train_result.json, metrics.jsonl, TensorBoard events and loss.png in the output dir;
        returns the metrics recorded (the preference phase's prefixed with ``preference_``)."""
        from webtune.models.hub import commit_of
        from webtune.tracking import log_artifacts, read_runs
        from webtune.train.monitor import LOCAL_LOSS_COLUMNS, METRICS, TENSORBOARD, plot_loss, read_metrics

        out = ctx.output_dir
        rows: list[dict[str, Any]] = []
        metrics: dict[str, Any] = {}
        final = results.get("preference") or results["sft"]
        if "sft" in results:
            rows += read_metrics(ctx.work_dir / METRICS)
            metrics.update(results["sft"]["metrics"])
            if (ctx.work_dir / TENSORBOARD).is_dir():
                shutil.copytree(ctx.work_dir / TENSORBOARD, out / TENSORBOARD, dirs_exist_ok=True)
        columns = dict(LOCAL_LOSS_COLUMNS)
        if "preference" in results:
            assert config.preference is not None
            method, work = config.preference.method, ctx.work_dir / PREFERENCE
            offset = results["sft"]["metrics"]["steps"] if "sft" in results else 0
            rows += [{**r, "phase": method} for r in read_metrics(work / METRICS)]
            metrics.update({f"preference_{k}": v for k, v in results["preference"]["metrics"].items()})
            if (work / TENSORBOARD).is_dir():
                shutil.copytree(work / TENSORBOARD, out / TENSORBOARD / method, dirs_exist_ok=True)
            if "sft" in results and results["sft"].get("adapter_dir"):
                # The supervised adapter too, so evaluate or chat can show what preference tuning changed.
                shutil.copytree(ctx.work_dir / SFT_OUTPUT / results["sft"]["adapter_dir"], out / SFT_ADAPTER,
                                dirs_exist_ok=True)
            columns.update({f"{method}_loss": f"{method} loss", f"{method}_val_loss": f"{method} validation loss"})
            plot_rows = [r for r in rows if "phase" not in r] + [
                {"step": r["step"] + offset, f"{method}_loss": r.get("loss"), f"{method}_val_loss": r.get("val_loss")}
                for r in rows if "phase" in r]
        else:
            plot_rows = rows
        write_jsonl(out / METRICS, rows)
        objective = "+".join(config.objectives)
        plot_loss(plot_rows, columns, out / "loss.png", title=f"{objective} ({config.method}) on {base_model}")
        runs = read_runs(ctx.work_dir) + read_runs(ctx.work_dir / PREFERENCE)
        TrainResult(backend="local", method=config.method, base_model=base_model,
                    base_model_path=str(base_path), base_model_revision=commit_of(base_path),
                    adapter_dir=final.get("adapter_dir"), model_dir=final.get("model_dir"),
                    metrics=metrics, objective=objective, max_seq_len=config.max_seq_len,
                    chat_template=chat_template, tracking=runs).write(out)
        log_artifacts(runs, [out / "loss.png", out / TrainResult.FILE, out / METRICS], "train")
        return metrics

    def _summary(self, ctx: StageContext, stats: dict[str, Any]) -> None:
        """A small table of the figures people compare: losses, throughput, packing."""
        from rich.table import Table

        table = Table(title="train", show_header=False)
        # (label, the figures it shows, how): a row none of whose figures this run has is left out
        rows = [("validation loss (base → tuned)", ("base_val_loss", "val_loss"), _pair),
                ("preference loss (start → tuned)", ("preference_base_val_loss", "preference_val_loss"), _pair),
                ("preference accuracy (start → tuned)",
                 ("preference_base_val_preference_accuracy", "preference_val_preference_accuracy"), _pair),
                ("train loss (last steps)", ("train_loss",), _fmt),
                ("steps / epochs", ("steps", "epochs"), lambda a, b: f"{a} / {b}"),
                ("tokens per second", ("tokens_per_second",), lambda v: _fmt(v, ",.0f")),
                ("packing efficiency", ("packing_efficiency",), lambda v: _fmt(v, ".1%")),
                ("attention", ("attention",), str),
                ("train time", ("train_seconds",), lambda v: f"{v} s")]
        for label, keys, show in rows:
            values = [stats.get(k) for k in keys]
            if any(v is not None and v != "" for v in values):
                table.add_row(label, show(*values))
        ctx.console.print(table)


def _keep_train_rejects(ctx: StageContext, split: Any, kept: int, path: Path, what: str) -> None:
    """The training split's rejects into the stage's rejects; an error when it kept nothing."""
    for reject in split.rejects:
        ctx.rejects.write(reject)
    if not kept:
        raise InputError(f"{path}: no usable {what} ({split.seen} read, {len(split.rejects)} rejected; "
                         "see rejects.jsonl)")


def _fmt(value: Any, spec: str = ".4f") -> str:
    return "—" if value is None else format(value, spec)


def _pair(a: Any, b: Any) -> str:
    return f"{_fmt(a)} → {_fmt(b)}"
