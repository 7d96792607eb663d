"""Validate, upload once and create a fine-tuning job once (or reattach to the one that exists).

The order matters for money: the dataset stage's validator runs first and any error stops the
run before a byte is uploaded; then the job that may already exist for the same request (in
the run's state, or found by its metadata when a crash struck between the API's answer and
the state write) is reattached; only when there is none is the cost shown and confirmed,
the files uploaded (skipped when the same bytes were uploaded before) and the job created.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from webtune.errors import InputError, WebtuneError
from webtune.hosted.state import HostedState
from webtune.openai_client import APIError
from webtune.records import canonical_json

# The keys the fine-tuning API accepts on a chat line; webtune's `meta` is not one of them.
API_KEYS = ("messages", "tools", "parallel_tool_calls", "functions")
SPLITS = (("train", "train.jsonl"), ("validation", "validation.jsonl"))
# method dpo: the dataset stage's preference splits, uploaded in OpenAI's preference format
PREFERENCE_SPLITS = (("train", "preference_train.jsonl"), ("validation", "preference_validation.jsonl"))


def splits_for(method: str) -> tuple[tuple[str, str], ...]:
    """The dataset files a method trains on: chat splits, or preference splits for dpo."""
    return PREFERENCE_SPLITS if method == "dpo" else SPLITS
ACTIVE = ("validating_files", "queued", "running", "pausing", "paused")
# OpenAI picks n_epochs itself for "auto"; 3 is its usual choice, used only for the estimate.
AUTO_EPOCHS_FOR_ESTIMATE = 3
UPLOAD_TIMEOUT_S = 900.0


@dataclass
class PreparedSplit:
    """One split as it will be uploaded: chat fields only, with its hash and figures."""

    split: str
    source: Path
    path: Path
    sha256: str
    size: int
    examples: int
    tokens: int | None = None
    tokens_estimated: bool = True


@dataclass
class JobRequest:
    """Everything that decides a fine-tuning job; its key ties a job to exactly this request."""

    model: str
    method: str
    hyperparameters: dict[str, Any]
    suffix: str | None
    seed: int | None
    files: dict[str, str]  # split -> sha256 of the uploaded bytes
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """A hash of the request: the same data and settings give the same key."""
        parts = {"model": self.model, "method": self.method, "hyperparameters": self.hyperparameters,
                 "suffix": self.suffix, "seed": self.seed, "files": self.files}
        return hashlib.sha256(canonical_json(parts).encode()).hexdigest()[:32]


# ---------------------------------------------------------------- validate and prepare


def validate_splits(dataset_dir: Path, console: Console | None = None, method: str = "supervised") -> dict[str, Any]:
    """Run the dataset stage's validator on train/validation; raise naming every error found.

    Warnings (few examples, duplicates) are shown, not fatal: the API accepts such files. For
    ``dpo`` the preference splits are checked (`webtune.dataset.preference`), and a record
    without a pair (KTO) is an error: OpenAI's DPO takes pairs only.
    """
    reports: dict[str, Any] = {}
    problems: list[str] = []
    for split, name in splits_for(method):
        path = Path(dataset_dir) / name
        if not path.is_file():
            if split == "train":
                hint = " (add a preference generator to dataset.generators)" if method == "dpo" else ""
                raise InputError(f"{path}: training file not found; run the dataset stage first{hint}")
            continue
        if path.stat().st_size == 0 and split == "validation":
            continue
        # The API asks for at least 10 training examples; a validation file may be smaller.
        report = _validate(path, method, min_examples=10 if split == "train" else 1)
        reports[split] = report
        for err in report.errors:
            problems.append(f"{path}:{err.line}: {err.field}: {err.message}")
        if console is not None:
            for warning in report.warnings[:5]:
                console.print(f"[yellow]warning[/yellow] {name}: {escape(str(warning))}")
            if len(report.warnings) > 5:
                console.print(f"[yellow]warning[/yellow] {name}: ... and {len(report.warnings) - 5} more")
    if problems:
        shown = "\n".join(problems[:20]) + (f"\n... and {len(problems) - 20} more" if len(problems) > 20 else "")
        raise InputError(f"{len(problems)} validation error(s); nothing was uploaded:\n{shown}")
    return reports


def _validate(path: Path, method: str, min_examples: int) -> Any:
    """The validation report of one split file for ``method``."""
    if method == "dpo":
        from webtune.dataset.preference import validate_preference_file
        from webtune.dataset.validate import ValidationIssue

        report = validate_preference_file(path, min_examples=min_examples)
        unpaired = report.stats.get("n_valid", 0) - report.stats.get("paired", 0)
        if unpaired:
            report.errors.append(ValidationIssue(0, "(file)", f"{unpaired} records without a chosen/rejected pair "
                                                 "(KTO); OpenAI's dpo method takes pairs only"))
        return report
    from webtune.dataset.validate import validate_file

    return validate_file(path, min_examples=min_examples)


def api_line(obj: dict[str, Any], method: str = "supervised") -> dict[str, Any]:
    """One line as the API takes it: chat fields only, or OpenAI's preference format for dpo."""
    if method == "dpo":
        from webtune.dataset.preference import read_record

        return read_record(obj).to_openai()
    return {k: obj[k] for k in API_KEYS if k in obj}


