"""The HTTP side of OpenAI's Files and Fine-tuning APIs, mounted on the chat server's app.

Shapes follow OpenAI's API reference and the ``openai`` SDK's types: file objects, job objects,
``{"object": "list", "data", "has_more", "first_id", "last_id"}`` pages with ``after`` and
``limit``, and errors as ``{"error": {"message", "type", "param", "code"}}``. Files and jobs
belong to the API key that created them: another key sees a 404, as for an id that does not
exist.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.requests import Request  # at module level: FastAPI resolves handler annotations here

from webtune.serve.errors import RequestError
from webtune.serve.finetune.files import PURPOSES, FileStore, UploadTooLarge
from webtune.serve.finetune.jobs import ACTIVE, FineTuneOptions, JobFailed, JobRunner, new_job, resolve_base

FILES_PATH = "/v1/files"
MAX_LIMIT = 100
FEED_BYTES = 16 * 1024  # bytes handed to the multipart decoder at a time
FIELD_BYTES = 4 * 1024  # longest plain form field (purpose)


class Hyperparameters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The number first: its complaint ("greater than or equal to 1") is the one reported.
    batch_size: Annotated[int, Field(ge=1, le=256)] | Literal["auto"] | None = None
    learning_rate_multiplier: Annotated[float, Field(gt=0, le=10)] | Literal["auto"] | None = None
    n_epochs: Annotated[int, Field(ge=1, le=1000)] | Literal["auto"] | None = None


class Supervised(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hyperparameters: Hyperparameters | None = None


class DpoHyperparameters(Hyperparameters):
    beta: Annotated[float, Field(gt=0, le=2)] | Literal["auto"] | None = None


class Dpo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hyperparameters: DpoHyperparameters | None = None


class Method(BaseModel):
    """``{"type": "supervised" | "dpo", <type>: {"hyperparameters": {...}}}``, as OpenAI takes it."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["supervised", "dpo"]
    supervised: Supervised | None = None
    dpo: Dpo | None = None

    @model_validator(mode="after")
    def _settings_of_its_type(self) -> "Method":
        other = "dpo" if self.type == "supervised" else "supervised"
        if getattr(self, other) is not None:
            raise ValueError(f"method.{other} given for method.type {self.type!r}")
        return self


class CreateJob(BaseModel):
    """OpenAI's create-job request (``integrations`` accepted and ignored)."""

    model_config = ConfigDict(extra="forbid")

    model: str
    training_file: str
    validation_file: str | None = None
    hyperparameters: Hyperparameters | None = None
    method: Method | None = None
    suffix: str | None = Field(None, max_length=64)
    seed: int | None = Field(None, ge=0)
    metadata: dict[str, str] | None = None
    integrations: list[dict[str, Any]] | None = None


def owner_of(request: Any, keys_on: bool) -> str:
    """Who is asking: a digest of the API key sent (keys on), else everybody is the same owner."""
    if not keys_on:
        return ""
    given = request.headers.get("authorization", "")
    token = given[7:].strip() if given[:7].lower() == "bearer " else ""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def page(items: list[dict], after: str | None, limit: int) -> dict:
    """OpenAI's cursor page: the items after the one with id ``after``, at most ``limit``."""

    if not 1 <= limit <= MAX_LIMIT:
        raise RequestError(400, f"limit: must be between 1 and {MAX_LIMIT}", "limit", "invalid_value")
    if after is not None:
        ids = [i["id"] for i in items]
        items = items[ids.index(after) + 1:] if after in ids else []
    chunk = items[:limit]
    return {"object": "list", "data": chunk, "has_more": len(items) > limit,
            "first_id": chunk[0]["id"] if chunk else None, "last_id": chunk[-1]["id"] if chunk else None}


