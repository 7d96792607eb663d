"""The teacher_pairs generator: a teacher LLM chooses between two drafts of an answer.

The drafts of each template example (``dataset.templates`` run first) are its reference answer
and the base model's own answer (sampled and cached as for ``reference_vs_base``). The teacher,
behind any OpenAI-compatible endpoint (`webtune.dataset.teacher`: cached, resumable, retried,
its tokens and cost counted in ``stats.teacher``), sees them as A and B, in an order set by a
hash of the prompt so that position bias does not always favour one side, and replies
``{"preferred": "A" | "B", "reason": "..."}``. The preferred draft is ``chosen``. Identical
drafts are rejected before anything is asked (``identical_drafts``); a reply that does not
parse is rejected (``unparseable_reply``).

    dataset:
      generators:
        - generator: teacher_pairs
          model: gpt-4o-mini
          base_url: http://localhost:8000/v1
          templates: [copywriter]
"""

from __future__ import annotations

from typing import Any, Iterable

from pydantic import Field, field_validator

from webtune.dataset.config import TeacherEndpoint
from webtune.dataset.generators import GENERATORS
from webtune.dataset.generators.base import Batch, Candidate, GeneratorEnv, drop, preference_candidate
from webtune.dataset.generators.reference_vs_base import BaseSampling, base_answers, reference_items
from webtune.dataset.teacher import PairReply, TeacherReplyError, parse_reply
from webtune.dataset.templates import compile_template, render
from webtune.extras import Needs
from webtune.records import canonical_json, content_id

DEFAULT_PAIR_PROMPT = (
    "Two answers to the same request follow. Choose the better one: accurate, helpful, faithful to "
    "the request and well written.\n"
    'Reply with JSON of exactly this shape: {"preferred": "A" or "B", "reason": "..."}\n\n'
    "Request:\n{{ user }}\n\nAnswer A:\n{{ a }}\n\nAnswer B:\n{{ b }}"
)


class TeacherPairsConfig(TeacherEndpoint):
    """``{generator: teacher_pairs, model, base_url, templates, prompt, base: {...sampling}}``."""

    templates: list[str] = []  # the template examples whose drafts are judged (empty: all)
    prompt: str = DEFAULT_PAIR_PROMPT  # Jinja over user, a, b
    base: BaseSampling = BaseSampling()  # how the base model writes its draft
    max_tokens: int = Field(default=256, ge=1)

    @field_validator("prompt")
    @classmethod
    def _check_prompt(cls, value: str) -> str:
        compile_template(value)  # a syntax error is a config error naming the key
        return value


def swapped(prompt: list[dict[str, str]]) -> bool:
    """Whether the reference is shown second (B): half the prompts, by a hash, the same every run."""
    return int(content_id(canonical_json(prompt), length=8), 16) % 2 == 1


@GENERATORS.register("teacher_pairs")
class TeacherPairsGenerator:
    """A pair per template example: the teacher's choice between the reference and the base draft."""

    Config = TeacherPairsConfig
    produces = "preference"
    needs = Needs("train", "torch", "transformers")  # the base model answers (webtune.dataset.base_answers)

    def __init__(self, config: TeacherPairsConfig):
        self.config = config

    def generate(self, batch: Batch, env: GeneratorEnv) -> Iterable[Candidate]:
        """Preference candidates (or rejects) in document order."""
        items = reference_items(batch, self.config.templates, "teacher_pairs", teacher=self.config.model)
        drafts = base_answers(env, [prompt for _, prompt, _ in items], self.config.base)
        jobs, out = [], []
        for (cand, prompt, meta), draft in zip(items, drafts):
            reference = cand.messages[-1]["content"]
            if draft.strip() == reference.strip():
                out.append(drop(Candidate(None, meta, cand.doc, kind="preference"), "teacher", "identical_drafts"))
                continue
            jobs.append((len(out), meta, cand, prompt, reference, draft))
            out.append(None)
        asked = [self._ask_prompt(prompt, reference, draft) for _, _, _, prompt, reference, draft in jobs]
        replies = env.ask(self.config, asked, "pairs") if asked else []
        for (slot, meta, cand, prompt, reference, draft), reply in zip(jobs, replies):
            out[slot] = self._pair(meta, cand, prompt, reference, draft, reply)
        return out

    def _ask_prompt(self, prompt: list[dict[str, str]], reference: str, draft: str) -> list[dict[str, str]]:
        a, b = (draft, reference) if swapped(prompt) else (reference, draft)
        user = next((m["content"] for m in reversed(prompt) if m["role"] == "user"), "")
        return [{"role": "system", "content": self.config.system},
                {"role": "user", "content": render(self.config.prompt, {"user": user, "a": a, "b": b})}]

    def _pair(self, meta: dict[str, Any], cand: Candidate, prompt: list[dict[str, str]], reference: str,
              draft: str, reply: str | None) -> Candidate:
        try:
            verdict = parse_reply(reply, PairReply)
        except TeacherReplyError as exc:
            return drop(Candidate(None, meta, cand.doc, kind="preference"), "teacher", "unparseable_reply",
                        value=str(exc), record={"meta": meta, "reply": (reply or "")[:2000]})
        reference_is_a = not swapped(prompt)
        reference_won = (verdict.preferred == "A") == reference_is_a
        meta = {**meta, "preferred": "reference" if reference_won else "base", "reason": verdict.reason[:500]}
        chosen, rejected = (reference, draft) if reference_won else (draft, reference)
        return preference_candidate(meta, cand.doc, prompt, chosen=chosen, rejected=rejected)
