"""An OpenAI-compatible HTTP server for chat models (FastAPI + uvicorn).

Endpoints: ``GET /v1/models``, ``GET /v1/models/{id}``, ``POST /v1/chat/completions`` (JSON,
or server-sent events with ``"stream": true``, ending with ``data: [DONE]``), and
``GET /health``. Any OpenAI client works against it:
``OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="none")``.

Behaves like OpenAI's API where it matters to clients: ``stop`` (up to four strings),
``n``, ``seed``, ``stream_options.include_usage``; unknown or out-of-range fields are a 400
naming the field (``{"error": {"message", "type", "param", "code"}}``); requests for a local
model are batched together (`webtune.serve.engine`). It defends itself: an API key
(``Authorization: Bearer``, compared in constant time), a request body limit (413), a prompt
token limit and ``max_tokens`` within the model's context (400), and a client that goes away
cancels its generation.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, AsyncIterator, Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request  # at module level: FastAPI resolves handler annotations here
from starlette.responses import StreamingResponse

from webtune.serve.engine import GenRequest
from webtune.serve.errors import RequestError
from webtune.serve.table import ModelTable, Served

log = logging.getLogger("webtune.serve")

MAX_N = 8
MAX_STOPS = 4
UNION_BRANCHES = {"str", "int", "float", "bool", "none", "StreamOptions", "constrained-int", "constrained-float"}


@dataclass
class ServeOptions:
    """The server's limits and key."""

    api_key: str | None = None  # several keys: one per line (the fine-tuning API scopes files and jobs per key)
    max_body_bytes: int = 1_048_576
    max_prompt_tokens: int | None = None  # None: the model's context
    default_max_tokens: int = 256
    max_batch: int = 8
    shutdown_s: float = 10.0  # SIGTERM: how long running requests may take to finish
    fine_tuning: Any = None  # a webtune.serve.finetune.jobs.FineTuneOptions: serve the Files and Fine-tuning APIs


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")  # name, tool_calls, tool_call_id ... pass through

    role: Literal["system", "user", "assistant", "developer", "tool"]
    content: str | list[dict[str, Any]] | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    include_usage: bool = False


class ChatRequest(BaseModel):
    """The fields of OpenAI's chat completion request that the server honours; any other is a 400."""

    model_config = ConfigDict(extra="forbid")

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    n: int | None = Field(None, ge=1, le=MAX_N)
    seed: int | None = None
    stop: str | Annotated[list[str], Field(max_length=MAX_STOPS)] | None = None
    user: str | None = None  # accepted and not used, as OpenAI accepts it for abuse tracking

    def stop_strings(self) -> list[str]:
        """``stop`` as a list (empty strings dropped: they would stop before anything)."""
        stops = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        return [s for s in stops if s]


def plain_messages(messages: list[ChatMessage]) -> list[dict[str, str]]:
    """``{"role", "content"}`` dicts; text parts of multi-part content joined, ``developer`` as system.

    Tool turns are left out (the local chat templates have no place for them).
    """
    out = []
    for m in messages:
        content = m.content
        if isinstance(content, list):
            content = "".join(p.get("text", "") for p in content if p.get("type") == "text")
        role = "system" if m.role == "developer" else m.role
        if role in ("system", "user", "assistant"):
            out.append({"role": role, "content": content or ""})
    return out


def _json_error(error: RequestError) -> Any:
    from fastapi.responses import JSONResponse

    return JSONResponse(status_code=error.status, content=error.body())


def _validation_error(exc: Any) -> RequestError:
    """Pydantic's first complaint as OpenAI's 400: ``param`` is the field's dotted path."""
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": "invalid request", "type": ""}
    parts = [str(p) for p in first["loc"] if p != "body"]
    # A union's failed branches show up as a path part ("str", "list[str]"): not part of the field.
    parts = [p for p in parts if p not in UNION_BRANCHES and not p.startswith(("list[", "dict[", "literal["))]
    param = ".".join(parts) or None
    if first.get("type") == "extra_forbidden":
        return RequestError(400, f"Unrecognized request argument supplied: {param}", param, "unknown_parameter")
    return RequestError(400, f"{param}: {first['msg']}" if param else first["msg"], param, "invalid_value")