def mount(app: Any, table: Any, options: FineTuneOptions, keys_on: bool) -> JobRunner:
    """Add the Files and Fine-tuning endpoints to ``app``; start and return the job runner."""
    from fastapi import Query
    from starlette.responses import FileResponse


    data = Path(options.data_dir)
    files = FileStore(data / "files", options.max_upload_bytes)

    def serve_model(name: str, ref: Any) -> None:
        from webtune.serve.loader import load_chat_model
        from webtune.serve.table import Served, make_engine, version_info

        model = load_chat_model(ref, device=options.device)
        table.add(name, Served(model, make_engine(model, table.max_batch), version_info(ref)))

    runner = JobRunner(options, files, serve_model)
    runner.start()
    app.state.finetune = runner

    def no_file(file_id: str) -> RequestError:
        return RequestError(404, f"No such File object: {file_id}", "id", "file_not_found")

    def own_job(job_id: str, owner: str) -> dict:
        state = runner.store.load(job_id)
        if state is None or state["owner"] != owner:
            raise RequestError(404, f"Could not find fine-tune job: {job_id}", "fine_tuning_job_id",
                               "fine_tune_job_not_found")
        return state

    # ------------------------------------------------------------------ files
    @app.post(FILES_PATH)
    async def upload(request: Request) -> dict:
        owner = owner_of(request, keys_on)
        try:
            return await _upload(request, files, owner)
        except UploadTooLarge as exc:
            raise RequestError(413, str(exc), "file", "file_too_large") from None

    @app.get(FILES_PATH)
    def list_files(request: Request, purpose: str | None = None, after: str | None = None,
                   limit: int = Query(100)) -> dict:
        listing = page(files.list(owner_of(request, keys_on), purpose), after, min(limit, MAX_LIMIT))
        return listing

    @app.get(FILES_PATH + "/{file_id}")
    def get_file(file_id: str, request: Request) -> dict:
        found = files.get(file_id, owner_of(request, keys_on))
        if found is None:
            raise no_file(file_id)
        return found

    @app.delete(FILES_PATH + "/{file_id}")
    def delete_file(file_id: str, request: Request) -> dict:
        if not files.delete(file_id, owner_of(request, keys_on)):
            raise no_file(file_id)
        return {"id": file_id, "object": "file", "deleted": True}

    @app.get(FILES_PATH + "/{file_id}/content")
    def file_content(file_id: str, request: Request) -> Any:
        found = files.get(file_id, owner_of(request, keys_on))
        if found is None:
            raise no_file(file_id)
        return FileResponse(files.content_path(file_id), media_type="application/octet-stream",
                            filename=found["filename"])

    # ------------------------------------------------------------------ jobs
    @app.post("/v1/fine_tuning/jobs")
    def create_job(body: CreateJob, request: Request) -> dict:
        owner = owner_of(request, keys_on)
        for param in ("training_file", "validation_file"):
            file_id = getattr(body, param)
            if file_id is not None and files.get(file_id, owner) is None:
                raise RequestError(400, f"invalid {param}: {file_id} (no such file)", param, "invalid_file")
        try:
            resolve_base(body.model, options.model_aliases)
        except JobFailed as exc:
            raise RequestError(400, exc.message, exc.param, exc.code) from None
        state = new_job(body.model_dump(mode="json", exclude_none=True), owner, options.organization,
                        seq=time.time_ns())
        return runner.submit(state)

    @app.get("/v1/fine_tuning/jobs")
    def list_jobs(request: Request, after: str | None = None, limit: int = Query(20)) -> dict:
        owner = owner_of(request, keys_on)
        jobs = [s["job"] for s in runner.store.all() if s["owner"] == owner]
        return page(jobs, after, limit)

    @app.get("/v1/fine_tuning/jobs/{job_id}")
    def get_job(job_id: str, request: Request) -> dict:
        return _public(own_job(job_id, owner_of(request, keys_on))["job"])

    def job_in(job_id: str, request: Request, allowed: tuple[str, ...], refusal: str) -> None:
        """The caller's job, in one of the ``allowed`` states, else a 400 ``invalid_state``."""
        status = own_job(job_id, owner_of(request, keys_on))["job"]["status"]
        if status not in allowed:
            raise RequestError(400, f"Job {job_id} " + refusal.format(status=status), None, "invalid_state")

    @app.post("/v1/fine_tuning/jobs/{job_id}/cancel")
    def cancel_job(job_id: str, request: Request) -> dict:
        job_in(job_id, request, (*ACTIVE, "paused"), "has already {status}; it cannot be cancelled")
        return _public(runner.cancel(job_id))

    @app.post("/v1/fine_tuning/jobs/{job_id}/pause")
    def pause_job(job_id: str, request: Request) -> dict:
        job_in(job_id, request, ("running",), "is {status}; only a running job can be paused")
        return _public(runner.pause(job_id))

    @app.post("/v1/fine_tuning/jobs/{job_id}/resume")
    def resume_job(job_id: str, request: Request) -> dict:
        job_in(job_id, request, ("paused",), "is {status}; only a paused job can be resumed")
        return _public(runner.resume(job_id))

    @app.get("/v1/fine_tuning/jobs/{job_id}/events")
    def job_events(job_id: str, request: Request, after: str | None = None, limit: int = Query(20)) -> dict:
        own_job(job_id, owner_of(request, keys_on))
        return page(runner.store.events(job_id), after, limit)

    @app.get("/v1/fine_tuning/jobs/{job_id}/checkpoints")
    def job_checkpoints(job_id: str, request: Request, after: str | None = None, limit: int = Query(10)) -> dict:
        own_job(job_id, owner_of(request, keys_on))
        return page(runner.store.checkpoints(job_id), after, limit)

    return runner


