"""An OpenAI client built from the environment or the config, and API errors made readable.

Retries: the ``openai`` SDK itself retries connection errors, timeouts, 408/409/429 and 5xx
responses with exponential backoff (0.5 s doubling up to 8 s, with jitter) and honours a
``Retry-After`` header up to two minutes; 401/403/404 are raised at once. ``max_retries``
sets how many times. ``call`` turns what is still raised into a one-line ``WebtuneError``.
"""

from __future__ import annotations

import os
from typing import Any, Callable, TypeVar

from webtune.errors import ConfigError, WebtuneError

T = TypeVar("T")
DEFAULT_KEY_ENV = "OPENAI_API_KEY"


class HostedError(WebtuneError):
    """The hosted API refused or failed a request; the message is the API's own."""


class HostedAuthError(HostedError):
    """The API key is missing, wrong or lacks permission: retrying cannot help."""

    exit_code = 3


def resolve_connection(api_key_env: str = DEFAULT_KEY_ENV, base_url: str | None = None) -> tuple[str, str | None]:
    """The API key (from ``api_key_env``) and base URL (config, then ``OPENAI_BASE_URL``)."""
    key = os.environ.get(api_key_env, "").strip()
    if not key:
        raise HostedAuthError(
            f"no API key: set the environment variable {api_key_env} "
            "(the key is read from the environment only, never from the pipeline file)"
        )
    return key, base_url or os.environ.get("OPENAI_BASE_URL") or None


def make_client(api_key_env: str = DEFAULT_KEY_ENV, base_url: str | None = None, *,
                max_retries: int = 5, timeout: float = 60.0) -> Any:
    """An ``openai.OpenAI`` client; the key comes from ``api_key_env`` in the environment."""
    try:
        import openai
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConfigError("the openai backend needs the openai package: pip install 'webtune[hosted]'") from exc

    key, url = resolve_connection(api_key_env, base_url)
    client = openai.OpenAI(api_key=key, base_url=url, max_retries=max_retries, timeout=timeout)
    # Remember what to scrub from any message we show (see ``redact``).
    client._webtune_secret = key  # type: ignore[attr-defined]
    return client


def client_for(config: Any) -> Any:
    """A client from an ``OpenAITrainConfig`` (or anything with the same fields)."""
    return make_client(
        getattr(config, "api_key_env", DEFAULT_KEY_ENV), getattr(config, "base_url", None),
        max_retries=getattr(config, "max_retries", 5), timeout=getattr(config, "request_timeout", 60.0),
    )


def redact(text: str, client: Any = None) -> str:
    """``text`` with the client's API key (and any ``sk-...`` looking token) masked."""
    import re

    secret = getattr(client, "_webtune_secret", None)
    if secret:
        text = text.replace(secret, "***")
    return re.sub(r"\bsk-[A-Za-z0-9_\-]{8,}", "sk-***", text)


def call(what: str, fn: Callable[..., T], *args: Any, client: Any = None, **kwargs: Any) -> T:
    """Run an SDK call; an API error becomes a HostedError saying ``what`` failed and why."""
    import openai

    try:
        return fn(*args, **kwargs)
    except openai.OpenAIError as exc:
        raise translate(what, exc, client) from None


def translate(what: str, exc: BaseException, client: Any = None) -> HostedError:
    """A one-line HostedError (auth errors as HostedAuthError) for an SDK exception."""
    import openai

    if isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
        return HostedAuthError(redact(f"{what}: {describe(exc)} (check the API key and its project)", client))
    if isinstance(exc, openai.APITimeoutError):
        return HostedError(f"{what}: the API did not answer in time (after retries)")
    if isinstance(exc, openai.APIConnectionError):
        return HostedError(redact(f"{what}: cannot reach the API ({exc.__cause__ or exc})", client))
    if isinstance(exc, openai.APIStatusError):
        return HostedError(redact(f"{what}: {describe(exc)}", client))
    return HostedError(redact(f"{what}: {exc}", client))


def describe(exc: Any) -> str:
    """The API's own error message and code of an ``openai.APIStatusError``."""
    body = getattr(exc, "body", None)
    message, code, param = None, None, None
    if isinstance(body, dict):
        err = body.get("error", body) if isinstance(body.get("error", body), dict) else body
        message, code, param = err.get("message"), err.get("code"), err.get("param")
    message = message or getattr(exc, "message", None) or str(exc)
    extra = ", ".join(x for x in (f"code {code}" if code else "", f"param {param}" if param else "") if x)
    status = getattr(exc, "status_code", None)
    head = f"HTTP {status}: " if status else ""
    return f"{head}{message}" + (f" ({extra})" if extra else "")


def is_not_found(exc: BaseException) -> bool:
    """Whether ``exc`` is the SDK's 404."""
    import openai

    return isinstance(exc, openai.NotFoundError)
