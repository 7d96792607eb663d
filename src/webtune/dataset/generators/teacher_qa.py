"""The teacher Q&A generator: a teacher LLM writes question/answer pairs from each Markdown chunk.

Requests go out a batch of documents at a time (``concurrency`` in flight), through the cached,
resumable client of webtune.dataset.teacher. Documents whose text has no sections are rejected
in a lane of their own, so they come before the pairs in the output, as they always have.
"""

from __future__ import annotations

from typing import Iterable

from webtune.dataset.config import TeacherConfig
from webtune.dataset.generators import GENERATORS
from webtune.dataset.generators.base import Batch, Candidate, DocItem, GeneratorEnv, base_meta, drop
from webtune.dataset.generators.markdown_qa import chunk_context, doc_chunks, has_text
from webtune.dataset.markdown import Chunk
from webtune.dataset.teacher import QAReply, TeacherReplyError, parse_reply
from webtune.dataset.templates import render, selects

NO_SECTIONS, PAIRS = "no-sections", "pairs"


@GENERATORS.register("teacher-qa")
class TeacherQAGenerator:
    """Question/answer pairs from the teacher, one request per Markdown chunk."""

    Config = TeacherConfig
    lanes = (NO_SECTIONS, PAIRS)

    def __init__(self, config: TeacherConfig):
        self.config = config

    def generate(self, batch: Batch, env: GeneratorEnv) -> Iterable[Candidate]:
        """no_sections rejects, then the pairs (or an unparseable-reply reject) per chunk."""
        cfg = self.config
        jobs: list[tuple[DocItem, Chunk]] = []
        for item in batch.docs:
            if not has_text(item.context, cfg.field) or not selects(cfg, item.doc, item.context):
                continue
            chunks = doc_chunks(item.doc, item.context, cfg.field, env.counter, env.chunking)
            if not chunks:
                cand = Candidate(None, base_meta(item.doc, "teacher", "teacher-qa"), item.doc, lane=NO_SECTIONS)
                yield drop(cand, "teacher", "no_sections", value=cfg.field)
            jobs.extend((item, c) for c in chunks)
        prompts = [self._prompt(item, chunk) for item, chunk in jobs]
        replies = env.ask(cfg, prompts, "qa") if prompts else []
        for (item, chunk), reply in zip(jobs, replies):
            yield from self._pairs(item, chunk, reply)

    def _prompt(self, item: DocItem, chunk: Chunk) -> list[dict[str, str]]:
        cfg = self.config
        user = render(cfg.prompt_template(), {**chunk_context(item.context, chunk), "n": cfg.pairs_per_chunk})
        return [{"role": "system", "content": cfg.system}, {"role": "user", "content": user}]

    def _pairs(self, item: DocItem, chunk: Chunk, reply: str | None) -> list[Candidate]:
        """The candidates of one reply: a pair each, or one reject when it does not parse."""
        cfg = self.config
        meta = {**base_meta(item.doc, "teacher", "teacher-qa"), "section": chunk.section.heading, "part": chunk.part}
        try:
            pairs = parse_reply(reply, QAReply).pairs
        except TeacherReplyError as exc:
            cand = Candidate(None, meta, item.doc, lane=PAIRS)
            return [drop(cand, "teacher", "unparseable_reply", value=str(exc),
                         record={"meta": meta, "reply": (reply or "")[:2000]})]
        system = render(cfg.example_system, chunk_context(item.context, chunk)) if cfg.example_system else None
        out = []
        for pair in pairs:
            messages = ([{"role": "system", "content": system}] if system else []) + [
                {"role": "user", "content": pair.question}, {"role": "assistant", "content": pair.answer}]
            out.append(Candidate(messages, dict(meta), item.doc, lane=PAIRS))
        return out
