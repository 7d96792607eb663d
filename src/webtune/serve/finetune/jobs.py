"""Fine-tuning jobs: OpenAI's job objects, a queue on disk, and a worker running webtune's trainer.

Each job is ``<data>/jobs/<id>/job.json`` (the OpenAI job object plus private fields), written
atomically on every change, with its events (``events.jsonl``) and checkpoints
(``checkpoints.json``) beside it; training works in ``<id>/work`` and ``<id>/out``. One worker
thread runs queued jobs one at a time, oldest first, through the stages a pipeline would:
validate the training file (`webtune.dataset.validate`, lines and fields named as OpenAI does),
tokenize and train (`webtune.train.loop.Trainer`, checkpoints in the work dir), evaluate base vs
tuned on the validation file when there is one (`webtune.evaluate`: loss and ROUGE-L with their
paired bootstrap intervals; the report is a second result file and rides on the registry
version), register the adapter (`webtune.registry`, idempotent on the job id), then serve it
under its ``ft:`` id.

A restart finds jobs that were running: they are queued again and the trainer continues from
the job's last checkpoint (same data and settings, so the same fingerprint), so a step is never
trained twice; a job whose checkpoint cannot be used fails with that reason instead.

Jobs of ``method.type: dpo`` take files in OpenAI's preference format (``input``,
``preferred_output``, ``non_preferred_output``), validated as OpenAI does
(`webtune.dataset.preference`, line and field named). Training them needs the local trainer's
preference phase: `preference_train_config` maps such a job to the LocalTrainConfig fields
(``supervised: false``, ``preference: {method: dpo, beta, ...}``) and the job trains with the
local trainer's DPO loop (`webtune.train.preference`), from the base model, with its checkpoints,
events and resume like a supervised job.

A thread, not a process, runs the trainer: the tiny and small models fine-tuned here train in
the server's process and cancelling is a flag the trainer checks between optimizer steps.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from webtune.errors import WebtuneError
from webtune.jsonl import atomic_write_json

log = logging.getLogger("webtune.serve")

ACTIVE = ("validating_files", "queued", "running")
FINAL = ("succeeded", "failed", "cancelled")
DEFAULT_LR = 2e-4  # the local trainer's learning rate; learning_rate_multiplier scales it


class JobCancelled(Exception):
    """Raised inside the trainer when the job was cancelled."""


class JobPaused(Exception):
    """Raised inside the trainer once it has saved a checkpoint for a paused job (at ``step``)."""

    def __init__(self, step: int | None = None):
        super().__init__(f"paused at step {step}")
        self.step = step


class JobFailed(Exception):
    """A job failure with OpenAI's error fields."""

    def __init__(self, code: str, message: str, param: str | None = None):
        super().__init__(message)
        self.code, self.message, self.param = code, message, param


@dataclass
class FineTuneOptions:
    """How `webtune serve --fine-tuning` runs jobs."""

    data_dir: Path
    registry: Any = None  # ModelRegistry; None: the default registry
    model_aliases: dict[str, str] = field(default_factory=dict)  # OpenAI name -> webtune name or path
    train: dict[str, Any] = field(default_factory=dict)  # LocalTrainConfig fields every job starts from
    max_upload_bytes: int = 512 * 1024 * 1024
    organization: str = "webtune"
    device: str = "auto"  # where fine-tuned models are served
    # EvaluateConfig fields for the base-vs-tuned evaluation on a job's validation file
    evaluate: dict[str, Any] = field(default_factory=lambda: {"max_examples": 32, "max_new_tokens": 64})


def resolve_base(model: str, aliases: dict[str, str], download: bool = False) -> Path | None:
    """The base model directory a job's ``model`` names; `JobFailed` (model_not_available) if none.

    A Hugging Face Hub id (``org/repo[@revision]``) not in the cache yet is accepted without
    ``download`` (None: the job's worker downloads it, where a slow download blocks no request)
    and fetched with it.
    """
    from webtune.models import resolve_model
    from webtune.models.hub import hub_offline, parse_hub_ref

    target = aliases.get(model, model)
    try:
        return resolve_model(target, auto_prepare=download)
    except WebtuneError as exc:
        if not download and not hub_offline() and parse_hub_ref(target) is not None:
            return None  # not cached yet: the worker downloads it (and fails the job if it cannot)
        known = ", ".join(sorted(aliases)) or "none configured"
        raise JobFailed("model_not_available", f"Model {model!r} is not available for fine-tuning here: {exc} "
                        f"(OpenAI names mapped by model_aliases: {known})", "model") from None


