"""A teacher LLM behind any OpenAI-compatible chat completions endpoint.

* Requests run in a thread pool of ``concurrency`` workers (the openai client is thread-safe).
* Requests go through ``webtune.openai_client``: 429s, 5xx, timeouts and connection errors are
  retried by the shared policy of ``webtune.retry`` (Retry-After honoured), up to
  ``max_retries`` times, and counted; a request that fails for good is a one-line error.
* Every reply is cached on disk under a hash of the request (model, messages, sampling
  settings): a rerun sends nothing and costs nothing. Unparseable replies are cached too, so a
  rerun makes the same decision.
* Replies are parsed strictly: JSON (a surrounding code fence is tolerated), exactly the
  expected shape, no empty strings; anything else raises TeacherReplyError and becomes a reject.
* The API key comes from the environment variable ``api_key_env`` (then ``OPENAI_API_KEY``)
  and is never logged.
"""

from __future__ import annotations

import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Sequence

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from webtune.jsonl import atomic_write_json
from webtune.records import canonical_json, content_id

# USD per 1M tokens (input, output): list prices at the time of writing, to be checked.
TEACHER_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
}
_FENCE = re.compile(r"^\s*```(?:json)?\s*\n(.*)\n\s*```\s*$", re.DOTALL)


class TeacherReplyError(Exception):
    """A reply that is not the JSON shape asked for."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class QAPair(_Strict):
    question: str
    answer: str

    @field_validator("question", "answer")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("is empty")
        return value.strip()


class QAReply(_Strict):
    pairs: list[QAPair]


class RewriteReply(_Strict):
    answer: str

    @field_validator("answer")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("is empty")
        return value.strip()


class PairReply(_Strict):
    """A teacher's choice between two drafts (the ``teacher_pairs`` generator)."""

    preferred: Literal["A", "B"]
    reason: str = ""


def parse_reply(content: str | None, shape: type[BaseModel]) -> BaseModel:
    """Parse a reply into ``shape``; raise TeacherReplyError saying what is wrong."""
    if content is None or not content.strip():
        raise TeacherReplyError("empty reply")
    match = _FENCE.match(content)
    text = match.group(1) if match else content
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TeacherReplyError(f"not JSON: {exc.msg} at column {exc.colno}") from None
    if shape is QAReply and isinstance(data, list):
        data = {"pairs": data}  # a bare list of pairs is unambiguous
    try:
        reply = shape.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(reply)"
        raise TeacherReplyError(f"wrong shape: {where}: {first['msg']}") from None
    if isinstance(reply, QAReply) and not reply.pairs:
        raise TeacherReplyError("wrong shape: pairs is empty")
    return reply


@dataclass
class TeacherUsage:
    """Requests, cache hits, retries, tokens and cost of the teacher, summed over a run."""

    requests: int = 0
    cache_hits: int = 0
    retries: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    price_input_per_1m: float | None = None
    price_output_per_1m: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **amounts: int) -> None:
        """Add to counters, from any worker thread."""
        with self._lock:
            for name, amount in amounts.items():
                setattr(self, name, getattr(self, name) + amount)

    def to_json(self) -> dict[str, Any]:
        """Counters and the estimated cost in USD (None when no price is known)."""
        cost = None
        if self.price_input_per_1m is not None and self.price_output_per_1m is not None:
            cost = round((self.prompt_tokens * self.price_input_per_1m
                          + self.completion_tokens * self.price_output_per_1m) / 1_000_000, 6)
        return {"requests": self.requests, "cache_hits": self.cache_hits, "retries": self.retries,
                "failures": self.failures, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens, "usd": cost,
                "usd_per_1m": [self.price_input_per_1m, self.price_output_per_1m]}


def teacher_prices(config: Any) -> tuple[float | None, float | None]:
    """Input and output USD per 1M tokens: the config's, else the table's for a known model."""
    known = next((p for name, p in sorted(TEACHER_PRICES.items(), key=lambda kv: -len(kv[0]))
                  if config.model == name or config.model.startswith(name + "-")), (None, None))
    return (config.price_input_per_1m if config.price_input_per_1m is not None else known[0],
            config.price_output_per_1m if config.price_output_per_1m is not None else known[1])