def prepare_split(split: str, source: Path, dest: Path, tokens: int | None = None,
                  method: str = "supervised") -> PreparedSplit:
    """Write ``source`` without webtune's ``meta`` (the API takes only its own fields) to ``dest``."""
    from webtune.jsonl import atomic_path, read_jsonl

    examples = 0
    digest = hashlib.sha256()
    with atomic_path(dest) as tmp, open(tmp, "wb") as fh:
        for obj in read_jsonl(source):
            line = (json.dumps(api_line(obj, method), ensure_ascii=False) + "\n").encode()
            fh.write(line)
            digest.update(line)
            examples += 1
    return PreparedSplit(split, Path(source), Path(dest), digest.hexdigest(), dest.stat().st_size, examples, tokens)


def prepare_splits(dataset_dir: Path, upload_dir: Path, reports: dict[str, Any],
                   method: str = "supervised") -> dict[str, PreparedSplit]:
    """The train (and, when not empty, validation) files ready to upload."""
    prepared = {}
    for split, name in splits_for(method):
        if split not in reports:
            continue
        prepared[split] = prepare_split(split, Path(dataset_dir) / name, Path(upload_dir) / name,
                                        tokens=report_tokens(reports[split]), method=method)
        prepared[split].tokens_estimated = bool((reports[split].stats or {}).get("tokens_estimated", True))
        if prepared[split].examples == 0:
            if split == "train":
                raise InputError(f"{Path(dataset_dir) / name}: no training examples; nothing was uploaded")
            del prepared[split]
    return prepared


def report_tokens(report: Any) -> int | None:
    """The total token count of a validation report (``stats["tokens"]["total"]``), if any."""
    stats = getattr(report, "stats", None) or {}
    tokens = stats.get("tokens") if isinstance(stats, dict) else None
    if isinstance(tokens, dict) and isinstance(tokens.get("total"), (int, float)):
        return int(tokens["total"])
    if isinstance(tokens, (int, float)):
        return int(tokens)
    return None


# ---------------------------------------------------------------- cost