class JobStore:
    """Jobs on disk: create, read, update (atomically), list, events and checkpoints."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()

    def dir(self, job_id: str) -> Path:
        return self.root / job_id

    def load(self, job_id: str) -> dict | None:
        path = self.dir(job_id) / "job.json"
        if "/" in job_id or not path.is_file():
            return None
        return json.loads(path.read_text(encoding="utf-8"))

    def save(self, state: dict) -> None:
        atomic_write_json(self.dir(state["job"]["id"]) / "job.json", state)

    def update(self, job_id: str, **fields: Any) -> dict:
        """Change fields of the job object (under the lock) and save; returns the state.

        ``cancelled`` is final: moving a cancelled job on raises `JobCancelled` (the worker's
        update lost the race with a cancel request).
        """
        with self._lock:
            state = self.load(job_id)
            assert state is not None
            status, new = state["job"]["status"], fields.get("status")
            if status == "cancelled" and new not in (None, "cancelled"):
                raise JobCancelled()
            if status == "paused" and new not in (None, "paused", "queued", "cancelled"):
                raise JobPaused()  # only resume or cancel moves a paused job on
            state["job"].update(fields)
            self.save(state)
            return state

    def all(self) -> list[dict]:
        """Every job's state, newest first."""
        states = [json.loads(p.read_text(encoding="utf-8")) for p in self.root.glob("ftjob-*/job.json")]
        return sorted(states, key=lambda s: (s["job"]["created_at"], s["seq"]), reverse=True)

    def requeue(self, job_id: str) -> dict:
        """Queue a paused job again; it continues from its checkpoint."""
        with self._lock:
            state = self.load(job_id)
            assert state is not None
            state["job"]["status"], state["resumed"] = "queued", True
            self.save(state)
            return state

    def event(self, job_id: str, message: str, level: str = "info", data: Any = None,
              kind: str = "message") -> None:
        """Append an event (OpenAI's fine_tuning.job.event)."""
        event = {"object": "fine_tuning.job.event", "id": f"ftevent-{uuid.uuid4().hex[:24]}",
                 "created_at": int(time.time()), "level": level, "message": message, "data": data, "type": kind}
        with self._lock, open(self.dir(job_id) / "events.jsonl", "a", encoding="utf-8") as out:
            out.write(json.dumps(event) + "\n")

    def events(self, job_id: str) -> list[dict]:
        """The job's events, newest first (as OpenAI lists them)."""
        path = self.dir(job_id) / "events.jsonl"
        if not path.is_file():
            return []
        lines = path.read_text(encoding="utf-8").splitlines()
        return [json.loads(l) for l in reversed(lines) if l.strip()]

    def checkpoints(self, job_id: str) -> list[dict]:
        """The job's checkpoints, newest first."""
        path = self.dir(job_id) / "checkpoints.json"
        return list(reversed(json.loads(path.read_text(encoding="utf-8")))) if path.is_file() else []

    def add_checkpoint(self, job_id: str, checkpoint: dict) -> None:
        with self._lock:
            path = self.dir(job_id) / "checkpoints.json"
            items = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
            items = [c for c in items if c["step_number"] != checkpoint["step_number"]] + [checkpoint]
            atomic_write_json(path, items)


