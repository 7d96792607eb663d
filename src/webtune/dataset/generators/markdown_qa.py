"""The Markdown Q&A generator: each section heading asks, its (chunked) text answers."""

from __future__ import annotations

from typing import Any, Iterable

from webtune.dataset.config import QAConfig
from webtune.dataset.generators import GENERATORS
from webtune.dataset.generators.base import Batch, Candidate, GeneratorEnv, base_meta, drop
from webtune.dataset.markdown import Chunk, chunk_sections, split_sections
from webtune.dataset.templates import RenderError, render, selects
from webtune.records import Document


def has_text(context: dict[str, Any], field_name: str) -> bool:
    """Whether the context holds non-blank text under ``field_name`` (Q&A needs some)."""
    value = context.get(field_name)
    return isinstance(value, str) and bool(value.strip())


def doc_chunks(doc: Document, context: dict[str, Any], field_name: str, counter: Any,
               chunking: Any, max_level: int = 6, questions_only: bool = False) -> list[Chunk]:
    """The Markdown chunks of a document's ``field_name`` (see webtune.dataset.markdown)."""
    text = context.get(field_name)
    if not isinstance(text, str) or not text.strip():
        return []
    title = context.get("title") if isinstance(context.get("title"), str) else None
    sections = split_sections(text, title=title, max_level=max_level)
    if questions_only:
        sections = [s for s in sections if s.heading.rstrip().endswith("?")]
    return chunk_sections(sections, counter, chunking.chunk_tokens, chunking.overlap_tokens)


def chunk_context(context: dict[str, Any], chunk: Chunk) -> dict[str, Any]:
    """The template context of one chunk: the document's plus heading, title, chunk, part."""
    title = context.get("title") if isinstance(context.get("title"), str) else ""
    return {**context, "heading": chunk.section.heading, "path": chunk.section.path,
            "title": title or "", "chunk": chunk.text, "part": chunk.part, "parts": chunk.parts,
            "level": chunk.section.level}


def from_markdown(doc: Document, context: dict[str, Any], qa: Any, counter: Any, chunking: Any) -> list[Candidate]:
    """One Q&A candidate per section chunk: the heading asks, the chunk answers."""
    chunks = doc_chunks(doc, context, qa.field, counter, chunking, qa.max_heading_level, qa.questions_only)
    if not chunks:
        cand = Candidate(None, base_meta(doc, "qa", "qa"), doc)
        return [drop(cand, "qa", "no_sections", value=qa.field)]
    out = []
    for chunk in chunks:
        meta = {**base_meta(doc, "qa", "qa"), "section": chunk.section.heading, "part": chunk.part}
        cand = Candidate(None, meta, doc)
        ctx = chunk_context(context, chunk)
        if len(chunk.text.split()) < qa.min_answer_words:
            cand.messages = [{"role": "assistant", "content": chunk.text}]
            out.append(drop(cand, "qa", "short_answer", value=len(chunk.text.split()), threshold=qa.min_answer_words))
            continue
        try:
            user = render(qa.user, ctx)
            system = render(qa.system, ctx) if qa.system else None
        except RenderError as exc:
            out.append(drop(cand, "qa", exc.reason, value=exc.field or str(exc)))
            continue
        cand.messages = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": user}, {"role": "assistant", "content": chunk.text}]
        out.append(cand)
    return out


@GENERATORS.register("qa")
class MarkdownQAGenerator:
    """Q&A pairs from the Markdown sections of the documents that have text."""

    Config = QAConfig

    def __init__(self, config: QAConfig):
        self.config = config

    def generate(self, batch: Batch, env: GeneratorEnv) -> Iterable[Candidate]:
        """Q&A candidates, document by document (documents without text are skipped)."""
        qa = self.config
        for item in batch.docs:
            if has_text(item.context, qa.field) and selects(qa, item.doc, item.context):
                yield from from_markdown(item.doc, item.context, qa, env.counter, env.chunking)