def estimate(prepared: dict[str, PreparedSplit], request: JobRequest,
             prices: dict[str, float] | None = None) -> dict[str, Any]:
    """Training tokens, epochs and the estimated price (the dataset stage's ``estimate_cost``).

    Only the training file is billed; validation tokens are not.
    """
    from webtune.dataset.tokens import approx_file_tokens
    from webtune.dataset.validate import estimate_cost

    train = prepared["train"]
    tokens = train.tokens if train.tokens is not None else approx_file_tokens(train.path)
    epochs = request.hyperparameters.get("n_epochs")
    epochs_n = AUTO_EPOCHS_FOR_ESTIMATE if epochs in (None, "auto") else int(epochs)
    usd = estimate_cost(tokens, epochs_n, request.model, prices=prices or None)
    if isinstance(usd, dict):
        usd = usd.get("usd")
    exact = train.tokens is not None and not train.tokens_estimated
    return {"train_tokens": tokens, "tokens_exact": exact, "epochs": epochs_n,
            "epochs_auto": epochs in (None, "auto"), "billed_tokens": tokens * epochs_n,
            "estimated_usd": round(float(usd), 4) if isinstance(usd, (int, float)) else None}


def cost_table(prepared: dict[str, PreparedSplit], model: str) -> Table:
    """The files about to be uploaded, for the terminal."""
    table = Table(title=f"OpenAI fine-tuning of {model}")
    table.add_column("file")
    table.add_column("examples", justify="right")
    table.add_column("tokens", justify="right")
    table.add_column("bytes", justify="right")
    for split in prepared.values():
        tokens = "-" if split.tokens is None else f"{'~' if split.tokens_estimated else ''}{split.tokens:,}"
        table.add_row(split.path.name, str(split.examples), tokens, f"{split.size:,}")
    return table


def cost_line(cost: dict[str, Any]) -> str:
    """One line: billed tokens and the estimated price."""
    approx = "" if cost["tokens_exact"] else " (estimated from characters)"
    epochs = f"{cost['epochs']}" + (" (auto: estimate)" if cost["epochs_auto"] else "")
    usd = cost["estimated_usd"]
    price = "unknown for this model" if usd is None else (f"${usd:.2f}" if usd >= 0.01 else f"${usd:.4f}")
    return (f"training tokens {cost['train_tokens']:,}{approx} × epochs {epochs} = "
            f"{cost['billed_tokens']:,} billed tokens; [bold]estimated cost {price}[/bold]")


def confirm_cost(config: Any, cost: dict[str, Any], console: Console) -> None:
    """Stop when the estimate is over ``max_cost_usd``; ask on a terminal unless told yes."""
    limit = getattr(config, "max_cost_usd", None)
    usd = cost.get("estimated_usd")
    if limit is not None and usd is not None and usd > limit:
        raise WebtuneError(f"estimated cost ${usd:.2f} is above train.max_cost_usd (${limit:.2f}); "
                           "nothing was uploaded")
    said_yes = getattr(config, "yes", False) or os.environ.get("WEBTUNE_YES", "") not in ("", "0")
    interactive = sys.stdin.isatty() and console.is_terminal
    if said_yes or not getattr(config, "confirm", True) or not interactive:
        return
    from rich.prompt import Confirm

    if not Confirm.ask("Upload and start this paid fine-tuning job?", console=console, default=False):
        raise WebtuneError("not confirmed: nothing was uploaded and no job was created")


# ---------------------------------------------------------------- upload once


def upload_once(client: Any, state: HostedState, split: PreparedSplit, console: Console) -> str:
    """The file id of ``split``'s bytes: reused when uploaded before and still there, else uploaded."""
    known = state.files.get(split.sha256)
    if known and known.get("base_url", state.base_url) == state.base_url:
        try:
            client.call(f"checking uploaded file {known['file_id']}", client.files.retrieve, known["file_id"])
            console.print(f"  {split.path.name}: already uploaded as {known['file_id']} (unchanged)")
            return known["file_id"]
        except APIError as exc:
            if exc.status != 404:  # only a 404 means the file is gone and must be sent again
                raise
            state.forget_file(split.sha256)
    with open(split.path, "rb") as fh:
        # Large files take longer than an ordinary request; give the upload its own limit.
        uploaded = client.call(f"uploading {split.path.name}", client.files.create,
                               file=(split.path.name, fh), purpose="fine-tune", timeout=UPLOAD_TIMEOUT_S)
    state.remember_file(split.sha256, uploaded.id, split.path.name, split.size)
    console.print(f"  {split.path.name}: uploaded as {uploaded.id} ({split.size:,} bytes)")
    return uploaded.id