def new_job(request: dict, owner: str, organization: str, seq: int) -> dict:
    """The state of a new job from a validated create request (see `routes.CreateJob`)."""
    hyper = dict(request.get("hyperparameters") or {})
    method = request.get("method") or {"type": "supervised"}
    kind = method.get("type", "supervised")
    if (method.get(kind) or {}).get("hyperparameters"):
        hyper.update(method[kind]["hyperparameters"])
    names = ("batch_size", "learning_rate_multiplier", "n_epochs") + (("beta",) if kind == "dpo" else ())
    hyper = {k: hyper.get(k, "auto") for k in names}
    job = {"object": "fine_tuning.job", "id": f"ftjob-{uuid.uuid4().hex[:24]}", "created_at": int(time.time()),
           "error": None, "fine_tuned_model": None, "finished_at": None, "hyperparameters": hyper,
           "model": request["model"], "organization_id": organization, "result_files": [],
           "seed": request.get("seed") if request.get("seed") is not None else random.randrange(2**31),
           "status": "validating_files", "trained_tokens": None, "training_file": request["training_file"],
           "validation_file": request.get("validation_file"), "estimated_finish": None, "integrations": [],
           "metadata": request.get("metadata"), "user_provided_suffix": request.get("suffix"),
           "method": {"type": kind, kind: {"hyperparameters": hyper}}}
    return {"job": job, "owner": owner, "seq": seq}


def ft_model_name(job: dict, organization: str) -> str:
    """``ft:<base>:<suffix or organization>::<job id tail>``, the id the tuned model is served as."""
    tag = job.get("user_provided_suffix") or organization
    return f"ft:{job['model']}:{tag}::{job['id'].removeprefix('ftjob-')[:8]}"


def train_config(options: FineTuneOptions, hyper: dict, seed: int) -> dict:
    """The LocalTrainConfig of a job: the server's settings with the job's hyperparameters."""
    config = {"device": "auto", **options.train, "seed": seed}
    return {**config, **hyper_settings(hyper, config.get("learning_rate", DEFAULT_LR))}


def hyper_settings(hyper: dict, learning_rate: float) -> dict:
    """The training settings a job's hyperparameters set (those not left to "auto"): epochs,
    batch size, and the learning rate as a multiple of ``learning_rate``."""
    settings: dict[str, Any] = {}
    if hyper.get("n_epochs") not in (None, "auto"):
        settings["epochs"] = hyper["n_epochs"]
    if hyper.get("batch_size") not in (None, "auto"):
        settings["batch_size"] = hyper["batch_size"]
    if hyper.get("learning_rate_multiplier") not in (None, "auto"):
        settings["learning_rate"] = learning_rate * float(hyper["learning_rate_multiplier"])
    return settings


DEFAULT_BETA = 0.1  # DPO's beta when a job leaves it to "auto" (TRL's and the DPO paper's usual value)


def job_method(job: dict) -> str:
    """``supervised`` or ``dpo``."""
    return (job.get("method") or {}).get("type", "supervised")


def preference_train_config(options: FineTuneOptions, hyper: dict, seed: int) -> dict:
    """The LocalTrainConfig fields of a ``dpo`` job: no supervised phase, a DPO phase with its settings.

    This is the hook between the API and the local preference trainer (``train.preference``):
    the job's ``n_epochs``, ``batch_size`` and ``learning_rate_multiplier`` set that phase's.
    """
    base = train_config(options, {}, seed)
    phase: dict[str, Any] = {"method": "dpo", "beta": DEFAULT_BETA if hyper.get("beta") in (None, "auto")
                             else float(hyper["beta"]), **hyper_settings(hyper, base.get("learning_rate", DEFAULT_LR))}
    return {**base, "supervised": False, "preference": phase}


def preference_training(options: FineTuneOptions, hyper: dict, seed: int) -> Any:
    """The validated LocalTrainConfig of a ``dpo`` job; `JobFailed` naming the setting when the
    server's ``train`` settings and the job's hyperparameters do not make a valid one."""
    from pydantic import ValidationError

    from webtune.train.backends.local_config import LocalTrainConfig

    try:
        return LocalTrainConfig.model_validate(preference_train_config(options, hyper, seed))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise JobFailed("invalid_hyperparameters", f"hyperparameters: {where}: {first['msg']}",
                        "hyperparameters") from None