def create_app(models: dict[str, Any] | ModelTable, options: ServeOptions | None = None,
               default_max_tokens: int | None = None) -> Any:
    """A FastAPI app answering with ``models`` (id -> chat model, or a `ModelTable`)."""
    from fastapi import FastAPI
    from fastapi.exceptions import RequestValidationError
    from starlette.concurrency import run_in_threadpool

    options = options or ServeOptions()
    if default_max_tokens is not None:
        options.default_max_tokens = default_max_tokens
    table = models if isinstance(models, ModelTable) else ModelTable.of_models(models, options.max_batch)
    app = FastAPI(title="webtune", version="1")
    app.state.table = table
    created = int(time.time())

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Any, exc: RequestValidationError) -> Any:
        return _json_error(_validation_error(exc))

    @app.exception_handler(RequestError)
    async def _refused(request: Any, exc: RequestError) -> Any:
        return _json_error(exc)

    def model_card(model_id: str, served: Served) -> dict[str, Any]:
        return {"id": model_id, "object": "model", "created": created, "owned_by": "webtune",
                "webtune": served.info}

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "models": table.ids()}

    @app.get("/v1/models")
    async def list_models() -> dict[str, Any]:
        await run_in_threadpool(table.refresh)
        return {"object": "list", "data": [model_card(i, s) for i, s in table.entries()]}

    @app.get("/v1/models/{model_id:path}")
    async def get_model(model_id: str) -> dict[str, Any]:
        await run_in_threadpool(table.refresh)
        return model_card(model_id, _served(table, model_id))

    @app.post("/v1/chat/completions")
    async def chat_completions(body: ChatRequest, http: Request) -> Any:
        await run_in_threadpool(table.refresh)
        served = _served(table, body.model)
        messages = plain_messages(body.messages)
        if not any(m["role"] in ("user", "system") for m in messages):
            raise RequestError(400, "messages: no user or system message to answer (tool and assistant "
                               "turns alone are not a question)", "messages", "invalid_value")
        jobs = await run_in_threadpool(_jobs, served, body, messages, options)
        events: asyncio.Queue = asyncio.Queue()
        loop = asyncio.get_running_loop()
        for index, job in enumerate(jobs):
            job.sink = _sink(loop, events, index)
            served.engine.submit(job)
        answer_id, model_name = f"chatcmpl-{uuid.uuid4().hex[:24]}", body.model
        if body.stream:
            usage = bool(body.stream_options and body.stream_options.include_usage)
            return CancellingStream(_sse(http, events, jobs, answer_id, model_name, usage), jobs,
                                    media_type="text/event-stream")
        try:
            done = await _collect(http, events, jobs)
        finally:
            for job in jobs:
                job.cancel()
        if done is None:  # the client went away: nobody to answer
            from fastapi.responses import Response

            return Response(status_code=499)
        return _completion_body(answer_id, model_name, done, jobs)

    if options.fine_tuning is not None:
        from webtune.serve.finetune.routes import mount

        mount(app, table, options.fine_tuning, keys_on=bool(options.api_key))
    return app


def _served(table: ModelTable, model_id: str) -> Served:
    served = table.get(model_id)
    if served is None:
        raise RequestError(404, f"The model {model_id!r} does not exist; served: {', '.join(table.ids())}",
                           "model", "model_not_found")
    return served


def _jobs(served: Served, body: ChatRequest, messages: list[dict[str, str]],
          options: ServeOptions) -> list[GenRequest]:
    """The ``n`` generation requests of a chat request, with the prompt and token limits checked."""
    requested = body.max_completion_tokens or body.max_tokens
    field_name = "max_completion_tokens" if body.max_completion_tokens else "max_tokens"
    prompt_ids: list[int] = []
    limit = requested or options.default_max_tokens
    if served.local:
        prompt_ids = _prompt_ids(served.model, messages)
        context = served.context or (len(prompt_ids) + limit)
        prompt_limit = min(options.max_prompt_tokens or context, context)
        if len(prompt_ids) > prompt_limit:
            raise RequestError(400, f"messages: the prompt is {len(prompt_ids)} tokens; the limit is "
                               f"{prompt_limit} tokens", "messages", "context_length_exceeded")
        room = context - len(prompt_ids)
        if requested and requested > room:
            raise RequestError(400, f"{field_name}: {requested} exceeds the room left in the model's context "
                               f"of {context} tokens after the prompt's {len(prompt_ids)} (at most {room})",
                               field_name, "context_length_exceeded")
        limit = min(limit, room)
        if limit < 1:
            raise RequestError(400, f"messages: the prompt fills the model's context of {context} tokens",
                               "messages", "context_length_exceeded")
    n = body.n or 1
    return [GenRequest(prompt_ids=prompt_ids, max_new_tokens=limit, sink=lambda e: None,
                       temperature=body.temperature or 0.0, top_p=body.top_p or 1.0,
                       seed=None if body.seed is None else body.seed + i, stop=body.stop_strings(),
                       messages=messages) for i in range(n)]


