"""The training loop: the same code in-process and in every process of ``accelerate launch``.

Why a plain loop on `accelerate` rather than transformers' Trainer or TRL's SFTTrainer: webtune
needs exact control over (1) which packed rows make up each step, so that a resumed run sees
exactly the data of an uninterrupted one (`webtune.train.plan`), (2) the loss, which must be
the mean NLL over assistant tokens of the whole optimizer step (identical to the evaluate
stage's held-out loss, through `webtune.chat_format.encode_chat`), computed only where there
are labels (the LM head over 49k words is a third of a small model's compute), and (3) the
progress bar and metrics. `accelerate` still does all device, mixed-precision and distributed
work (DDP, FSDP, DeepSpeed), so there is no home-made distributed code here.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from webtune import faults
from webtune.errors import ConfigError, WebtuneError
from webtune.train import checkpoint as ckpt
from webtune.train.backends.local_config import LocalTrainConfig
from webtune.train.monitor import TENSORBOARD, MetricsLog, StepTimer, TrainProgress
from webtune.train.packing import (IGNORE_INDEX, best_fit_decreasing, collate_packed, collate_padded, row_length,
                                   training_units)
from webtune.train.plan import StepPlan, shard_for_eval

BEST = "best.pt"
RESULT = "result.json"


@dataclass
class TrainJob:
    """Everything a training process needs; JSON-able so it can cross ``accelerate launch``."""

    config: dict[str, Any]
    base_model: str
    base_model_path: str
    data_path: str
    output_dir: str
    work_dir: str
    seed: int
    # None: continue from a checkpoint of this same setup when there is one (the default);
    # True: that checkpoint must be usable (--resume); False: start over (--no-resume).
    resume: bool | None = None
    fingerprint: str = ""
    # Trackers and their run settings (webtune.tracking): backends, run_dir, project, run_name, params.
    tracking: dict[str, Any] | None = None
    # train.memory_check: refuse (or warn about) a run whose estimated peak will not fit.
    memory_check: str = "refuse"
    # "sft" (supervised, this module) or a preference method ("dpo", "orpo", "kto":
    # webtune.train.preference); each has its own data file format.
    objective: str = "sft"
    # An adapter (LoRA) or model (full) directory to start from instead of the bare base model.
    init_adapter: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def batch_nll(model: Any, batch: dict[str, Any], device: Any) -> tuple[Any, int]:
    """Summed NLL over the batch's labelled tokens, and their number.

    Logits are computed only at positions whose next token carries a label
    (``logits_to_keep``), which skips most of the LM head's work on prompt tokens.
    """
    import torch
    import torch.nn.functional as F

    labels = batch["labels"].to(device)
    keep = (labels[:, 1:] != IGNORE_INDEX).any(dim=0).nonzero().squeeze(1)
    if keep.numel() == 0:
        keep = torch.zeros(1, dtype=torch.long, device=device)  # keep the graph; loss 0
    kwargs = {"input_ids": batch["input_ids"].to(device), "use_cache": False, "logits_to_keep": keep}
    if "attention_mask" in batch:
        kwargs["attention_mask"] = batch["attention_mask"].to(device)
    else:
        # No mask: attention stays within each example, found from the restarting positions.
        kwargs["position_ids"] = batch["position_ids"].to(device)
    logits = model(**kwargs).logits
    targets = labels[:, keep + 1]
    nll = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1),
                          ignore_index=IGNORE_INDEX, reduction="sum")
    return nll, int((targets != IGNORE_INDEX).sum())


class Trainer:
    """One training run (one process of it); `run` returns the run's metrics."""

    def __init__(self, job: TrainJob, console: Console | None = None, launched: bool = False):
        self.job = job
        self.config = LocalTrainConfig.model_validate(job.config)
        self.console = console or Console(stderr=True)
        self.launched = launched
        self.work_dir = Path(job.work_dir)
        self.output_dir = Path(job.output_dir)
        # Figures of the last evaluation besides its loss, logged with it (preference metrics).
        self.eval_figures: dict[str, Any] = {}

    # ------------------------------------------------------------------ setup

    def _accelerator(self) -> Any:
        from accelerate import Accelerator

        from webtune.models import pick_device
        from webtune.train.modeling import pick_precision

        device = pick_device(self.config.device, "train.device")
        if self.launched:
            # accelerate launch's config file decides the precision (through the environment);
            # its use_cpu does not reach the processes, so the device is chosen here as well.
            return Accelerator(cpu=device == "cpu")
        # An earlier Accelerator in this process (another library's trainer, say TRL's in the
        # same notebook) leaves a process-wide state that refuses a different precision.
        _reset_accelerate_state()
        return Accelerator(cpu=device == "cpu",
                           mixed_precision=pick_precision(self.config.precision, device))

    def _setup(self) -> None:
        import torch
        from transformers import get_scheduler

        from webtune.models import load_tokenizer
        from webtune.train.modeling import load_for_training

        cfg = self.config
        acc = self.accelerator = self._accelerator()
        self.is_main = acc.is_main_process
        if acc.device.type == "cpu" and acc.num_processes > 1:
            # Processes on one machine share its cores; oversubscribing them is much slower.
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // acc.num_processes))
        self.device = acc.device
        self._load_data()
        self.plan = StepPlan(self.units, cfg.batch_size, cfg.gradient_accumulation_steps,
                             acc.num_processes, self.job.seed, cfg.epochs, cfg.max_steps)
        total = self.plan.total_steps
        self.eval_every = cfg.eval_steps if cfg.eval_steps is not None else max(1, round(total / 5))
        self.save_every = cfg.save_steps if cfg.save_steps is not None else max(1, round(total / 10))
        self.memory_plan = self._plan_memory()  # before the model takes the memory
        self._suggest_precision()
        self.tokenizer = load_tokenizer(Path(self.job.base_model_path))
        # LoRA's initial weights are random: seed them, so reruns and resumes start alike.
        from transformers import set_seed

        set_seed(self.job.seed)
        model = load_for_training(Path(self.job.base_model_path), cfg, acc.device.type,
                                  str(acc.mixed_precision), device_index=acc.local_process_index,
                                  init=Path(self.job.init_adapter) if self.job.init_adapter else None)
        params = [p for p in model.parameters() if p.requires_grad]
        self.n_trainable = sum(p.numel() for p in params)
        self.n_params = sum(p.numel() for p in model.parameters())
        optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
        # The scheduler is stepped by hand once per optimizer step (a prepared scheduler steps
        # once per process).
        self.scheduler = get_scheduler(
            cfg.lr_scheduler if cfg.lr_scheduler != "constant" else "constant_with_warmup",
            optimizer, num_warmup_steps=math.ceil(cfg.warmup_ratio * self.plan.total_steps),
            num_training_steps=self.plan.total_steps)
        deepspeed = acc.state.deepspeed_plugin
        if deepspeed is not None:
            # DeepSpeed accumulates and clips by itself and wants the micro-batch size up front
            # (webtune feeds batches without a DataLoader for it to infer that from).
            if cfg.gradient_accumulation_steps != 1:
                raise ConfigError("train.gradient_accumulation_steps: keep it at 1 with DeepSpeed "
                                  "(raise train.batch_size instead)")
            deepspeed.deepspeed_config["train_micro_batch_size_per_gpu"] = cfg.batch_size
        self.model, self.optimizer = acc.prepare(model, optimizer)
        from accelerate.utils import DistributedType

        self.sharded = acc.distributed_type in (DistributedType.FSDP, DistributedType.DEEPSPEED)

    def _plan_memory(self) -> Any:
        """Estimate, print and check this run's peak memory (`webtune.train.memory.check_run`)."""
        from webtune.train import memory

        units, examples = self._memory_units()
        return memory.check_run(self.config, Path(self.job.base_model_path), units, examples,
                                self.plan, self.accelerator, self.console if self.is_main else None,
                                self.job.memory_check)

    def _memory_units(self) -> tuple[list[list[int]], list[Any]]:
        """The step plan's units and the examples they index, as the memory check sizes them."""
        return self.units, self.train_ex

    def _suggest_precision(self) -> None:
        from webtune.train.modeling import precision_tip

        tip = precision_tip(self.config.precision, self.device.type, self.config.method)
        if tip and self.is_main:
            self.console.print(f"[dim]{tip}[/dim]")

    def _load_data(self) -> None:
        """The tokenized splits, the units the plan orders (packed rows or examples), the row length."""
        from webtune.train.data import load_tokenized

        cfg = self.config
        self.train_ex, self.val_ex, self.pad_id = load_tokenized(Path(self.job.data_path))
        lengths = [len(e) for e in self.train_ex]
        self.row_len = row_length(cfg, lengths + [len(e) for e in self.val_ex])
        self.units = training_units(cfg, lengths, self.row_len)
        self.val_units = best_fit_decreasing([len(e) for e in self.val_ex], self.row_len)

    # ------------------------------------------------------------------ state

    def _state(self) -> dict[str, Any]:
        return {"fingerprint": self.job.fingerprint, "world_size": self.accelerator.num_processes,
                "best_val": self.best_val, "bad_evals": self.bad_evals, "tokens": self.tokens,
                "train_seconds": self.train_seconds, "base_val": self.base_val,
                "base_figures": self.base_figures,
                # train_loss averages the last steps: a resumed run needs those before the kill.
                "recent": [{"loss": r["loss"], "label_tokens": r["label_tokens"]} for r in self.recent]}

    def _restore(self) -> int:
        """Load the latest checkpoint when resuming; return the step to continue from."""
        self.best_val: float | None = None
        self.base_val: float | None = None
        self.base_figures: dict[str, Any] = {}
        self.bad_evals, self.tokens, self.train_seconds = 0, 0, 0.0
        self.recent: list[dict[str, Any]] = []
        acc = self.accelerator
        found = ckpt.latest_checkpoint(self.work_dir) if self.job.resume is not False else None
        state = ckpt.read_state(found) if found is not None else {}
        mismatch = self._mismatch(found, state) if found is not None else ""
        if mismatch and self.job.resume:
            raise WebtuneError(mismatch)
        if found is None or mismatch:
            if self.is_main:
                self._fresh_start(mismatch)
            acc.wait_for_everyone()
            return 0
        if self.sharded:
            import torch

            acc.load_state(str(found / "accelerate"))
            self.scheduler.load_state_dict(torch.load(found / "scheduler.pt", weights_only=False))
        else:
            from webtune.train.modeling import load_trainable_state

            data = ckpt.load_checkpoint(found)
            load_trainable_state(acc.unwrap_model(self.model), data["trainable"])
            self.optimizer.load_state_dict(data["optimizer"])
            self.scheduler.load_state_dict(data["scheduler"])
        for key in ("best_val", "bad_evals", "tokens", "train_seconds", "base_val", "base_figures", "recent"):
            setattr(self, key, state.get(key, getattr(self, key)))
        if self.is_main:
            self.console.print(f"resuming from {found.name} (step {state['step']} of "
                               f"{self.plan.total_steps})")
        return int(state["step"])

    def _mismatch(self, found: Path, state: dict[str, Any]) -> str:
        """Why checkpoint ``found`` cannot be resumed here ('' when it can)."""
        if state.get("fingerprint") != self.job.fingerprint:
            return (f"{found}: this checkpoint was made with other data, settings or base model; "
                    "run `webtune train --no-resume` to start over")
        if state.get("world_size") != self.accelerator.num_processes:
            return (f"{found}: checkpoint made with {state.get('world_size')} processes, now "
                    f"{self.accelerator.num_processes}; resume with the same launcher settings")
        return ""

    def _fresh_start(self, mismatch: str = "") -> None:
        """Drop what an earlier attempt left in the work directory (saying so)."""
        old = ckpt.latest_checkpoint(self.work_dir)
        if mismatch:
            self.console.print(f"[yellow]{mismatch.split(';')[0]}; starting over[/yellow]")
        elif self.job.resume:
            self.console.print("[yellow]--resume: no checkpoint found, starting from step 0[/yellow]")
        elif old is not None:
            self.console.print(f"[yellow]--no-resume: dropping the checkpoint an interrupted run left "
                               f"at step {ckpt.read_state(old).get('step')}; starting over[/yellow]")
        ckpt.clear(self.work_dir)
        (self.work_dir / BEST).unlink(missing_ok=True)
        shutil.rmtree(self.work_dir / TENSORBOARD, ignore_errors=True)

    def _save(self, step: int) -> None:
        """Checkpoint ``step`` (all processes take part; the main one writes)."""
        acc = self.accelerator
        if self.sharded:
            # Every process writes its shard into the same temporary directory.
            path = ckpt.checkpoints_dir(self.work_dir) / f".step-{step}.sharded"
            if self.is_main:
                import shutil

                shutil.rmtree(path, ignore_errors=True)
                path.mkdir(parents=True)
            acc.wait_for_everyone()
            acc.save_state(str(path / "accelerate"))
            acc.wait_for_everyone()
            if self.is_main:
                import torch

                torch.save(self.scheduler.state_dict(), path / "scheduler.pt")
                ckpt.commit_checkpoint(self.work_dir, path, step, self._state(),
                                       self.config.save_total_limit)
        elif self.is_main:
            from webtune.train.modeling import trainable_state

            ckpt.save_checkpoint(
                self.work_dir, step, trainable=trainable_state(acc.unwrap_model(self.model)),
                optimizer=self.optimizer.state_dict(), scheduler=self.scheduler.state_dict(),
                state=self._state(), keep=self.config.save_total_limit)
        acc.wait_for_everyone()
        faults.point("train.checkpoint_saved")

    # ------------------------------------------------------------------ steps

    def _collate(self, unit_batch: list[int]) -> dict[str, Any]:
        if self.config.packing:
            rows = [[self.train_ex[i] for i in self.units[u]] for u in unit_batch]
            return collate_packed(rows, self.pad_id)
        return collate_padded([self.train_ex[self.units[u][0]] for u in unit_batch], self.pad_id)

    def _train_step(self, step: int) -> dict[str, float]:
        """One optimizer step over this process's micro-batches; returns global figures."""
        import torch

        acc, model = self.accelerator, self.model
        # Dropout draws from the step's own seed: a resumed run repeats them exactly.
        torch.manual_seed(self.job.seed * 1_000_003 + step)
        batches = [self._collate(b) for b in self.plan.micro_batches(step, acc.process_index)]
        # The step's loss is the summed NLL over the labelled tokens of all its micro-batches
        # and processes divided by their number, not a mean of per-micro-batch means (which
        # would weigh a token of a short example more). Processes average their gradients,
        # so each scales by the process count over the step's global token count.
        n_labels = sum(b["n_labels"] for b in batches)
        n_step = n_labels
        if acc.num_processes > 1:
            counted = acc.reduce(torch.tensor(float(n_labels), device=self.device), reduction="sum")
            n_step = float(counted) / acc.num_processes
        total_nll = torch.zeros((), device=self.device)
        for i, batch in enumerate(batches):
            sync = i == len(batches) - 1
            with contextlib.nullcontext() if sync else acc.no_sync(model):
                with acc.autocast():
                    nll, _ = batch_nll(model, batch, self.device)
                acc.backward(nll / (n_step or 1))
            total_nll += nll.detach()
        grad_norm = acc.clip_grad_norm_(model.parameters(), self.config.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        sums = torch.tensor([float(total_nll), n_labels, sum(b["n_real"] for b in batches),
                             sum(b["n_slots"] for b in batches)], device=self.device, dtype=torch.float64)
        sums = acc.reduce(sums, reduction="sum")
        return {"loss": float(sums[0] / max(sums[1], 1)), "label_tokens": int(sums[1]),
                "tokens": int(sums[2]), "slots": int(sums[3]),
                "grad_norm": float(grad_norm) if grad_norm is not None else float("nan")}

    def evaluate(self) -> float | None:
        """Mean NLL per assistant token on the validation split (None without one)."""
        import torch

        if not self.val_units:
            return None
        acc, model = self.accelerator, self.model
        model.eval()
        sums = torch.zeros(2, device=self.device, dtype=torch.float64)
        with torch.no_grad():
            for unit, counts in shard_for_eval(self.val_units, acc.num_processes, acc.process_index):
                batch = collate_packed([[self.val_ex[i] for i in unit]], self.pad_id)
                with acc.autocast():
                    nll, n = batch_nll(model, batch, self.device)
                if counts:
                    sums += torch.tensor([float(nll), n], device=self.device, dtype=torch.float64)
        model.train()
        sums = acc.reduce(sums, reduction="sum")
        return float(sums[0] / sums[1]) if sums[1] > 0 else None

    def _early_stop(self, val: float | None) -> bool:
        """Track the best validation loss; True when patience has run out."""
        cfg = self.config
        if val is None:
            return False
        if self.best_val is None or val < self.best_val - cfg.early_stopping_min_delta:
            self.best_val, self.bad_evals = val, 0
            if cfg.early_stopping_patience and self.is_main and not self.sharded:
                import torch

                from webtune.train.modeling import trainable_state

                torch.save(trainable_state(self.accelerator.unwrap_model(self.model)),
                           self.work_dir / BEST)
            return False
        self.bad_evals += 1
        return bool(cfg.early_stopping_patience and self.bad_evals >= cfg.early_stopping_patience)

    # ------------------------------------------------------------------ run

    def run(self) -> dict[str, Any]:
        """Train to the end (or early stop), save the outputs, and return the metrics."""
        self._setup()
        start = self._restore()
        cfg, plan = self.config, self.plan
        log = MetricsLog(self.work_dir, resume_step=start, tracking=self.job.tracking) if self.is_main else None
        if self.is_main:
            self._describe(start)
        self.model.train()
        stopped_early, last_eval, done = False, -1, start
        progress = TrainProgress(plan.total_steps, start, self.console, enabled=self.is_main)
        with progress:
            if start == 0:
                self.base_val = self.evaluate()
                self.base_figures = dict(self.eval_figures)  # the starting model's other figures
                last_eval = 0
                self._log(log, {"step": 0, "val_loss": self.base_val, "epoch": 0.0, **self.eval_figures})
                progress.val_loss = self.base_val
            for step in range(start, plan.total_steps):
                with StepTimer() as timer:
                    figures = self._train_step(step)
                done = step + 1
                self.tokens += figures["tokens"]
                self.train_seconds += timer.seconds
                self.recent = (self.recent + [figures])[-10:]
                tps = progress.tokens_per_second(figures["tokens"], timer.seconds)
                lr = self.scheduler.get_last_lr()[0]
                progress.update(done, figures["loss"], lr, tps)
                if done % cfg.log_steps == 0 or done == plan.total_steps:
                    self._log(log, {"step": done, "epoch": round(plan.epoch_at(done), 4),
                                    "loss": figures["loss"], "lr": lr, "grad_norm": figures["grad_norm"],
                                    "tokens": figures["tokens"], "tokens_per_s": tps,
                                    "padding_fraction": 1 - figures["tokens"] / max(figures["slots"], 1),
                                    **figures.get("extra", {})})
                if self.eval_every and done % self.eval_every == 0 and done < plan.total_steps:
                    val = self.evaluate()
                    last_eval = done
                    progress.val_loss = val
                    self._log(log, {"step": done, "epoch": round(plan.epoch_at(done), 4), "val_loss": val,
                                    **self.eval_figures})
                    if self._early_stop(val):
                        stopped_early = True
                        progress.note(f"early stopping at step {done}: validation loss has not "
                                      f"improved for {self.bad_evals} evaluations")
                if done % self.save_every == 0 and done < plan.total_steps and not stopped_early:
                    self._save(done)
                if stopped_early:
                    break
            final_step = done
            final_val = None
            if last_eval != final_step:
                final_val = self.evaluate()
                progress.set_val_loss(final_val)
                self._log(log, {"step": final_step, "epoch": round(plan.epoch_at(final_step), 4),
                                "val_loss": final_val, **self.eval_figures})
                self._early_stop(final_val)
            else:
                final_val = progress.val_loss
        if log is not None:
            log.close()
        restored = self._restore_best(final_val)
        dirs = self._save_outputs()
        metrics = self._metrics(final_step, final_val, self.recent, stopped_early, restored)
        return {**dirs, "metrics": metrics}

    def _log(self, log: MetricsLog | None, record: dict[str, Any]) -> None:
        if log is not None:
            log.log({k: v for k, v in record.items() if v is not None})

    def _restore_best(self, final_val: float | None) -> bool:
        """With early stopping, end on the best weights seen rather than the last ones."""
        best = self.work_dir / BEST
        if not (self.config.early_stopping_patience and best.exists() and final_val is not None
                and self.best_val is not None and self.best_val < final_val):
            return False
        import torch

        from webtune.train.modeling import load_trainable_state

        load_trainable_state(self.accelerator.unwrap_model(self.model),
                             torch.load(best, map_location="cpu", weights_only=True))
        return True

    def _save_outputs(self) -> dict[str, Any]:
        """Save the adapter / model into the output directory (main process)."""
        from webtune.train.modeling import save_trained

        acc = self.accelerator
        acc.wait_for_everyone()
        unwrapped = acc.unwrap_model(self.model)
        # Sharded weights are gathered by a collective call that every process must make.
        state_dict = acc.get_state_dict(self.model) if self.sharded else None
        dirs: dict[str, Any] = {}
        if self.is_main:
            dirs = save_trained(unwrapped, self.tokenizer, self.output_dir, self.config.method,
                                Path(self.job.base_model_path), self.config.merge, state_dict,
                                chat_template=self.config.chat_template)
        acc.wait_for_everyone()
        return dirs

    def _metrics(self, final_step: int, final_val: float | None, recent: list[dict[str, Any]],
                 stopped_early: bool, restored: bool) -> dict[str, Any]:
        labels = sum(r["label_tokens"] for r in recent)
        train_loss = (sum(r["loss"] * r["label_tokens"] for r in recent) / labels) if labels else None
        lengths = [len(e) for e in self.train_ex]
        slots = len(self.units) * self.row_len if self.config.packing else None
        return {
            "train_loss": train_loss,
            "val_loss": self.best_val if restored else final_val,
            "base_val_loss": self.base_val,
            "best_val_loss": self.best_val,
            "steps": final_step,
            "total_steps": self.plan.total_steps,
            "epochs": round(self.plan.epoch_at(final_step), 4),
            "early_stopped": stopped_early,
            "restored_best": restored,
            "train_tokens": self.tokens,
            "train_seconds": round(self.train_seconds, 2),
            "tokens_per_second": round(self.tokens / self.train_seconds, 1) if self.train_seconds else None,
            "rows": len(self.units) if self.config.packing else None,
            "row_length": self.row_len if self.config.packing else None,
            "packing_efficiency": round(sum(lengths) / slots, 4) if slots else None,
            "trainable_parameters": self.n_trainable,
            "parameters": self.n_params,
            "processes": self.accelerator.num_processes,
            "device": str(self.accelerator.device),
            "mixed_precision": self.accelerator.mixed_precision,
            "attention": getattr(self.accelerator.unwrap_model(self.model).config, "_attn_implementation", None),
        }

    def _describe(self, start: int) -> None:
        cfg, plan = self.config, self.plan
        lengths = [len(e) for e in self.train_ex]
        packed = (f"{len(self.units)} rows of ≤{self.row_len} tokens "
                  f"({sum(lengths) / (len(self.units) * self.row_len):.1%} full)"
                  if cfg.packing else f"{len(self.units)} examples, padded batches")
        self.console.print(
            f"[bold]train[/bold] {cfg.method} on {self.job.base_model} · {len(self.train_ex)} examples "
            f"→ {packed} · {plan.total_steps} steps × {plan.units_per_step} "
            f"{'rows' if cfg.packing else 'examples'} · {self.accelerator.num_processes} process(es) on "
            f"{self.accelerator.device} · trainable {self.n_trainable:,} of {self.n_params:,} parameters")



def _reset_accelerate_state() -> None:
    """Forget accelerate's process-wide state, so the next in-process run may differ in settings."""
    try:
        from accelerate.state import AcceleratorState, GradientState

        AcceleratorState._reset_state(reset_partial_state=True)
        GradientState._reset_state()
    except (ImportError, AttributeError):
        pass
