"""A local fake of the OpenAI HTTP API for tests: files, fine-tuning jobs and chat completions.

    with FakeOpenAI() as server:                       # threaded, 127.0.0.1, random port
        client = openai.OpenAI(base_url=server.base_url, api_key=server.api_key)
        ...
        assert server.counts["jobs.create"] == 1

What it implements (the paths the ``openai`` SDK calls, under ``/v1``):

* ``POST /files`` (multipart upload), ``GET /files/{id}``, ``GET /files/{id}/content``
* ``POST /fine_tuning/jobs`` (methods ``supervised`` and ``dpo``; a training file in the other
  method's format fails the job, as the API's validation does), ``GET /fine_tuning/jobs`` (cursor pages,
  ``metadata[k]=v`` filter),
  ``GET /fine_tuning/jobs/{id}``, ``.../events``, ``.../checkpoints``, ``POST .../cancel``
* ``POST /chat/completions`` (plain and ``stream: true``), ``GET /models/{id}``

A job advances one step each time it is retrieved (one poll), so tests run as fast as they
poll: ``validating_files`` -> ``queued`` -> ``running`` (metric events, checkpoints) ->
``succeeded`` (a fine-tuned model id and a base64 result CSV, as the real API returns), or
``failed`` with an error when ``server.fail_jobs`` holds a message.

Faults for retry tests: ``server.inject("jobs.create", 429, retry_after="0.05")`` makes the
next call to that route answer 429 (``times=`` for more, ``delay=`` to sleep first, which a
short client timeout turns into a timeout). ``server.counts`` counts the calls that reached
each route's handler (faults included under ``"<route>.fault"``), so a test can prove that a
resumed run created no second job and uploaded no file twice.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit

TERMINAL = ("succeeded", "failed", "cancelled")


@dataclass
class Fault:
    """One injected answer for a route: an HTTP status (with Retry-After) and/or a delay."""

    status: int | None
    retry_after: str | None = None
    delay: float = 0.0


@dataclass
class FakeJob:
    """A fine-tuning job and the frames it moves through, one per retrieve."""

    data: dict[str, Any]
    frames: list[dict[str, Any]]
    events: list[dict[str, Any]] = field(default_factory=list)
    checkpoints: list[dict[str, Any]] = field(default_factory=list)


class FakeOpenAI:
    """The fake API server; start it with ``with FakeOpenAI() as server`` or ``start()``."""

    def __init__(self, api_key: str = "sk-fake-test-key-0123456789", *, total_steps: int = 6,
                 steps_per_poll: int = 2, organization: str = "webtune-test"):
        self.api_key = api_key
        self.total_steps = total_steps
        self.steps_per_poll = steps_per_poll
        self.organization = organization
        self.files: dict[str, dict[str, Any]] = {}
        self.jobs: dict[str, FakeJob] = {}
        self.counts: Counter[str] = Counter()
        self.requests: list[tuple[str, str]] = []
        self.faults: dict[str, list[Fault]] = {}
        self.fail_jobs: str | None = None  # a message: jobs created from now on fail validation
        self.chat_reply: Callable[[dict[str, Any]], str] = default_chat_reply
        self.chat_requests: list[dict[str, Any]] = []
        self._known_models = {"gpt-4o-mini", "gpt-4o-mini-2024-07-18", "gpt-4.1-mini-2025-04-14"}
        self.lock = threading.RLock()
        self._ids = itertools.count(1)
        self._clock = itertools.count(1_700_000_000)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "FakeOpenAI":
        """Listen on 127.0.0.1 at a free port, serving from a daemon thread."""
        handler = type("Handler", (_Handler,), {"server_state": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "FakeOpenAI":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """The ``base_url`` to give the SDK (``http://127.0.0.1:PORT/v1``)."""
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    # ------------------------------------------------------------------ test helpers
    def inject(self, route: str, status: int | None = None, *, times: int = 1,
               retry_after: str | None = None, delay: float = 0.0) -> None:
        """Answer the next ``times`` calls of ``route`` (e.g. ``jobs.create``) with a fault."""
        with self.lock:
            self.faults.setdefault(route, []).extend(Fault(status, retry_after, delay) for _ in range(times))

    def add_fine_tuned_model(self, model_id: str) -> None:
        """Make ``model_id`` known to chat completions without running a job."""
        with self.lock:
            self._known_models.add(model_id)

    def new_id(self, prefix: str) -> str:
        """A unique id such as ``file-0001ab12cd34``."""
        return f"{prefix}-{next(self._ids):04d}{uuid.uuid4().hex[:8]}"

    def now(self) -> int:
        """A Unix time that grows by one second at each call (stable, ordered)."""
        return next(self._clock)

    # ------------------------------------------------------------------ jobs
    def create_job(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a job from a request body; raises _ApiError for a bad one."""
        for key in ("model", "training_file"):
            if not body.get(key):
                raise _ApiError(400, f"Missing required parameter: '{key}'.", param=key)
        for key in ("training_file", "validation_file"):
            file_id = body.get(key)
            if file_id and file_id not in self.files:
                raise _ApiError(400, f"invalid {key}: file {file_id} not found", param=key,
                                code="invalid_file")
        method = body.get("method") or {"type": "supervised", "supervised": {"hyperparameters": {}}}
        kind = method.get("type", "supervised")
        if kind not in ("supervised", "dpo"):
            raise _ApiError(400, f"invalid method type {kind!r}", param="method.type")
        given = dict((method.get(kind) or {}).get("hyperparameters") or {})
        hyper = {"n_epochs": given.get("n_epochs", "auto"), "batch_size": given.get("batch_size", "auto"),
                 "learning_rate_multiplier": given.get("learning_rate_multiplier", "auto")}
        if kind == "dpo":
            hyper["beta"] = given.get("beta", "auto")
        # like the API: a file in the other method's format fails the job's validation
        lines = self.files[body["training_file"]]["content"].decode("utf-8").splitlines()
        shape = "dpo" if lines and "preferred_output" in json.loads(lines[0]) else "supervised"
        job_id = self.new_id("ftjob")
        data = {
            "object": "fine_tuning.job", "id": job_id, "model": body["model"],
            "created_at": self.now(), "finished_at": None, "fine_tuned_model": None,
            "organization_id": f"org-{self.organization}", "result_files": [], "status": "validating_files",
            "validation_file": body.get("validation_file"), "training_file": body["training_file"],
            "hyperparameters": hyper, "method": {"type": kind, kind: {"hyperparameters": hyper}},
            "trained_tokens": None, "seed": body.get("seed") if body.get("seed") is not None else 42,
            "suffix": body.get("suffix"), "metadata": body.get("metadata"), "error": None,
            "estimated_finish": None, "integrations": [],
        }
        frames = self._plan(bool(body.get("validation_file")))
        if shape != kind:
            frames = [{"status": "failed", "error": {"code": "invalid_training_file", "param": "training_file",
                                                     "message": f"training file is not in the {kind} format"}}]
        job = FakeJob(data=data, frames=frames)
        self.jobs[job_id] = job
        self._event(job, "Created fine-tuning job")
        self._event(job, "Validating training file")
        return data

    def _plan(self, has_validation: bool) -> list[dict[str, Any]]:
        """The frames a job moves through, one per poll."""
        if self.fail_jobs:
            return [{"status": "failed", "error": {"code": "invalid_training_file",
                                                   "message": self.fail_jobs, "param": "training_file"}}]
        frames: list[dict[str, Any]] = [{"status": "queued"}, {"status": "running", "steps": []}]
        steps = list(range(1, self.total_steps + 1))
        for i in range(0, len(steps), self.steps_per_poll):
            frames.append({"status": "running", "steps": steps[i:i + self.steps_per_poll],
                           "validation": has_validation})
        frames.append({"status": "succeeded", "validation": has_validation})
        return frames

    def advance(self, job: FakeJob) -> None:
        """Apply the job's next frame (called on each retrieve)."""
        if job.data["status"] in TERMINAL or not job.frames:
            return
        frame = job.frames.pop(0)
        status = frame["status"]
        if status == "queued":
            self._event(job, "Files validated, moving job to queued state")
        elif status == "running" and job.data["status"] != "running":
            self._event(job, "Fine-tuning job started")
        for step in frame.get("steps", []):
            self._metric(job, step, frame.get("validation", False))
        if status == "failed":
            job.data["error"] = frame["error"]
            job.data["finished_at"] = self.now()
            self._event(job, f"Training file validation failed: {frame['error']['message']}", level="error")
        if status == "succeeded":
            self._succeed(job, frame.get("validation", False))
        job.data["status"] = status

    def _metric(self, job: FakeJob, step: int, validation: bool) -> None:
        total = self.total_steps
        loss = round(2.0 * (0.8 ** step), 4)
        data: dict[str, Any] = {"step": step, "train_loss": loss, "total_steps": total,
                                "train_mean_token_accuracy": _accuracy(step)}
        if validation:
            data["valid_loss"] = round(loss * 1.1, 4)
            data["valid_mean_token_accuracy"] = _accuracy(step, -0.05)
            if step == total:  # the API reports the loss on the whole validation file at the end
                data["full_valid_loss"] = round(loss * 1.05, 4)
        self._event(job, f"Step {step}/{total}: training loss={loss}", data=data, kind="metrics")
        if step % max(1, total // 2) == 0:
            job.checkpoints.insert(0, {
                "object": "fine_tuning.job.checkpoint", "id": self.new_id("ftckpt"),
                "created_at": self.now(), "fine_tuning_job_id": job.data["id"], "step_number": step,
                "fine_tuned_model_checkpoint": f"{self._model_name(job)}:ckpt-step-{step}",
                "metrics": {"step": float(step), "train_loss": loss,
                            "valid_loss": data.get("valid_loss")},
            })

    def _model_name(self, job: FakeJob) -> str:
        base = job.data["model"]
        suffix = job.data.get("suffix") or ""
        return f"ft:{base}:{self.organization}:{suffix}:{job.data['id'][-8:]}"

    def _succeed(self, job: FakeJob, validation: bool) -> None:
        rows = ["step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"]
        for step in range(1, self.total_steps + 1):
            loss = round(2.0 * (0.8 ** step), 4)
            valid = f"{round(loss * 1.1, 4)}" if validation else ""
            vacc = f"{_accuracy(step, -0.05)}" if validation else ""
            rows.append(f"{step},{loss},{_accuracy(step)},{valid},{vacc}")
        content = base64.b64encode(("\n".join(rows) + "\n").encode())
        result = self._store_file(content, "step_metrics.csv", "fine-tune-results")
        model = self._model_name(job)
        self._known_models.add(model)
        job.data.update(fine_tuned_model=model, result_files=[result["id"]], finished_at=self.now(),
                        trained_tokens=1234 * self.total_steps)
        self._event(job, f"New fine-tuned model created: {model}")
        self._event(job, "The job has successfully completed")

    def cancel_job(self, job: FakeJob) -> None:
        """Cancel a job that has not ended (the API refuses to cancel a finished one)."""
        if job.data["status"] in TERMINAL:
            raise _ApiError(400, f"Job {job.data['id']} has already completed and cannot be cancelled.")
        job.data["status"] = "cancelled"
        job.data["finished_at"] = self.now()
        job.frames.clear()
        self._event(job, "Fine-tuning job cancelled")

    def _event(self, job: FakeJob, message: str, *, level: str = "info", data: Any = None,
               kind: str = "message") -> None:
        # The API lists events newest first; keep them in that order.
        job.events.insert(0, {"object": "fine_tuning.job.event", "id": self.new_id("ftevent"),
                              "created_at": self.now(), "level": level, "message": message,
                              "data": data or {}, "type": kind})

    # ------------------------------------------------------------------ files
    def _store_file(self, content: bytes, filename: str, purpose: str) -> dict[str, Any]:
        file_id = self.new_id("file")
        meta = {"object": "file", "id": file_id, "bytes": len(content), "created_at": self.now(),
                "filename": filename, "purpose": purpose, "status": "processed",
                "expires_at": None, "status_details": None}
        self.files[file_id] = {"meta": meta, "content": content}
        return meta


def _accuracy(step: int, shift: float = 0.0) -> float:
    """A token accuracy that rises with the step and stays below 1."""
    return round(min(0.99, 0.5 + 0.05 * step + shift), 3)


def default_chat_reply(body: dict[str, Any]) -> str:
    """A deterministic answer naming the model and echoing the last user message."""
    last = next((m.get("content") for m in reversed(body.get("messages", [])) if m.get("role") == "user"), "")
    if isinstance(last, list):  # content parts
        last = " ".join(part.get("text", "") for part in last if isinstance(part, dict))
    return f"[{body.get('model')}] {str(last)[:200]}"


class _ApiError(Exception):
    def __init__(self, status: int, message: str, *, param: str | None = None,
                 code: str | None = None, kind: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.kind = status, message, param, code, kind

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}


_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("POST", re.compile(r"^/v1/files$"), "files.create"),
    ("GET", re.compile(r"^/v1/files/(?P<id>[^/]+)/content$"), "files.content"),
    ("GET", re.compile(r"^/v1/files/(?P<id>[^/]+)$"), "files.retrieve"),
    ("POST", re.compile(r"^/v1/fine_tuning/jobs$"), "jobs.create"),
    ("GET", re.compile(r"^/v1/fine_tuning/jobs$"), "jobs.list"),
    ("GET", re.compile(r"^/v1/fine_tuning/jobs/(?P<id>[^/]+)$"), "jobs.retrieve"),
    ("GET", re.compile(r"^/v1/fine_tuning/jobs/(?P<id>[^/]+)/events$"), "jobs.events"),
    ("GET", re.compile(r"^/v1/fine_tuning/jobs/(?P<id>[^/]+)/checkpoints$"), "jobs.checkpoints"),
    ("POST", re.compile(r"^/v1/fine_tuning/jobs/(?P<id>[^/]+)/cancel$"), "jobs.cancel"),
    ("POST", re.compile(r"^/v1/chat/completions$"), "chat.completions"),
    ("GET", re.compile(r"^/v1/models/(?P<id>.+)$"), "models.retrieve"),
]


class _Handler(BaseHTTPRequestHandler):
    server_state: FakeOpenAI
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        state = self.server_state
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        for verb, pattern, route in _ROUTES:  # noqa: B007 - the matching route is used below
            match = pattern.match(parts.path)
            if verb == method and match:
                break
        else:
            return self._json(404, _ApiError(404, f"Unknown path {method} {parts.path}").body())
        with state.lock:
            state.requests.append((method, parts.path))
            fault = state.faults.get(route, []).pop(0) if state.faults.get(route) else None
        if fault is not None:
            with state.lock:
                state.counts[f"{route}.fault"] += 1
            if fault.delay:
                time.sleep(fault.delay)
            if fault.status is not None:
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                kind = "rate_limit_exceeded" if fault.status == 429 else "server_error"
                return self._json(fault.status, _ApiError(fault.status, f"injected {fault.status}",
                                                          kind=kind).body(), headers)
        if self.headers.get("Authorization") != f"Bearer {state.api_key}":
            with state.lock:
                state.counts["unauthorized"] += 1
            # Like the real API, name the problem without echoing the key.
            return self._json(401, _ApiError(401, "Incorrect API key provided.", code="invalid_api_key").body())
        try:
            with state.lock:
                state.counts[route] += 1
                status, body, ctype = self._handle(route, match.groupdict(), raw, parts.query)
        except _ApiError as err:
            return self._json(err.status, err.body())
        if ctype == "application/json":
            return self._json(status, body)
        if ctype == "text/event-stream":
            return self._send(status, body, ctype)
        return self._send(status, body, ctype)

    # ------------------------------------------------------------------ routes
    def _handle(self, route: str, args: dict[str, str], raw: bytes, query: str) -> tuple[int, Any, str]:
        state = self.server_state
        q = dict(parse_qsl(query, keep_blank_values=True))
        if route == "files.create":
            fields = _multipart(self.headers.get("Content-Type", ""), raw)
            if "file" not in fields:
                raise _ApiError(400, "Missing file", param="file")
            content, filename = fields["file"]
            purpose = fields.get("purpose", (b"", ""))[0].decode()
            if purpose != "fine-tune":
                raise _ApiError(400, f"unsupported purpose {purpose!r}", param="purpose")
            _check_chat_jsonl(content)
            return 200, state._store_file(content, filename or "upload.jsonl", purpose), "application/json"
        if route in ("files.retrieve", "files.content"):
            stored = state.files.get(args["id"])
            if stored is None:
                raise _ApiError(404, f"No such File object: {args['id']}", param="id")
            if route == "files.retrieve":
                return 200, stored["meta"], "application/json"
            return 200, stored["content"], "application/octet-stream"
        if route == "jobs.create":
            return 200, state.create_job(json.loads(raw or b"{}")), "application/json"
        if route == "jobs.list":
            jobs = [j.data for j in sorted(state.jobs.values(), key=lambda j: j.data["created_at"], reverse=True)]
            wanted = {k[len("metadata["):-1]: v for k, v in q.items() if k.startswith("metadata[")}
            jobs = [j for j in jobs if all((j.get("metadata") or {}).get(k) == v for k, v in wanted.items())]
            return 200, _page(jobs, q), "application/json"
        if route == "chat.completions":
            return self._chat(json.loads(raw or b"{}"))
        if route == "models.retrieve":
            if args["id"] not in state._known_models:
                raise _ApiError(404, f"The model '{args['id']}' does not exist", code="model_not_found")
            return 200, {"object": "model", "id": args["id"], "created": 0, "owned_by": "fake"}, "application/json"
        job = state.jobs.get(args["id"])
        if job is None:
            raise _ApiError(404, f"Could not find fine-tune: {args['id']}", param="fine_tune_id")
        if route == "jobs.retrieve":
            state.advance(job)
            return 200, job.data, "application/json"
        if route == "jobs.events":
            return 200, _page(job.events, q), "application/json"
        if route == "jobs.checkpoints":
            return 200, _page(job.checkpoints, q), "application/json"
        if route == "jobs.cancel":
            state.cancel_job(job)
            return 200, job.data, "application/json"
        raise _ApiError(404, f"unhandled route {route}")

    def _chat(self, body: dict[str, Any]) -> tuple[int, Any, str]:
        state = self.server_state
        model = body.get("model")
        if model not in state._known_models:
            raise _ApiError(404, f"The model '{model}' does not exist or you do not have access to it.",
                            code="model_not_found")
        if not body.get("messages"):
            raise _ApiError(400, "'messages' is required", param="messages")
        state.chat_requests.append(body)
        text = state.chat_reply(body)
        created, cid = state.now(), state.new_id("chatcmpl")
        usage = {"prompt_tokens": sum(len(str(m.get("content", "")).split()) for m in body["messages"]),
                 "completion_tokens": len(text.split())}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        if body.get("stream"):
            chunks = []
            base = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model}
            pieces = re.findall(r"\S+\s*", text) or [""]
            for i, piece in enumerate(pieces):
                delta = {"role": "assistant", "content": piece} if i == 0 else {"content": piece}
                chunks.append({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
            chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
            payload = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
            return 200, payload.encode(), "text/event-stream"
        return 200, {
            "id": cid, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": "stop", "logprobs": None}],
            "usage": usage,
        }, "application/json"

    # ------------------------------------------------------------------ responses
    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(body).encode(), "application/json", headers)

    def _send(self, status: int, payload: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-request-id", f"req_{uuid.uuid4().hex[:12]}")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)


def _page(items: list[dict[str, Any]], q: dict[str, str]) -> dict[str, Any]:
    """A cursor page: items after the ``after`` id, at most ``limit`` of them."""
    start = 0
    if q.get("after"):
        ids = [item["id"] for item in items]
        start = ids.index(q["after"]) + 1 if q["after"] in ids else len(items)
    limit = int(q.get("limit") or 20)
    data = items[start:start + limit]
    return {"object": "list", "data": data, "has_more": start + limit < len(items),
            "first_id": data[0]["id"] if data else None, "last_id": data[-1]["id"] if data else None}


def _multipart(content_type: str, raw: bytes) -> dict[str, tuple[bytes, str | None]]:
    """Fields of a multipart/form-data body: name -> (bytes, filename)."""
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
    fields: dict[str, tuple[bytes, str | None]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        fields[name] = (part.get_payload(decode=True) or b"", part.get_filename())
    return fields


def _check_chat_jsonl(content: bytes) -> None:
    """Reject what the real API rejects in a fine-tuning file: non-JSON lines, unknown keys.

    A line is a chat example (``messages``) or a preference pair (``input``, ``preferred_output``,
    ``non_preferred_output``).
    """
    chat = {"messages", "tools", "parallel_tool_calls", "functions"}
    preference = {"input", "preferred_output", "non_preferred_output"}
    for number, line in enumerate(content.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            raise _ApiError(400, f"Invalid file format: line {number} is not JSON", param="file") from None
        allowed = preference if "input" in obj else chat
        extra = set(obj) - allowed
        if "input" in obj and not extra:
            if set(obj) != preference or not isinstance(obj["input"].get("messages"), list) \
                    or len(obj["preferred_output"]) != 1 or len(obj["non_preferred_output"]) != 1:
                raise _ApiError(400, f"Invalid file format: line {number} is not a preference pair", param="file")
            continue
        if extra or not isinstance(obj.get("messages"), list):
            raise _ApiError(400, f"Invalid file format: line {number} has unexpected keys {sorted(extra)}",
                            param="file")
