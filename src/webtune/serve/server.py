"""An OpenAI-compatible HTTP server for chat models (FastAPI + uvicorn).

Endpoints: ``GET /v1/models``, ``POST /v1/chat/completions`` (JSON, or server-sent events
with ``"stream": true``, ending with ``data: [DONE]``), and ``GET /health``. Any OpenAI
client works against it: ``OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="none")``.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Iterator, Literal

from pydantic import BaseModel, ConfigDict, Field


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "user", "assistant", "developer", "tool"]
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    """The fields of OpenAI's chat completion request that the server honours (others ignored)."""

    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float = Field(0.0, ge=0, le=2)
    top_p: float = Field(1.0, gt=0, le=1)
    stream: bool = False
    n: int = Field(1, ge=1, le=1)


def plain_messages(messages: list[ChatMessage]) -> list[dict[str, str]]:
    """``{"role", "content"}`` dicts; text parts of multi-part content joined, ``developer`` as system."""
    out = []
    for m in messages:
        content = m.content
        if isinstance(content, list):
            content = "".join(p.get("text", "") for p in content if p.get("type") == "text")
        role = "system" if m.role == "developer" else m.role
        if role in ("system", "user", "assistant"):
            out.append({"role": role, "content": content or ""})
    return out


def _error(status: int, message: str, code: str) -> Any:
    from fastapi.responses import JSONResponse

    return JSONResponse(status_code=status, content={"error": {
        "message": message, "type": "invalid_request_error", "param": None, "code": code}})


def create_app(models: dict[str, Any], default_max_tokens: int = 256) -> Any:
    """A FastAPI app answering with ``models`` (id -> chat model, see `webtune.serve.models`)."""
    from fastapi import FastAPI
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import StreamingResponse

    app = FastAPI(title="webtune", version="1")
    created = int(time.time())

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Any, exc: RequestValidationError) -> Any:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"] if p != "body")
        return _error(400, f"{where}: {first['msg']}", "invalid_request")

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "models": sorted(models)}

    @app.get("/v1/models")
    def list_models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": name, "object": "model", "created": created,
                                            "owned_by": "webtune"} for name in sorted(models)]}

    @app.post("/v1/chat/completions")
    def chat_completions(request: ChatRequest) -> Any:
        model = models.get(request.model)
        if model is None:
            return _error(404, f"model {request.model!r} not found; served: {', '.join(sorted(models))}",
                          "model_not_found")
        messages = plain_messages(request.messages)
        limit = request.max_completion_tokens or request.max_tokens or default_max_tokens
        if request.stream:
            return StreamingResponse(_sse(model, request, messages, limit), media_type="text/event-stream")
        done = model.complete(messages, max_new_tokens=limit, temperature=request.temperature,
                              top_p=request.top_p)
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion",
            "created": int(time.time()), "model": request.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": done.text},
                         "finish_reason": done.finish_reason, "logprobs": None}],
            "usage": {"prompt_tokens": done.prompt_tokens, "completion_tokens": done.completion_tokens,
                      "total_tokens": done.prompt_tokens + done.completion_tokens},
        }

    return app


def _sse(model: Any, request: ChatRequest, messages: list[dict[str, str]], limit: int) -> Iterator[str]:
    """Server-sent events in OpenAI's chunk format: role, content pieces, finish, [DONE]."""
    base = {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion.chunk",
            "created": int(time.time()), "model": request.model}

    def event(delta: dict[str, Any], finish: str | None = None) -> str:
        chunk = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}
        return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"

    yield event({"role": "assistant", "content": ""})
    pieces = model.stream(messages, max_new_tokens=limit, temperature=request.temperature, top_p=request.top_p)
    while True:
        try:
            piece = next(pieces)
        except StopIteration as done:  # the generator returns why it stopped
            finish = done.value or "stop"
            break
        yield event({"content": piece})
    yield event({}, finish=finish)
    yield "data: [DONE]\n\n"


def serve(models: dict[str, Any], host: str = "127.0.0.1", port: int = 8000, log_level: str = "info") -> None:
    """Run the server until interrupted."""
    import uvicorn

    uvicorn.run(create_app(models), host=host, port=port, log_level=log_level)
