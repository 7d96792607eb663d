"""Running one training process: the loop of the job's objective, then ``result.json``.

Supervised jobs run `webtune.train.loop.Trainer`; preference jobs (dpo, orpo, kto) its subclass
`webtune.train.preference.PreferenceTrainer`. Called in-process by the local trainer backend and
in every process of ``accelerate launch`` (`webtune.train.launch`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from webtune.train.loop import RESULT, TrainJob, Trainer, _reset_accelerate_state
from webtune.train.preference import PreferenceTrainer


def trainer_class(objective: str) -> type[Trainer]:
    """The loop of an objective: supervised (`Trainer`) or a preference method."""
    return Trainer if objective == "sft" else PreferenceTrainer


def run_training(job: TrainJob, console: Console | None = None, launched: bool = False) -> dict[str, Any]:
    """Run one training process; the main process also writes ``result.json`` in the work dir."""
    from webtune.jsonl import atomic_write_json

    trainer = trainer_class(job.objective)(job, console=console, launched=launched)
    try:
        result = trainer.run()
        if trainer.accelerator.is_main_process:
            atomic_write_json(Path(job.work_dir) / RESULT, result)
        return result
    finally:
        if not launched:
            _reset_accelerate_state()