def _public(job: dict) -> dict:
    """The job object without webtune's private fields."""
    return {k: v for k, v in job.items() if k != "registry_version"}


async def _upload(request: Any, files: FileStore, owner: str) -> dict:
    """Stream a multipart upload (fields ``purpose`` and ``file``) to disk, chunk by chunk as it arrives.

    werkzeug's sans-I/O multipart decoder parses the body (Starlette's own form parsing needs
    python-multipart, not part of webtune's dependencies, and spools parts to memory first).
    """
    from werkzeug.sansio.multipart import Data, Epilogue, File, MultipartDecoder, NeedData
    from werkzeug.sansio.multipart import Field as FormField


    boundary = _boundary(request.headers.get("content-type", ""))
    if boundary is None:
        raise RequestError(400, "file: send the upload as multipart/form-data with fields 'purpose' and 'file'",
                           "file", "invalid_request")
    decoder = MultipartDecoder(boundary.encode(), max_form_memory_size=4 * FEED_BYTES)
    fields: dict[str, str] = {}
    current, filename, buffer = None, None, b""
    upload = files.open_upload()

    def drain() -> None:
        nonlocal current, filename, buffer
        while True:
            event = decoder.next_event()
            if isinstance(event, (NeedData, Epilogue)):
                return
            if isinstance(event, File):
                current, filename = "\0file", event.filename or "upload.jsonl"
            elif isinstance(event, FormField):
                current, buffer = event.name, b""
            elif isinstance(event, Data):
                if current == "\0file":
                    upload.write(event.data)
                elif current is not None:
                    buffer += event.data
                    if len(buffer) > FIELD_BYTES:
                        raise RequestError(400, f"{current}: form field longer than {FIELD_BYTES} bytes", current,
                                           "invalid_value")
                    if not event.more_data:
                        fields[current] = buffer.decode("utf-8", "replace")

    try:
        async for chunk in request.stream():
            # In slices: the decoder refuses to hold more than max_form_memory_size undecoded
            # bytes, and one read from the socket can be bigger than that.
            for start in range(0, len(chunk), FEED_BYTES):
                decoder.receive_data(chunk[start:start + FEED_BYTES])
                drain()
        decoder.receive_data(None)
        drain()
        purpose = fields.get("purpose")
        if filename is None:
            raise RequestError(400, "file: missing (multipart field 'file')", "file", "missing_required_parameter")
        if purpose not in PURPOSES:
            raise RequestError(400, f"purpose: {purpose!r} is not one of {sorted(PURPOSES)}", "purpose",
                               "invalid_value")
    except ValueError as exc:  # werkzeug: a malformed body
        upload.abort()
        raise RequestError(400, f"file: malformed multipart body: {exc}", "file", "invalid_request") from None
    except BaseException:
        upload.abort()
        raise
    return upload.finish(filename, purpose, owner)


def _boundary(content_type: str) -> str | None:
    if not content_type.lower().startswith("multipart/form-data"):
        return None
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "boundary":
            return value.strip('"')
    return None