class TeacherClient:
    """Sends chat requests to the teacher with retries and a disk cache."""

    def __init__(self, config: Any, cache_dir: Path):
        self.config = config
        self.cache_dir = Path(cache_dir)
        price_in, price_out = teacher_prices(config)
        self.usage = TeacherUsage(price_input_per_1m=price_in, price_output_per_1m=price_out)
        self._client = None

    def _openai(self):
        """The `OpenAIClient`, made on first use (a cache-only rerun needs no key).

        A local OpenAI-compatible server (vLLM, `webtune serve`) named by ``base_url`` needs no key.
        """
        if self._client is None:
            from webtune.openai_client import connect
            from webtune.retry import RetryPolicy

            c = self.config
            policy = RetryPolicy(max_attempts=c.max_retries + 1, initial_wait_s=c.backoff_initial_s,
                                 max_backoff_s=c.backoff_max_s)
            self._client = connect(c.base_url, c.api_key_env, require_key=c.base_url is None,
                                   timeout_s=c.timeout_s, policy=policy)
        return self._client

    def request_body(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        """The chat completions request for ``messages``."""
        body = {"model": self.config.model, "messages": messages,
                "temperature": self.config.temperature, "max_tokens": self.config.max_tokens}
        if self.config.json_mode:
            body["response_format"] = {"type": "json_object"}
        return body

    def cache_path(self, body: dict[str, Any]) -> Path:
        """Where the reply to ``body`` is cached: a hash of the request (never of the key)."""
        key = content_id(canonical_json(body), length=40)
        return self.cache_dir / key[:2] / f"{key}.json"

    def complete(self, messages: list[dict[str, str]]) -> str | None:
        """The reply text for ``messages``, from the cache or the endpoint."""
        body = self.request_body(messages)
        path = self.cache_path(body)
        if path.is_file():
            try:
                cached = json.loads(path.read_text(encoding="utf-8"))
                self.usage.add(cache_hits=1)
                return cached["content"]
            except (OSError, ValueError, KeyError):
                pass  # a damaged cache entry is simply fetched again
        response = self._send(body)
        choice = response.choices[0] if response.choices else None
        content = choice.message.content if choice is not None else None
        usage = getattr(response, "usage", None)
        prompt_t = getattr(usage, "prompt_tokens", 0) or 0
        completion_t = getattr(usage, "completion_tokens", 0) or 0
        self.usage.add(requests=1, prompt_tokens=prompt_t, completion_tokens=completion_t)
        atomic_write_json(path, {"content": content, "model": self.config.model,
                                 "usage": {"prompt_tokens": prompt_t, "completion_tokens": completion_t}})
        return content

    def _send(self, body: dict[str, Any]):
        """POST with the shared retry policy (429, 5xx, timeouts, connection errors; Retry-After)."""
        return self._openai().chat("dataset.teacher", on_retry=lambda exc, wait: self.usage.add(retries=1),
                                   **body)


def run_requests(client: TeacherClient, prompts: Sequence[list[dict[str, str]]],
                 on_done: Callable[[], None] | None = None) -> list[str | None]:
    """Replies to all ``prompts`` (same order), ``client.config.concurrency`` at a time.

    A request that fails for good after its retries stops the stage (its cause — rate limits
    or an unreachable server — would fail every other request too); finished replies are
    cached, so the rerun resumes where this one stopped.
    """
    results: list[str | None] = [None] * len(prompts)

    def work(index: int) -> None:
        try:
            results[index] = client.complete(prompts[index])
        except Exception:
            client.usage.add(failures=1)
            raise
        finally:
            if on_done is not None:
                on_done()

    pool = ThreadPoolExecutor(max_workers=client.config.concurrency)
    try:
        futures = [pool.submit(work, i) for i in range(len(prompts))]
        for future in futures:
            future.result()
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)  # stop queued requests, let running ones end
        raise
    pool.shutdown(wait=True)
    return results