def _prompt_ids(model: Any, messages: list[dict[str, str]]) -> list[int]:
    """The prompt's token ids under the model's chat template; a template that refuses is a 400."""
    try:
        prompt = model.render(messages)
    except Exception as exc:  # jinja's TemplateError and the like: the conversation's shape
        raise RequestError(400, f"messages: the model's chat template refuses this conversation: {exc}",
                           "messages", "invalid_value") from None
    return model.tokenizer(prompt, add_special_tokens=False)["input_ids"]


def _sink(loop: asyncio.AbstractEventLoop, events: asyncio.Queue, index: int) -> Any:
    """A callback for the engine's thread that hands ``(index, event)`` to the request's event loop."""
    def sink(event: Any) -> None:
        try:
            loop.call_soon_threadsafe(events.put_nowait, (index, event))
        except RuntimeError:  # the loop is closed: the server is gone
            pass
    return sink


class _Watch:
    """Engine events for one HTTP request, with a look at the client's connection every 0.1 s."""

    def __init__(self, http: Any, events: asyncio.Queue):
        self.http, self.events = http, events
        self.checked = time.monotonic()

    async def next(self) -> Any:
        """The next engine event, or None once the client has disconnected."""
        while True:
            # Checked on a clock, not only when idle: a steady stream of tokens must not hide it.
            if time.monotonic() - self.checked > 0.1:
                self.checked = time.monotonic()
                if await self.http.is_disconnected():
                    return None
            try:
                return await asyncio.wait_for(self.events.get(), timeout=0.1)
            except asyncio.TimeoutError:
                continue


async def _collect(http: Any, events: asyncio.Queue, jobs: list[GenRequest]) -> list[Any] | None:
    """Every choice's `Completion`, in order; None when the client went away first."""
    done: dict[int, Any] = {}
    watch = _Watch(http, events)
    while len(done) < len(jobs):
        item = await watch.next()
        if item is None:
            return None
        index, (kind, value) = item
        if kind == "done":
            done[index] = value
        elif kind == "error":
            raise _engine_error(value)
    return [done[i] for i in range(len(jobs))]


def _engine_error(exc: BaseException) -> RequestError:
    from webtune.openai_client import APIError

    if isinstance(exc, APIError):
        return RequestError(502, str(exc), None, "upstream_error", "api_error")
    return RequestError(500, f"generation failed: {exc}", None, "internal_error", "server_error")


def _completion_body(answer_id: str, model: str, done: list[Any], jobs: list[GenRequest]) -> dict[str, Any]:
    prompt_tokens = done[0].prompt_tokens or len(jobs[0].prompt_ids)
    completion_tokens = sum(d.completion_tokens for d in done)
    return {
        "id": answer_id, "object": "chat.completion", "created": int(time.time()), "model": model,
        "choices": [{"index": i, "message": {"role": "assistant", "content": d.text},
                     "finish_reason": d.finish_reason, "logprobs": None} for i, d in enumerate(done)],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }


async def _sse(http: Any, events: asyncio.Queue, jobs: list[GenRequest], answer_id: str, model: str,
               include_usage: bool) -> AsyncIterator[str]:
    """Server-sent events in OpenAI's chunk format: role, content pieces, finish (per choice), usage, [DONE]."""
    base = {"id": answer_id, "object": "chat.completion.chunk", "created": int(time.time()), "model": model}
    if include_usage:
        base["usage"] = None

    def event(index: int, delta: dict[str, Any], finish: str | None = None) -> str:
        chunk = {**base, "choices": [{"index": index, "delta": delta, "finish_reason": finish, "logprobs": None}]}
        return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"

    for index in range(len(jobs)):
        yield event(index, {"role": "assistant", "content": ""})
    finished, completion_tokens, prompt_tokens = 0, 0, len(jobs[0].prompt_ids)
    watch = _Watch(http, events)
    while finished < len(jobs):
        item = await watch.next()
        if item is None:
            return  # CancellingStream cancels the generation
        index, (kind, value) = item
        if kind == "text":
            yield event(index, {"content": value})
        elif kind == "done":
            finished += 1
            completion_tokens += value.completion_tokens
            prompt_tokens = value.prompt_tokens or prompt_tokens
            yield event(index, {}, finish=value.finish_reason)
        else:
            yield f"data: {json.dumps(_engine_error(value).body())}\n\n"
            return
    if include_usage:
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                 "total_tokens": prompt_tokens + completion_tokens}
        yield f"data: {json.dumps({**base, 'choices': [], 'usage': usage})}\n\n"
    yield "data: [DONE]\n\n"


