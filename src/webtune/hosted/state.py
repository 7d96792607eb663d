"""What a hosted run remembers in its work directory, written atomically at each change.

``<run>/.work/train/openai_state.json``::

    {"base_url": "https://api.openai.com/v1", "api_key_env": "OPENAI_API_KEY",
     "files": {"<sha256 of uploaded bytes>": {"file_id": "file-...", "name": "train.jsonl", "bytes": 1234}},
     "job": {"id": "ftjob-...", "request_key": "<hash>", "model": "...", "created_at": "..."},
     "previous_jobs": [...]}

The job id is saved the moment the API returns it, so a rerun after a crash or Ctrl-C
reattaches to the same job instead of paying for a second one. No secret is ever stored.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from webtune.errors import InputError
from webtune.handoffs import TrainResult
from webtune.jsonl import atomic_write_json
from webtune.records import utc_now

STATE_FILE = "openai_state.json"


@dataclass
class HostedState:
    """Uploaded files by content hash and the current job of one run's train stage."""

    path: Path
    base_url: str | None = None
    api_key_env: str | None = None  # the variable's name, never its value
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    job: dict[str, Any] | None = None
    previous_jobs: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def load(cls, work_dir: Path) -> "HostedState":
        """The state in ``work_dir`` (empty when there is none yet)."""
        path = Path(work_dir) / STATE_FILE
        if not path.is_file():
            return cls(path=path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: unreadable hosted-training state ({exc}); "
                             "move it aside only if no job is running") from None
        return cls(path=path, base_url=data.get("base_url"), api_key_env=data.get("api_key_env"),
                   files=data.get("files", {}), job=data.get("job"), previous_jobs=data.get("previous_jobs", []))

    def save(self) -> None:
        """Write the state atomically (temp file + rename)."""
        data = asdict(self)
        data.pop("path")
        atomic_write_json(self.path, data)

    def remember_file(self, sha256: str, file_id: str, name: str, size: int) -> None:
        """Record an upload at once, so it is never repeated for the same content."""
        self.files[sha256] = {"file_id": file_id, "name": name, "bytes": size, "base_url": self.base_url,
                              "uploaded_at": utc_now()}
        self.save()

    def forget_file(self, sha256: str) -> None:
        """Drop an upload the API no longer has."""
        self.files.pop(sha256, None)
        self.save()

    def remember_job(self, job_id: str, request_key: str, model: str) -> None:
        """Record a new job id at once; an earlier job moves to ``previous_jobs``."""
        if self.job and self.job.get("id") != job_id:
            self.previous_jobs.append(self.job)
        self.job = {"id": job_id, "request_key": request_key, "model": model, "created_at": utc_now()}
        self.save()

    def update_job(self, **values: Any) -> None:
        """Add facts about the current job (status, fine-tuned model) to the state."""
        if self.job is not None:
            self.job.update(values)
            self.save()


def find_job_id(run: str | Path) -> str:
    """The job id of a run: ``RUN`` is a run directory, its train directory or a run name."""
    candidates = [Path(run), Path("runs") / str(run)]
    for base in candidates:
        for state_dir in (base / ".work" / "train", base.parent / ".work" / "train"):
            state = state_dir / STATE_FILE
            if state.is_file():
                job = HostedState.load(state_dir).job
                if job and job.get("id"):
                    return job["id"]
        for result in (base / "train" / TrainResult.FILE, base / TrainResult.FILE):
            if result.is_file():
                job_id = TrainResult.read(result).job_id
                if job_id:
                    return job_id
    raise InputError(f"{run}: no hosted fine-tuning job found (looked for .work/train/{STATE_FILE} "
                     "and train/train_result.json in the run directory)")


def state_dir_for(run: str | Path) -> Path | None:
    """The ``.work/train`` directory of a run, when ``run`` names one."""
    for base in (Path(run), Path("runs") / str(run)):
        if (base / ".work" / "train" / STATE_FILE).is_file():
            return base / ".work" / "train"
    return None
