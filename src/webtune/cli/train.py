"""`webtune train`: fine-tune the base model on the dataset stage's examples (local or hosted)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from webtune.cli.common import (ForceOption, InputOption, OutputOption, PipelineOption, RunDirOption,
                                new_app, run_stage_command)
from webtune.errors import ConfigError, InputError, WebtuneError

LAUNCHERS = ("none", "accelerate")


def train_overrides(resume: bool | None, merge: bool, launcher: str | None,
                    accelerate_config: Path | None) -> dict[str, Any]:
    """The ``train`` settings the command-line options change (nothing for options not given)."""
    section: dict[str, Any] = {}
    if resume is not None:
        section["resume"] = resume
    if merge:
        section["merge"] = True
    if launcher is not None:
        if launcher not in LAUNCHERS:
            raise ConfigError(f"--launcher: expected one of {', '.join(LAUNCHERS)} (got {launcher!r})")
        section["launcher"] = launcher
    if accelerate_config is not None:
        section["accelerate_config"] = str(accelerate_config.resolve())
        section.setdefault("launcher", "accelerate")
    if section.get("launcher") == "accelerate" and "accelerate_config" not in section:
        raise ConfigError("--launcher accelerate needs --accelerate-config FILE "
                          "(examples in examples/accelerate/)")
    return {"train": section} if section else {}


def _backend(pipeline_path: Path) -> str:
    """The train backend a pipeline file names (``local`` when it names none)."""
    from webtune.config import load_pipeline

    return load_pipeline(pipeline_path).train.backend


def show_memory_plan(pipeline_path: Path | None, run_dir: Path | None, input_dir: Path | None,
                     overrides: dict[str, Any]) -> None:
    """Print the memory plan of the local trainer for this pipeline; fail when it does not fit."""
    from webtune.cli.common import console, pipeline_for, resolve_run_dir
    from webtune.models import resolve_model
    from webtune.train import memory

    pipeline = pipeline_for(pipeline_path, overrides)
    config = pipeline.train
    if config.backend != "local":
        raise ConfigError("--plan: the memory plan is for the local backend (train.backend: local); "
                          "a hosted job runs on the provider's machines")
    if not pipeline.base_model:
        raise InputError("train: no base model (set base_model in the pipeline file)")
    if input_dir is None and (run_dir is not None or pipeline_path is not None):
        input_dir = resolve_run_dir(pipeline_path, pipeline, run_dir) / "dataset"
    seed = config.seed if config.seed is not None else pipeline.seed
    plan, source = memory.plan_run(config, resolve_model(pipeline.base_model), seed, input_dir)
    console.print(memory.render(plan, title=f"memory plan: {config.method} on {pipeline.base_model}"))
    console.print(f"batch sizes from {source}")
    from webtune.train.modeling import precision_tip

    tip = precision_tip(config.precision, plan.setup.device, config.method)
    if tip:
        console.print(f"[dim]{tip}[/dim]")
    if not plan.fits:
        raise WebtuneError(memory.refusal(plan, config))


def register(app: typer.Typer) -> None:
    """Add the `train` command group (the callback trains; hosted runs add subcommands)."""
    train_app = new_app("Fine-tune the base model on the dataset stage's examples.")
    train_app.info.no_args_is_help = False

    @train_app.callback(invoke_without_command=True)
    def train(
        ctx: typer.Context,
        pipeline: Optional[Path] = PipelineOption,
        run_dir: Optional[Path] = RunDirOption,
        input_dir: Optional[Path] = InputOption,
        output_dir: Optional[Path] = OutputOption,
        resume: Optional[bool] = typer.Option(
            None, "--resume/--no-resume", show_default=False,
            help="A killed run continues from its last checkpoint by default. --resume: it must "
            "(error when the checkpoint was made with other settings); --no-resume: start over."),
        merge: bool = typer.Option(False, "--merge",
                                   help="Also write the base model with the adapter merged in (model/)."),
        launcher: Optional[str] = typer.Option(None, "--launcher",
                                               help="How to run training: none (this process) or accelerate."),
        accelerate_config: Optional[Path] = typer.Option(
            None, "--accelerate-config", help="accelerate config file for --launcher accelerate "
            "(DDP, FSDP, DeepSpeed; see examples/accelerate/)."),
        force: bool = ForceOption,
        plan: bool = typer.Option(False, "--plan", help="Only print the memory plan (the estimated "
                                  "peak memory next to what the device has) and exit; trains nothing."),
    ) -> None:
        """Train (LoRA, QLoRA or full) on dataset/train.jsonl; writes <run-dir>/train/."""
        if ctx.invoked_subcommand is not None:
            return
        overrides = train_overrides(resume, merge, launcher, accelerate_config)
        if plan:
            show_memory_plan(pipeline, run_dir, input_dir, overrides)
            return
        if overrides and pipeline is not None and _backend(pipeline) != "local":
            # A hosted job resumes by itself (its id is kept in the work directory).
            if set(overrides["train"]) - {"resume"}:
                raise ConfigError("--merge, --launcher and --accelerate-config are for the local "
                                  "backend (train.backend: local)")
            overrides = {}
        run_stage_command("train", pipeline_path=pipeline, run_dir=run_dir, input_dir=input_dir,
                          output_dir=output_dir, force=force, overrides=overrides)

    app.add_typer(train_app, name="train")
    try:
        from webtune.cli.train_hosted import register_hosted

        register_hosted(train_app)
    except ImportError:
        pass
