"""Markdown articles into sections and token-sized chunks.

Headings are found with markdown-it (CommonMark), so a ``#`` inside a code block is not a
heading and setext headings (``Title`` underlined with ``===``) are. A section is a heading and
the text up to the next heading; text before the first heading belongs to the document title.
Long sections are cut into chunks of at most ``chunk_tokens`` tokens along paragraph and
sentence boundaries, each chunk repeating the last ``overlap_tokens`` tokens' worth of
sentences of the one before, so no fact is cut off from its context.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[*_`])")


@dataclass
class Section:
    """A heading, its level, the headings above it, and its body text (Markdown)."""

    heading: str
    level: int
    body: str
    path: list[str] = field(default_factory=list)


@dataclass
class Chunk:
    """A piece of a section's body, numbered ``part`` of ``parts``."""

    section: Section
    text: str
    part: int = 1
    parts: int = 1


def split_sections(markdown: str, title: str | None = None, max_level: int = 6) -> list[Section]:
    """The sections of a Markdown document, in order, empty ones left out."""
    from markdown_it import MarkdownIt

    lines = markdown.splitlines()
    tokens = MarkdownIt("commonmark").parse(markdown)
    heads: list[tuple[int, int, int, str]] = []  # (start line, end line, level, text)
    for i, tok in enumerate(tokens):
        if tok.type == "heading_open" and tok.map and int(tok.tag[1]) <= max_level:
            text = tokens[i + 1].content.strip() if i + 1 < len(tokens) else ""
            heads.append((tok.map[0], tok.map[1], int(tok.tag[1]), text))
    sections: list[Section] = []
    first = heads[0][0] if heads else len(lines)
    intro = "\n".join(lines[:first]).strip()
    if intro and title:
        sections.append(Section(heading=title, level=0, body=intro, path=[]))
    stack: list[tuple[int, str]] = []
    for n, (start, end, level, text) in enumerate(heads):
        stop = heads[n + 1][0] if n + 1 < len(heads) else len(lines)
        while stack and stack[-1][0] >= level:
            stack.pop()
        body = "\n".join(lines[end:stop]).strip()
        if body and text:
            sections.append(Section(heading=text, level=level, body=body, path=[t for _, t in stack]))
        stack.append((level, text))
    return sections


def _units(body: str) -> list[tuple[str, bool]]:
    """Paragraphs split into sentences: (text, starts a new paragraph)."""
    units = []
    for para in re.split(r"\n\s*\n", body):
        para = para.strip()
        if not para:
            continue
        # Code blocks, tables and lists keep their lines; prose splits into sentences.
        pieces = [para] if para.startswith(("```", "    ", "|", "- ", "* ", "1.")) else _SENTENCE_END.split(para)
        for i, piece in enumerate(p for p in pieces if p.strip()):
            units.append((piece.strip(), i == 0))
    return units


def _join(units: list[tuple[str, bool]]) -> str:
    """Text of units: paragraphs separated by a blank line, sentences by a space."""
    out = ""
    for text, new_para in units:
        out += ("\n\n" if new_para else " ") + text if out else text
    return out


def chunk_text(body: str, counter: Any, chunk_tokens: int, overlap_tokens: int) -> list[str]:
    """Cut ``body`` into chunks of at most ``chunk_tokens`` tokens with sentence overlap."""
    units = _units(body)
    if not units:
        return []
    sizes = counter.count_texts([u[0] for u in units])
    if sum(sizes) + len(units) <= chunk_tokens:
        return [_join(units)]
    units, sizes = _split_long_units(units, sizes, counter, chunk_tokens)
    chunks: list[str] = []
    current: list[int] = []  # indexes into units
    for i in range(len(units)):
        if current and sum(sizes[j] + 1 for j in current) + sizes[i] > chunk_tokens:
            chunks.append(_join([units[j] for j in current]))
            current = _overlap_tail(current, sizes, overlap_tokens, chunk_tokens - sizes[i])
        current.append(i)
    if current:
        chunks.append(_join([units[j] for j in current]))
    return chunks


def _overlap_tail(current: list[int], sizes: list[int], overlap: int, room: int) -> list[int]:
    """The last units of a finished chunk that fit in ``overlap`` tokens (and in ``room``)."""
    tail: list[int] = []
    used = 0
    for j in reversed(current):
        if used + sizes[j] + 1 > min(overlap, room):
            break
        tail.insert(0, j)
        used += sizes[j] + 1
    return tail


def _split_long_units(units: list[tuple[str, bool]], sizes: list[int], counter: Any,
                      chunk_tokens: int) -> tuple[list[tuple[str, bool]], list[int]]:
    """Sentences longer than a chunk cut into token windows (rare: tables, run-on text)."""
    out_units, out_sizes = [], []
    for (text, new_para), size in zip(units, sizes):
        if size <= chunk_tokens - 1:
            out_units.append((text, new_para))
            out_sizes.append(size)
            continue
        ids = counter.encode_texts([text])[0]
        step = max(1, chunk_tokens - 8)  # decoding can re-tokenise slightly longer
        for k, start in enumerate(range(0, len(ids), step)):
            piece = counter.decode(ids[start:start + step]).strip()
            if piece:
                out_units.append((piece, new_para and k == 0))
                out_sizes.append(len(ids[start:start + step]))
    return out_units, out_sizes


def chunk_sections(sections: list[Section], counter: Any, chunk_tokens: int, overlap_tokens: int) -> list[Chunk]:
    """Every section cut into chunks, numbered within their section."""
    chunks: list[Chunk] = []
    for section in sections:
        texts = chunk_text(section.body, counter, chunk_tokens, overlap_tokens)
        chunks.extend(Chunk(section, t, i + 1, len(texts)) for i, t in enumerate(texts))
    return chunks
