"""The hosted trainer's client: `webtune.openai_client` set up from ``OpenAITrainConfig``.

Key lookup, base URL, retries and error messages are those of ``webtune.openai_client``,
shared with the teacher, evaluate and chat; only the trainer's own settings are read here.
"""

from __future__ import annotations

from typing import Any

from webtune.openai_client import OpenAIClient, connect
from webtune.retry import RetryPolicy


def client_for(config: Any) -> OpenAIClient:
    """A client from an ``OpenAITrainConfig``: its base URL and key variable, ``max_retries`` retries."""
    policy = RetryPolicy(max_attempts=getattr(config, "max_retries", 5) + 1)
    return connect(getattr(config, "base_url", None), getattr(config, "api_key_env", None),
                   timeout_s=getattr(config, "request_timeout", 60.0), policy=policy)
