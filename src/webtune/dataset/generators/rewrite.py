"""The rewrite generator: the teacher rewrites the answer of template examples.

It makes no candidates of its own: it edits the template candidates the generators before it
made from the same batch of documents (replacing the last assistant message, or rejecting the
candidate when the teacher's reply does not parse).
"""

from __future__ import annotations

from typing import Iterable

from webtune.dataset.config import TeacherConfig
from webtune.dataset.generators import GENERATORS
from webtune.dataset.generators.base import Batch, Candidate, GeneratorEnv, drop
from webtune.dataset.teacher import RewriteReply, TeacherReplyError, parse_reply
from webtune.dataset.templates import render, selects


@GENERATORS.register("teacher-rewrite")
class RewriteGenerator:
    """Replace the last assistant message of template examples by the teacher's rewrite."""

    Config = TeacherConfig

    def __init__(self, config: TeacherConfig):
        self.config = config

    def generate(self, batch: Batch, env: GeneratorEnv) -> Iterable[Candidate]:
        """Rewrites ``batch.candidates`` in place; yields nothing new."""
        chosen = [c for c in batch.candidates if self._applies(c)]
        prompts = [self._prompt(c) for c in chosen]
        replies = env.ask(self.config, prompts, "rewrite") if prompts else []
        for cand, reply in zip(chosen, replies):
            self._apply(cand, reply)
        return ()

    def _applies(self, cand: Candidate) -> bool:
        cfg = self.config
        return (cand.reject is None and cand.meta["generator"] == "template"
                and (not cfg.templates or cand.meta["template"] in cfg.templates)
                and selects(cfg, cand.doc, cand.context))

    def _prompt(self, cand: Candidate) -> list[dict[str, str]]:
        msgs = cand.messages or []
        view = {**cand.context, "messages": msgs,
                "system": next((m["content"] for m in msgs if m["role"] == "system"), ""),
                "user": next((m["content"] for m in reversed(msgs) if m["role"] == "user"), ""),
                "assistant": next((m["content"] for m in reversed(msgs) if m["role"] == "assistant"), "")}
        return [{"role": "system", "content": self.config.system},
                {"role": "user", "content": render(self.config.prompt_template(), view)}]

    def _apply(self, cand: Candidate, reply: str | None) -> None:
        try:
            answer = parse_reply(reply, RewriteReply).answer
        except TeacherReplyError as exc:
            drop(cand, "teacher", "unparseable_reply", value=str(exc),
                 record={"meta": cand.meta, "reply": (reply or "")[:2000]})
            return
        last = max(i for i, m in enumerate(cand.messages) if m["role"] == "assistant")
        cand.messages[last] = {"role": "assistant", "content": answer}
        cand.meta["rewritten_by"] = self.config.model