class JobRunner:
    """The queue: a worker thread that runs queued jobs one at a time; survives restarts via the store."""

    def __init__(self, options: FineTuneOptions, files: Any, on_model: Callable[[str, Any], None]):
        self.options = options
        self.files = files
        self.store = JobStore(Path(options.data_dir) / "jobs")
        self.on_model = on_model  # (ft id, ModelRef) -> serve it
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._cancel: dict[str, threading.Event] = {}
        self._pause: dict[str, threading.Event] = {}
        self._thread: threading.Thread | None = None
        self._started: dict[str, tuple[float, int]] = {}  # job id -> (time, step) of its first logged step
        self._recover()

    # ------------------------------------------------------------------ lifecycle
    def _recover(self) -> None:
        """After a restart: jobs caught mid-run go back to the queue (they resume from their checkpoint)."""
        for state in self.store.all():
            job = state["job"]
            if job["status"] in ("running", "validating_files"):
                state["resumed"] = True  # its checkpoint must be used (see _train)
                state["job"]["status"] = "queued"
                self.store.save(state)
                self.store.event(job["id"], "Server restarted; the job is queued again and resumes from its last "
                                 "checkpoint", level="warn")
            elif job["status"] == "succeeded" and job.get("fine_tuned_model"):
                self._serve_done(state)

    def start(self) -> None:
        """Start the worker thread."""
        self._thread = threading.Thread(target=self._loop, name="webtune-finetune", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the worker (a running job is stopped at its next step and stays resumable)."""
        self._stop.set()
        self._wake.set()
        for event in self._cancel.values():
            event.set()
        if self._thread:
            self._thread.join(timeout=30)

    def submit(self, state: dict) -> dict:
        """Persist a new job and wake the worker."""
        self.store.save(state)
        self.store.event(state["job"]["id"], "Validating training file: " + state["job"]["training_file"])
        self._wake.set()
        return state["job"]

    def cancel(self, job_id: str) -> dict:
        """Cancel a job that has not finished; a finished one is returned unchanged."""
        state = self.store.load(job_id)
        assert state is not None
        if state["job"]["status"] in FINAL:
            return state["job"]
        event = self._cancel.get(job_id)
        if event is not None:
            event.set()
        state = self.store.update(job_id, status="cancelled", finished_at=int(time.time()))
        self.store.event(job_id, "Fine-tuning job cancelled")
        return state["job"]

    def pause(self, job_id: str) -> dict:
        """Pause a running job: the trainer saves a checkpoint at its next step and stops."""
        event = self._pause.get(job_id)
        if event is not None:
            event.set()
        state = self.store.update(job_id, status="paused")
        self.store.event(job_id, "Fine-tuning job paused")
        return state["job"]

    def resume(self, job_id: str) -> dict:
        """Queue a paused job again (it continues from the checkpoint saved when it paused)."""
        state = self.store.requeue(job_id)
        self.store.event(job_id, "Fine-tuning job resumed")
        self._wake.set()
        return state["job"]

    # ------------------------------------------------------------------ the worker
    def _next(self) -> dict | None:
        waiting = [s for s in self.store.all() if s["job"]["status"] in ("validating_files", "queued")]
        return min(waiting, key=lambda s: (s["job"]["created_at"], s["seq"])) if waiting else None

    def _loop(self) -> None:
        while not self._stop.is_set():
            state = self._next()
            if state is None:
                self._wake.wait(timeout=1.0)
                self._wake.clear()
                continue
            self._run(state)

    def _run(self, state: dict) -> None:
        job_id = state["job"]["id"]
        cancel = self._cancel.setdefault(job_id, threading.Event())
        self._pause[job_id] = threading.Event()
        try:
            self._run_stages(state, cancel)
        except JobPaused as paused:
            # The checkpoint is saved; `resume` queues the job again.
            self.store.event(job_id, f"Training stopped at step {paused.step}; resume continues from there",
                             data={"step": paused.step})
        except JobCancelled:
            if self._stop.is_set() and self.store.load(job_id)["job"]["status"] == "running":
                return  # shutdown, not a cancel: left running, resumed by the next server
        except JobFailed as exc:
            self._fail(job_id, exc)
        except Exception as exc:  # a job's failure must not stop the queue
            log.exception("fine-tuning job %s failed", job_id)
            self._fail(job_id, JobFailed("server_error", f"training failed: {exc}"))
        finally:
            self._cancel.pop(job_id, None)
            self._pause.pop(job_id, None)

    def _fail(self, job_id: str, exc: JobFailed) -> None:
        if self.store.load(job_id)["job"]["status"] == "cancelled":
            return
        self.store.update(job_id, status="failed", finished_at=int(time.time()),
                          error={"code": exc.code, "message": exc.message, "param": exc.param})
        self.store.event(job_id, exc.message, level="error")

    def _check(self, job_id: str, cancel: threading.Event) -> None:
        if cancel.is_set() or self.store.load(job_id)["job"]["status"] == "cancelled":
            raise JobCancelled()

    def _run_stages(self, state: dict, cancel: threading.Event) -> None:
        job = state["job"]
        job_id = job["id"]
        base = resolve_base(job["model"], self.options.model_aliases, download=True)
        assert base is not None
        from webtune.models import load_tokenizer

        tokenizer = load_tokenizer(base)
        train_path = self._validated(job, "training_file", tokenizer)
        val_path = self._validated(job, "validation_file", tokenizer) if job.get("validation_file") else None
        dpo = preference_training(self.options, job["hyperparameters"], job["seed"]) \
            if job_method(job) == "dpo" else None
        self._check(job_id, cancel)
        self.store.update(job_id, status="running")
        self.store.event(job_id, "Files validated, moving job to queued state")
        self.store.event(job_id, "Fine-tuning job started")
        result = self._train(state, base, tokenizer, train_path, val_path, cancel, dpo)
        self._check(job_id, cancel)
        # A preference validation file holds pairs, not chat examples: its figures are the
        # trainer's (validation DPO loss, reward margin, preference accuracy).
        evaluation = self._evaluate(state, base, result, val_path) if val_path and dpo is None else None
        self._check(job_id, cancel)
        version = self._register(state, base, result, evaluation)
        name = ft_model_name(job, self.options.organization)
        self._serve(name, version)
        metrics = result["metrics"]
        result_files = [self._results_file(state)["id"]]
        if evaluation is not None:
            result_files.append(self.files.save_bytes(
                evaluation.model_dump_json(indent=2).encode(), "evaluation.json", "fine-tune-results",
                state["owner"])["id"])
        self.store.update(job_id, status="succeeded", finished_at=int(time.time()), fine_tuned_model=name,
                          estimated_finish=None,
                          trained_tokens=metrics.get("train_tokens"), result_files=result_files,
                          registry_version=version.label)
        self.store.event(job_id, f"New fine-tuned model created: {name}")
        self.store.event(job_id, "The job has successfully completed")

    def _validated(self, job: dict, param: str, tokenizer: Any) -> Path:
        """The path of the job's ``param`` file once it passes OpenAI-style validation."""
        from webtune.dataset.preference import validate_preference_file
        from webtune.dataset.validate import validate_file

        file_id = job[param]
        path = self.files.content_path(file_id)
        if not path.is_file():
            raise JobFailed(f"invalid_{param}", f"{param} {file_id}: the file is gone",
                            param)
        try:
            # OpenAI asks for 10 training examples; a validation file may be smaller.
            minimum = 10 if param == "training_file" else 1
            if job_method(job) == "dpo":  # OpenAI's preference format, nothing else
                report = validate_preference_file(path, tokenizer=tokenizer, min_examples=minimum, openai_only=True)
            else:
                report = validate_file(path, tokenizer=tokenizer, min_examples=minimum)
        except WebtuneError as exc:
            raise JobFailed(f"invalid_{param}", f"{param} {file_id}: {exc}", param) from None
        if report.errors:
            first = report.errors[0]
            more = f" (and {len(report.errors) - 1} more errors)" if len(report.errors) > 1 else ""
            raise JobFailed(f"invalid_{param}", f"The job failed due to an invalid {param.replace('_', ' ')}: "
                            f"{file_id}: {first}{more}", param)
        return path

    def _train(self, state: dict, base: Path, tokenizer: Any, train_path: Path, val_path: Path | None,
               cancel: threading.Event, dpo: Any = None) -> dict:
        import hashlib

        from webtune.records import canonical_json
        from webtune.stage import sha256_file
        from webtune.train.backends.local_config import LocalTrainConfig
        from webtune.train.data import save_tokenized, tokenize_split
        from webtune.train.loop import TrainJob

        job = state["job"]
        folder = self.store.dir(job["id"])
        work, out = folder / "work", folder / "out"
        work.mkdir(exist_ok=True)
        out.mkdir(exist_ok=True)
        if dpo is not None:
            config, objective = dpo.preference_phase(), "dpo"
            data = self._preference_data(job, tokenizer, config, train_path, val_path, work)
        else:
            config, objective = LocalTrainConfig.model_validate(
                train_config(self.options, job["hyperparameters"], job["seed"])), "sft"
            train = tokenize_split(train_path, tokenizer, config.max_seq_len, config.chat_template)
            val = tokenize_split(val_path, tokenizer, config.max_seq_len, config.chat_template) if val_path else None
            if not train.examples:
                raise JobFailed("invalid_training_file", f"training_file {job['training_file']}: no usable "
                                "examples", "training_file")
            data = work / "data.json"
            save_tokenized(data, train.examples, val.examples if val else [], tokenizer.pad_token_id)
        setup = {"config": config.model_dump(mode="json"), "data": sha256_file(data), "base": str(base),
                 "objective": objective}
        # After a restart, a job that had saved a checkpoint must continue from it (resume=True makes
        # the trainer refuse one it cannot use, and the job fails with that reason) rather than train
        # those steps again; one that had not simply starts.
        resume = True if state.get("resumed") and self.store.checkpoints(job["id"]) else None
        if resume:
            self._check_resumable(job["id"], work)
        train_job = TrainJob(config=config.model_dump(mode="json"), base_model=str(base), base_model_path=str(base),
                             data_path=str(data), output_dir=str(out), work_dir=str(work), seed=job["seed"],
                             resume=resume, objective=objective,
                             fingerprint=hashlib.sha256(canonical_json(setup).encode()).hexdigest()[:16])
        try:
            return run_job_training(train_job, self, job["id"], cancel, self._pause[job["id"]])
        except WebtuneError as exc:  # e.g. a checkpoint made with other settings: never silently retrained
            raise JobFailed("resume_failed" if resume else "training_failed", f"training failed: {exc}") from None

    def _preference_data(self, job: dict, tokenizer: Any, config: Any, train_path: Path, val_path: Path | None,
                         work: Path) -> Path:
        """OpenAI preference files as webtune's records, tokenized for DPO (``preference_data.json``)."""
        from webtune.dataset.preference import read_record
        from webtune.jsonl import iter_jsonl_lines, write_jsonl
        from webtune.train.preference_data import save_preference, tokenize_preference_split

        splits = []
        for name, path in (("train", train_path), ("validation", val_path)):
            if path is None:
                splits.append([])
                continue
            ours = work / f"preference_{name}.jsonl"  # validated already: every line reads
            write_jsonl(ours, (read_record(obj, openai_only=True).to_json()
                               for _, obj, error in iter_jsonl_lines(path) if error is None))
            split = tokenize_preference_split(ours, tokenizer, config.max_seq_len, "dpo", config.chat_template)
            splits.append(split.items)
        if not splits[0]:
            raise JobFailed("invalid_training_file", f"training_file {job['training_file']}: no pair fits in "
                            f"{config.max_seq_len} tokens", "training_file")
        data = work / "preference_data.json"
        save_preference(data, "dpo", splits[0], splits[1], tokenizer.pad_token_id)
        return data

    def _check_resumable(self, job_id: str, work: Path) -> None:
        """Fail the job, with the reason, when the checkpoint it must continue from is gone."""
        from webtune.train.checkpoint import latest_checkpoint

        if latest_checkpoint(work) is None:
            step = self.store.checkpoints(job_id)[0]["step_number"]
            raise JobFailed("resume_failed", f"The server stopped while this job was training and its checkpoint "
                            f"(step {step}) is gone from {work}; the job is not trained again from the start")

    def _evaluate(self, state: dict, base: Path, result: dict, val_path: Path) -> Any:
        """Base vs tuned on the validation file, as the evaluate stage compares them: an `EvalReport`.

        Its headline (validation loss and ROUGE-L, tuned vs base, with intervals) becomes an event.
        """
        from rich.console import Console

        from webtune.evaluate.config import EvaluateConfig
        from webtune.evaluate.report import build_report, write_reports
        from webtune.evaluate.runner import run_local
        from webtune.evaluate.stage import make_metrics, to_item
        from webtune.handoffs import TrainResult
        from webtune.jsonl import iter_jsonl_lines
        from webtune.records import Example

        job = state["job"]
        self.store.event(job["id"], "Evaluating the fine-tuned model against the base on the validation file")
        items = [to_item(Example.model_validate(obj), line) for line, obj, error in iter_jsonl_lines(val_path)
                 if error is None]
        items = [item for item in items if item is not None]
        config = EvaluateConfig.model_validate({"metrics": ["loss", "rouge_l"], "forgetting": {"enabled": False},
                                                "contamination": {"enabled": False}, **self.options.evaluate})
        out = self.store.dir(job["id"]) / "out"
        train = TrainResult(backend="local", method="lora", base_model=str(base), base_model_path=str(base),
                            adapter_dir=result.get("adapter_dir"), model_dir=result.get("model_dir"))
        max_len = config.max_len or self.options.train.get("max_seq_len")
        run = run_local(items, out, train, str(base), config.model_copy(update={"max_len": max_len}),
                        Console(stderr=True, quiet=True))
        report, samples = build_report(run, make_metrics(config), config, counts={
            "test_examples": len(items), "evaluated": len(run.loss_items), "rejected": len(items) - len(run.loss_items),
            "loss_examples": len(run.loss_items), "generated": len(run.generated)})
        folder = self.store.dir(job["id"]) / "evaluation"
        folder.mkdir(exist_ok=True)
        write_reports(folder, report, samples, config)
        self.store.event(job["id"], "Validation: " + "; ".join(_headline(report, key) for key in ("loss", "rouge_l")
                                                                 if report.row(key)),
                         data={"metrics": report.metrics, "delta_ci95": {r.metric: r.delta_ci95 for r in report.rows}})
        return report

    def _register(self, state: dict, base: Path, result: dict, evaluation: Any = None) -> Any:
        from webtune.registry.store import ModelRegistry

        job = state["job"]
        registry = self.options.registry or ModelRegistry()
        artifact = result.get("adapter_dir") or result.get("model_dir")
        record = {"kind": "adapter" if result.get("adapter_dir") else "model", "backend": "local",
                  "method": "lora", "base_model": job["model"], "base_model_path": str(base),
                  "model_id": ft_model_name(job, self.options.organization),  # `webtune chat --model ft:...`
                  "description": f"fine-tuning job {job['id']}"}
        record["lineage"] = {"base_model": job["model"], "base_model_path": str(base),
                             "train_metrics": result.get("metrics", {}),
                             "eval_metrics": evaluation.metrics if evaluation is not None else {}}
        out = self.store.dir(job["id"]) / "out"  # the trainer reports the folder relative to its output dir
        return registry.register(f"ft-{job['id'].removeprefix('ftjob-')[:8]}", record, out / artifact,
                                 identity=job["id"])

    def _serve(self, name: str, version: Any) -> None:
        from webtune.serve.loader import ref_from_version

        self.on_model(name, ref_from_version(version))

    def _serve_done(self, state: dict) -> None:
        """Serve a job finished before a restart again (from its registry version)."""
        from webtune.registry.store import ModelRegistry

        job = state["job"]
        label = job.get("registry_version")
        if not label:
            return
        name, _, number = label.rpartition("@")
        registry = self.options.registry or ModelRegistry()
        try:
            self._serve(job["fine_tuned_model"], registry.get(name, int(number)))
        except Exception as exc:  # a deleted version must not stop the server
            log.warning("cannot serve %s again: %s", job["fine_tuned_model"], exc)

    def _results_file(self, state: dict) -> dict:
        """The step-metrics CSV (OpenAI's columns) as a ``fine-tune-results`` file."""
        rows = json.loads((self.store.dir(state["job"]["id"]) / "steps.json").read_text(encoding="utf-8")) \
            if (self.store.dir(state["job"]["id"]) / "steps.json").is_file() else []
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(["step", "train_loss", "train_accuracy", "valid_loss", "valid_mean_token_accuracy"])
        for row in rows:
            writer.writerow([row["step"], row.get("loss", ""), "", row.get("val_loss", ""), ""])
        return self.files.save_bytes(text.getvalue().encode(), "step_metrics.csv", "fine-tune-results",
                                     state["owner"])

    # ------------------------------------------------------------------ trainer callbacks
    def on_step(self, job_id: str, record: dict, total: int) -> None:
        """Record a logged step: a metrics event and a row of the step-metrics CSV."""
        path = self.store.dir(job_id) / "steps.json"
        rows = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
        merged = {r["step"]: r for r in rows}
        merged.setdefault(record["step"], {"step": record["step"]}).update(
            {k: record[k] for k in ("loss", "val_loss") if k in record})
        atomic_write_json(path, sorted(merged.values(), key=lambda r: r["step"]))
        if "loss" in record:
            started = self._started.setdefault(job_id, (time.time(), record["step"]))
            done = record["step"] - started[1]
            if done > 0:  # the steps left at this run's pace so far
                pace = (time.time() - started[0]) / done
                self.store.update(job_id, estimated_finish=int(time.time() + pace * (total - record["step"])))
            self.store.event(job_id, f"Step {record['step']}/{total}: training loss={record['loss']:.4f}",
                             data={"step": record["step"], "train_loss": record["loss"], "total_steps": total},
                             kind="metrics")

    def on_checkpoint(self, job_id: str, step: int, loss: float | None) -> None:
        """Record a saved checkpoint as OpenAI's checkpoint object."""
        state = self.store.load(job_id)
        name = ft_model_name(state["job"], self.options.organization) + f":ckpt-step-{step}"
        self.store.add_checkpoint(job_id, {
            "object": "fine_tuning.job.checkpoint", "id": f"ftckpt-{uuid.uuid4().hex[:24]}",
            "created_at": int(time.time()), "fine_tuned_model_checkpoint": name, "fine_tuning_job_id": job_id,
            "step_number": step, "metrics": {"step": float(step), "train_loss": loss}})


def _headline(report: Any, key: str) -> str:
    """``loss 2.31 -> 1.12 (delta -1.19, 95% CI -1.40..-0.98)`` for one metric of a report."""
    row = report.row(key)
    base, tuned = report.figure("base", key), report.figure("tuned", key)
    text = f"{key} {base:.4g} -> {tuned:.4g}" if base is not None and tuned is not None else f"{key} n/a"
    if row is not None and row.delta_ci95:
        low, high = row.delta_ci95
        text += f" (delta {tuned - base:+.4g}, 95% CI {low:+.4g}..{high:+.4g})"
    return text


def run_job_training(train_job: Any, runner: JobRunner, job_id: str, cancel: threading.Event,
                     pause: threading.Event | None = None) -> dict:
    """Train with webtune's loop, reporting steps and checkpoints to ``runner``.

    Stops at the next step on ``cancel``; on ``pause`` it first saves a checkpoint there, so
    that a resumed job trains no step twice.
    """
    from rich.console import Console

    from webtune.train.loop import RESULT, _reset_accelerate_state
    from webtune.train.run import trainer_class

    class JobTrainer(trainer_class(train_job.objective)):  # type: ignore[misc]
        last_loss: float | None = None

        def _train_step(self, step: int) -> dict:
            if cancel.is_set():
                raise JobCancelled()
            if pause is not None and pause.is_set():
                if step > 0:
                    self._save(step)  # `step` optimizer steps are done
                raise JobPaused(step)
            figures = super()._train_step(step)
            self.last_loss = figures["loss"]
            return figures

        def _log(self, log: Any, record: dict) -> None:
            super()._log(log, record)
            runner.on_step(job_id, {k: v for k, v in record.items() if v is not None}, self.plan.total_steps)

        def _save(self, step: int) -> None:
            super()._save(step)
            runner.on_checkpoint(job_id, step, self.last_loss)

    trainer = JobTrainer(train_job, console=Console(stderr=True, quiet=True))
    try:
        result = trainer.run()
        atomic_write_json(Path(train_job.work_dir) / RESULT, result)
        runner.on_checkpoint(job_id, result["metrics"]["steps"], result["metrics"].get("train_loss"))
        return result
    finally:
        _reset_accelerate_state()
