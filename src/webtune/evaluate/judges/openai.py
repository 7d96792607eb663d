"""The ``openai`` judge: a model behind any OpenAI-compatible chat completions endpoint.

A webtune-served model, vLLM, or OpenAI itself: the endpoint is resolved like every other
caller's (`webtune.openai_client.resolve_endpoint`: ``base_url``, then ``OPENAI_BASE_URL``),
and requests retry under the one policy of `webtune.retry` (429 with Retry-After, 5xx).
The judge is asked for one JSON object, ``{"winner": "A" | "B" | "tie", "reason": "..."}``;
anything else is a `MalformedVerdict` naming what was wrong.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import Field

from webtune.configbase import StrictModel
from webtune.evaluate.judges import JUDGES, JudgeRequest, MalformedVerdict, Verdict

INSTRUCTIONS = (
    "You are an impartial judge comparing two answers, A and B, to the same user prompt.\n"
    "Rubric: {rubric}\n"
    "Do not let the order of the answers or their length sway you. Reply with ONE JSON object and "
    'nothing else: {{"reason": "<one or two sentences>", "winner": "A" | "B" | "tie"}}'
)


def render_messages(request: JudgeRequest) -> list[dict[str, str]]:
    """The chat messages one comparison sends (also what the cost estimate counts)."""
    context = f"System prompt the assistant had:\n{request.system}\n\n" if request.system else ""
    user = (f"{context}User prompt:\n{request.prompt}\n\n[Answer A]\n{request.answer_a}\n[End of A]\n\n"
            f"[Answer B]\n{request.answer_b}\n[End of B]")
    return [{"role": "system", "content": INSTRUCTIONS.format(rubric=request.rubric)},
            {"role": "user", "content": user}]


def parse_verdict(text: str) -> tuple[str, str]:
    """(winner, reason) of a judge's reply; `MalformedVerdict` with the reason when it is not one."""
    match = re.search(r"\{.*\}", text or "", flags=re.S)
    if match is None:
        raise MalformedVerdict("no JSON object in the reply", text)
    try:
        data = json.loads(match.group(0))
    except json.JSONDecodeError:
        raise MalformedVerdict("reply is not valid JSON", text) from None
    if not isinstance(data, dict):
        raise MalformedVerdict("reply is not a JSON object", text)
    winner = str(data.get("winner", "")).strip()
    normal = {"a": "A", "b": "B", "tie": "tie"}.get(winner.lower())
    if normal is None:
        raise MalformedVerdict("winner is not A, B or tie", text)
    reason = str(data.get("reason", "")).strip()
    if not reason:
        raise MalformedVerdict("no reason given", text)
    return normal, reason


@JUDGES.register("openai")
class OpenAIJudge:
    """Ask a chat model behind an OpenAI-compatible endpoint which answer is better."""

    class Config(StrictModel):
        judge: Literal["openai"] = "openai"
        model: str = Field(..., description="the judge model at the endpoint")
        base_url: str | None = Field(None, description="default: OPENAI_BASE_URL, then OpenAI's API")
        api_key_env: str | None = Field(None, description="variable holding the key (default OPENAI_API_KEY)")
        require_key: bool = Field(False, description="refuse to start without a key (local servers need none)")
        temperature: float = Field(0.0, ge=0.0, le=2.0)
        max_tokens: int = Field(256, ge=8, description="the longest verdict")
        timeout_s: float = Field(60.0, gt=0)

    def __init__(self, config: "OpenAIJudge.Config", client: Any = None, policy: Any = None):
        self.config = config
        self._client = client
        self._policy = policy

    @property
    def client(self) -> Any:
        """The OpenAI-compatible client, made on first use."""
        if self._client is None:
            from webtune.openai_client import connect

            self._client = connect(self.config.base_url, self.config.api_key_env,
                                   require_key=self.config.require_key, timeout_s=self.config.timeout_s,
                                   policy=self._policy)
        return self._client

    def judge(self, request: JudgeRequest) -> Verdict:
        """One verdict (A, B or tie, with the reason); `MalformedVerdict` if the reply is not one."""
        response = self.client.chat(f"judge ({self.config.model})", model=self.config.model,
                                    messages=render_messages(request), temperature=self.config.temperature,
                                    max_tokens=self.config.max_tokens)
        text = response.choices[0].message.content or ""
        winner, reason = parse_verdict(text)
        usage = getattr(response, "usage", None)
        return Verdict(winner, reason, getattr(usage, "prompt_tokens", None),
                       getattr(usage, "completion_tokens", None))
