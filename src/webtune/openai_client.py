"""The one client for OpenAI-compatible endpoints: teacher, hosted trainer, evaluate, chat, judges.

Where it connects (`resolve_endpoint`), first found wins:

* base URL: the explicit one (``base_url`` in the pipeline, ``--base-url``), then the one
  recorded at training time (``train_result.json`` -> ``api.base_url``), then
  ``OPENAI_BASE_URL``, then OpenAI's own API;
* API key: the environment variable named explicitly (``api_key_env``) or recorded, then
  ``OPENAI_API_KEY``. Only the variable's *name* is ever recorded; the key is read from
  the environment when the client is made and masked in every message.

Calls go through `OpenAIClient.call`: the retry policy of ``webtune.retry`` (429, 5xx,
timeouts and connection errors; Retry-After in seconds or as a date; capped attempts and
waits), then one-line errors that name the request and the status, for example
``POST http://127.0.0.1:5/v1/chat/completions: connection refused`` or
``... HTTP 401 Unauthorized: Incorrect API key provided``.

Why the official ``openai`` SDK rather than bare httpx: the hosted trainer needs files,
fine-tuning jobs, cursor pages and streamed chat chunks, which the SDK types and parses;
its own retries are turned off (``max_retries=0``) so that every HTTP caller of webtune
retries the same way. The SDK is an optional dependency, imported when a client is made.
This module imports no stage.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, TypeVar

from webtune.errors import ConfigError, StageError
from webtune.retry import GaveUp, RetryPolicy, describe, request_line, status_of

T = TypeVar("T")
DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_KEY_ENV = "OPENAI_API_KEY"
BASE_URL_ENV = "OPENAI_BASE_URL"
NO_KEY = "not-needed"  # what a local server without keys (vLLM, `webtune serve`) is sent


class APIError(StageError):
    """An OpenAI-compatible endpoint refused or failed a request; ``status`` is its HTTP status."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class APIAuthError(APIError):
    """The API key is missing, wrong or lacks permission: retrying cannot help."""

    exit_code = 3


@dataclass(frozen=True)
class Endpoint:
    """Where requests go, and the *name* of the variable holding the key."""

    base_url: str
    api_key_env: str = DEFAULT_KEY_ENV

    def record(self) -> dict[str, str]:
        """What a stage writes down so later stages call the same endpoint (no secret)."""
        return {"base_url": self.base_url, "api_key_env": self.api_key_env}


def _field(recorded: Any, name: str) -> Any:
    """``recorded[name]`` of a dict, or the attribute of a model; None when absent."""
    if recorded is None:
        return None
    if isinstance(recorded, Mapping):
        return recorded.get(name)
    return getattr(recorded, name, None)


def resolve_endpoint(base_url: str | None = None, api_key_env: str | None = None,
                     recorded: Any = None) -> Endpoint:
    """The endpoint: explicit, then recorded (``{"base_url", "api_key_env"}``), then environment, then default."""
    url = base_url or _field(recorded, "base_url") or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    env = api_key_env or _field(recorded, "api_key_env") or DEFAULT_KEY_ENV
    return Endpoint(base_url=str(url), api_key_env=str(env))


def find_key(endpoint: Endpoint, *, required: bool = True) -> str:
    """The key from the endpoint's variable, then ``OPENAI_API_KEY``; `NO_KEY` when not required."""
    names = list(dict.fromkeys((endpoint.api_key_env, DEFAULT_KEY_ENV)))
    for name in names:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    if not required:
        return NO_KEY
    raise APIAuthError(f"no API key for {endpoint.base_url}: set the environment variable "
                       f"{' or '.join(names)} (the key is read from the environment only, "
                       "never from the pipeline file)")


def redact(text: str, secret: str | None = None) -> str:
    """``text`` with ``secret`` (and anything shaped like an ``sk-...`` key) masked."""
    if secret and secret != NO_KEY:
        text = text.replace(secret, "***")
    return re.sub(r"\bsk-[A-Za-z0-9_\-]{8,}", "sk-***", text)


class OpenAIClient:
    """The SDK client with webtune's retry policy and one-line errors.

    Attributes the class does not define fall through to the SDK client, so resources read as
    in the SDK's documentation (``client.files.create``); call them through `call` to get the
    retries and the errors: ``client.call("uploading train.jsonl", client.files.create, ...)``.
    """

    def __init__(self, endpoint: Endpoint, *, require_key: bool = True, timeout_s: float = 60.0,
                 policy: RetryPolicy | None = None):
        try:
            import openai
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ConfigError("calling an OpenAI-compatible API needs the openai package: "
                              "pip install 'webtune[hosted]'") from exc
        self.endpoint = endpoint
        self.policy = policy or RetryPolicy()
        self._secret = find_key(endpoint, required=require_key)
        self.sdk = openai.OpenAI(api_key=self._secret, base_url=endpoint.base_url, max_retries=0,
                                 timeout=timeout_s)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name in ("sdk", "policy", "endpoint"):
            raise AttributeError(name)
        return getattr(self.sdk, name)

    @property
    def base_url(self) -> str:
        """The base URL requests go to (as the SDK normalises it, with a trailing slash)."""
        return str(self.sdk.base_url)

    def call(self, what: str, fn: Callable[..., T], *args: Any,
             on_retry: Callable[[BaseException, float], None] | None = None, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` under the retry policy; failures become `APIError` naming ``what``."""
        import openai

        try:
            return self.policy.call(lambda: fn(*args, **kwargs), what=what, on_retry=on_retry)
        except GaveUp as exc:
            raise self.translate(what, exc.last, gave_up=exc) from None
        except openai.OpenAIError as exc:
            raise self.translate(what, exc) from None

    def chat(self, what: str = "chat completion", **body: Any) -> Any:
        """``chat.completions.create(**body)`` with retries."""
        return self.call(what, self.sdk.chat.completions.create, **body)

    def chat_stream(self, what: str = "chat completion", **body: Any) -> Iterator[Any]:
        """The chunks of a streamed chat completion; only the opening request is retried."""
        import openai

        chunks = self.call(what, self.sdk.chat.completions.create, stream=True, **body)
        try:
            yield from chunks
        except openai.OpenAIError as exc:
            raise self.translate(what, exc) from None

    def translate(self, what: str, exc: BaseException, gave_up: GaveUp | None = None) -> APIError:
        """One line for a failed call: what, the request, the status and the server's message."""
        status = status_of(exc)
        parts = [p for p in (what, request_line(exc) or self.endpoint.base_url, describe(exc)) if p]
        message = ": ".join(parts)
        if status in (401, 403):
            message += f" (check the API key in {self.endpoint.api_key_env} and its project)"
            return APIAuthError(self.redact(message), status)
        if gave_up is not None:
            message += f" ({gave_up.after()})"
        return APIError(self.redact(message), status)

    def redact(self, text: str) -> str:
        """``text`` with this client's key masked."""
        return redact(text, self._secret)


def connect(base_url: str | None = None, api_key_env: str | None = None, recorded: Any = None, *,
            require_key: bool = True, timeout_s: float = 60.0, policy: RetryPolicy | None = None) -> OpenAIClient:
    """A client for the endpoint `resolve_endpoint` picks (see the module docstring)."""
    return OpenAIClient(resolve_endpoint(base_url, api_key_env, recorded), require_key=require_key,
                        timeout_s=timeout_s, policy=policy)


def is_not_found(exc: BaseException) -> bool:
    """Whether a failure is an HTTP 404."""
    return status_of(exc) == 404 or getattr(exc, "status", None) == 404
