"""Running training under ``accelerate launch`` (DDP, FSDP, DeepSpeed; several CPU processes).

The stage process prepares the data and writes the job (``job.json``) into the work directory,
then runs ``accelerate launch --config_file FILE -m webtune.train.launch job.json``. Every
launched process runs the same `webtune.train.run.run_training`; the main one writes
``result.json`` (or ``error.json`` for an expected error), which the stage reads back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from webtune.errors import ConfigError, StageError, WebtuneError
from webtune.jsonl import atomic_write_json
from webtune.train.loop import RESULT, TrainJob

JOB = "job.json"
ERROR = "error.json"


def accelerate_command(config_file: Path, job_path: Path) -> list[str]:
    """The ``accelerate launch`` command line that trains ``job_path`` with ``config_file``."""
    return [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config_file),
            "-m", "webtune.train.launch", str(job_path)]


def launch_accelerate(job: TrainJob, config_file: Path | None, console: Console | None = None) -> dict[str, Any]:
    """Train ``job`` in the processes ``config_file`` describes; return the main process's result."""
    if config_file is None:
        raise ConfigError("--launcher accelerate needs --accelerate-config FILE (an accelerate "
                          "config; see examples/accelerate/)")
    config_file = Path(config_file)
    if not config_file.is_file():
        raise ConfigError(f"{config_file}: accelerate config file not found")
    work = Path(job.work_dir)
    for name in (RESULT, ERROR):
        (work / name).unlink(missing_ok=True)
    job_path = work / JOB
    atomic_write_json(job_path, job.to_json())
    command = accelerate_command(config_file, job_path)
    (console or Console(stderr=True)).print(f"[dim]$ accelerate launch --config_file {config_file} "
                                            f"-m webtune.train.launch {job_path}[/dim]")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(command, env=env)
    if (work / ERROR).is_file():
        raise WebtuneError(json.loads((work / ERROR).read_text(encoding="utf-8"))["message"])
    if proc.returncode != 0 or not (work / RESULT).is_file():
        raise StageError(f"accelerate launch exited with code {proc.returncode}; see the output "
                         "above (run the same command again to continue from the last checkpoint)")
    return json.loads((work / RESULT).read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    """Entry point of one launched process: ``python -m webtune.train.launch JOB.json``."""
    from webtune.train.run import run_training

    args = sys.argv[1:] if argv is None else argv
    job_path = Path(args[0])
    job = TrainJob(**json.loads(job_path.read_text(encoding="utf-8")))
    try:
        run_training(job, console=Console(stderr=True), launched=True)
    except WebtuneError as exc:
        if os.environ.get("RANK", "0") == "0":
            atomic_write_json(Path(job.work_dir) / ERROR, {"message": str(exc)})
            print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