class CancellingStream(StreamingResponse):
    """A stream that cancels its generations however it ends (done, client gone, shutdown)."""

    def __init__(self, content: Any, jobs: list[GenRequest], **kwargs: Any):
        super().__init__(content, **kwargs)
        self.jobs = jobs

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            for job in self.jobs:
                job.cancel()


class Guard:
    """ASGI middleware in front of everything: the API key, then the request body limit.

    Pure ASGI rather than FastAPI middleware so that it neither buffers responses nor hides
    a client's disconnect from streaming responses.
    """

    def __init__(self, app: Any, api_key: str | None, max_body_bytes: int,
                 streamed: dict[str, int] | None = None):
        self.app = app
        self.api_key = api_key.encode() if api_key else None
        self.api_keys = [k.strip().encode() for k in (api_key or "").splitlines() if k.strip()]
        self.max_body_bytes = max_body_bytes
        # POST paths whose handler streams the body itself (file uploads), with their own limit.
        self.streamed = streamed or {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        if self.api_key and scope["path"] != "/health" and not self._authorized(headers):
            return await _send_json(send, RequestError(401, "Incorrect API key provided: send it as "
                                                       "'Authorization: Bearer <key>'", None, "invalid_api_key"))
        length = headers.get(b"content-length", b"").decode("latin-1")
        streamed = self.streamed.get(scope["path"]) if scope["method"] == "POST" else None
        if streamed is not None:
            if length.isdigit() and int(length) > streamed + 64 * 1024:  # + room for the form's other fields
                return await _send_json(send, RequestError(413, f"upload of {length} bytes; the limit is {streamed} "
                                                           "bytes (--max-upload-bytes)", "file", "file_too_large"))
            return await self.app(scope, receive, send)
        if length.isdigit() and int(length) > self.max_body_bytes:
            return await _send_json(send, self._too_large(int(length)))
        if scope["method"] in ("POST", "PUT", "PATCH"):
            body, more = b"", True
            while more:  # read the body ourselves: a chunked body has no length to check up front
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                body += message.get("body", b"")
                more = message.get("more_body", False)
                if len(body) > self.max_body_bytes:
                    return await _send_json(send, self._too_large(len(body), at_least=more))
            receive = _replay(body, receive)
        return await self.app(scope, receive, send)

    def _authorized(self, headers: dict[bytes, bytes]) -> bool:
        given = headers.get(b"authorization", b"")
        token = given[7:].strip() if given[:7].lower() == b"bearer " else b""
        # Every key is compared (no early exit), so the time taken does not tell which one matched.
        matches = [hmac.compare_digest(token, key) for key in self.api_keys]
        return any(matches)

    def _too_large(self, size: int, at_least: bool = False) -> RequestError:
        return RequestError(413, f"request body is {'more than ' if at_least else ''}{size} bytes; the limit is "
                            f"{self.max_body_bytes} bytes (--max-body-bytes)", None, "request_too_large")


def _replay(body: bytes, receive: Any) -> Any:
    """A ``receive`` that gives the already read body once, then defers to the client's."""
    sent = False

    async def replay() -> Any:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()
    return replay


async def _send_json(send: Any, error: RequestError) -> None:
    payload = json.dumps(error.body()).encode()
    await send({"type": "http.response.start", "status": error.status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})


def guarded_app(table: ModelTable | dict[str, Any], options: ServeOptions) -> Any:
    """`create_app` behind the `Guard`."""
    streamed = None
    if options.fine_tuning is not None:
        from webtune.serve.finetune.routes import FILES_PATH

        streamed = {FILES_PATH: options.fine_tuning.max_upload_bytes}
    return Guard(create_app(table, options), options.api_key, options.max_body_bytes, streamed)


def serve(table: ModelTable, host: str = "127.0.0.1", port: int = 8000, options: ServeOptions | None = None,
          log_level: str = "info") -> None:
    """Run the server until SIGINT/SIGTERM; SIGHUP re-resolves followed aliases at once.

    On SIGTERM running requests get ``options.shutdown_s`` seconds to finish; then they are
    cancelled (their clients see the stream end) and the process exits.
    """
    import signal
    import threading

    import uvicorn

    options = options or ServeOptions()
    app = guarded_app(table, options)
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level,
                            timeout_graceful_shutdown=max(1, int(options.shutdown_s)))
    server = uvicorn.Server(config)

    def reload(*_: Any) -> None:
        threading.Thread(target=lambda: [log.warning(c) for c in table.refresh(force=True)], daemon=True).start()

    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, reload)
    try:
        server.run()
    finally:
        runner = getattr(app.app.state, "finetune", None)
        if runner is not None:
            runner.close()  # a running job stops at its next step and resumes on the next start
        table.close()
