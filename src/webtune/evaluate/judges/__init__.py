"""Judges: backends of kind ``judge`` that compare two answers to one prompt.

A judge has the shape of every backend (`webtune.plugins.Backend`): ``Judge(config)`` with a
pydantic ``Config`` whose tag field is ``judge`` (``judge: openai``) and ONE method,
``judge(request: JudgeRequest) -> Verdict``. It says which of the two answers shown as ``A``
and ``B`` is better under the rubric, or ``tie``, with its reason; a reply it cannot read is a
`MalformedVerdict` (the runner asks again and counts the reason). Which answer is shown first,
the swap that cancels position bias, the cache and the cost are the runner's business
(`webtune.evaluate.judges.run`), so a plugin judge only talks to its model.

Built-in: ``openai`` (any OpenAI-compatible chat completions endpoint). Plugins register in the
entry-point group ``webtune.judges``.
"""

from __future__ import annotations

from dataclasses import dataclass

from webtune.plugins import Registry

WINNERS = ("A", "B", "tie")

DEFAULT_RUBRIC = (
    "Judge which answer better serves the user: correct and faithful to the question (and to the "
    "reference answer when one is given), complete but concise, clear, and free of repetition or "
    "text that does not belong to an answer. Length alone is not a merit."
)


@dataclass(frozen=True)
class JudgeRequest:
    """One comparison: the conversation's last user prompt, two answers, the rubric."""

    prompt: str
    answer_a: str
    answer_b: str
    rubric: str = DEFAULT_RUBRIC
    system: str | None = None


@dataclass(frozen=True)
class Verdict:
    """``winner`` is ``A``, ``B`` or ``tie``; ``reason`` is the judge's own words."""

    winner: str
    reason: str
    input_tokens: int | None = None
    output_tokens: int | None = None


class MalformedVerdict(ValueError):
    """The judge's reply is not a verdict; ``reason`` says why in a few words (it is counted)."""

    def __init__(self, reason: str, reply: str = ""):
        super().__init__(reason)
        self.reason, self.reply = reason, reply


JUDGES: Registry = Registry("judge", builtins=("webtune.evaluate.judges.openai",), label="evaluate judge")

__all__ = ["JUDGES", "JudgeRequest", "Verdict", "MalformedVerdict", "DEFAULT_RUBRIC", "WINNERS"]