# ---------------------------------------------------------------- create once


def existing_job(client: Any, state: HostedState, request: JobRequest, console: Console) -> Any | None:
    """The job to reattach to for ``request``: from the state, else found by its metadata."""
    job = state.job
    current = None
    if job and job.get("id"):
        try:
            current = client.call(f"retrieving job {job['id']}", client.fine_tuning.jobs.retrieve, job["id"])
        except APIError as exc:
            if exc.status != 404:
                raise
            # another account or base URL: that job is not ours to follow
            console.print(f"[yellow]job {job['id']} from the run's state is unknown to this API; ignoring it[/yellow]")
    if current is not None:
        same = job.get("request_key") == request.key
        if same and current.status not in ("failed", "cancelled"):
            console.print(f"reattaching to job [bold]{current.id}[/bold] ({current.status})")
            return current
        if not same and current.status in ACTIVE:
            raise APIError(
                f"job {current.id} (started for other data or settings) is still {current.status}; "
                "wait for it or cancel it with `webtune train cancel RUN`, then rerun"
            )
        if same:
            console.print(f"[yellow]previous job {current.id} ended {current.status}; starting a new one[/yellow]")
    # A crash between the API's answer and the state write leaves a job only the API knows:
    # find it by the metadata it was created with (this request, this run).
    wanted = {"webtune_request": request.key}
    if request.metadata.get("webtune_run"):
        wanted["webtune_run"] = request.metadata["webtune_run"]
    found = client.call("listing jobs", client.fine_tuning.jobs.list, metadata=wanted, limit=20)
    for candidate in found.data:
        meta = candidate.metadata or {}
        ours = all(meta.get(k) == v for k, v in wanted.items())
        if ours and candidate.status not in ("failed", "cancelled"):
            state.remember_job(candidate.id, request.key, request.model)
            console.print(f"reattaching to job [bold]{candidate.id}[/bold] found by its metadata ({candidate.status})")
            return candidate
    return None


def create_job(client: Any, state: HostedState, request: JobRequest, file_ids: dict[str, str],
               console: Console) -> Any:
    """Create the job and save its id before anything else can happen."""
    metadata = {**request.metadata, "webtune_request": request.key}
    hyper = {k: v for k, v in request.hyperparameters.items()}
    kwargs: dict[str, Any] = {
        "model": request.model, "training_file": file_ids["train"], "metadata": metadata,
        "method": {"type": request.method, request.method: {"hyperparameters": hyper}},
    }
    if "validation" in file_ids:
        kwargs["validation_file"] = file_ids["validation"]
    if request.suffix:
        kwargs["suffix"] = request.suffix
    if request.seed is not None:
        kwargs["seed"] = request.seed
    job = client.call("creating the fine-tuning job", client.fine_tuning.jobs.create, **kwargs)
    state.remember_job(job.id, request.key, request.model)  # at once: a rerun must reattach
    console.print(f"created job [bold]{job.id}[/bold] ({job.status})")
    return job


def start_or_reattach(client: Any, state: HostedState, request: JobRequest,
                      prepared: dict[str, PreparedSplit], config: Any, console: Console,
                      prices: dict[str, float] | None = None) -> Any:
    """The running (or finished) job for ``request``: reattached, or uploaded and created."""
    job = existing_job(client, state, request, console)
    if job is not None:
        return job
    cost = estimate(prepared, request, prices)
    console.print(cost_table(prepared, request.model))
    console.print(cost_line(cost))
    confirm_cost(config, cost, console)
    file_ids = {name: upload_once(client, state, split, console) for name, split in prepared.items()}
    return create_job(client, state, request, file_ids, console)
