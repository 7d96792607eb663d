"""Q&A from Markdown: sections by heading (not inside code), chunking by tokens with overlap."""

from __future__ import annotations

from webtune.dataset.config import DatasetConfig, ChunkingConfig, QAConfig
from webtune.dataset.markdown import chunk_text, split_sections
from webtune.dataset.generators.markdown_qa import from_markdown
from webtune.dataset.templates import document_context
from webtune.records import Document

ARTICLE = """\
# A Practical Guide to Fine-Tuning

Fine-tuning is how a general model learns your task. This guide walks through it.

## What is fine-tuning?

Fine-tuning continues training a pretrained model on a small, focused data set.
It changes the model's weights, unlike prompting, which only changes its input.

## Preparing data

Collect examples that look exactly like the requests you expect.

```python
# Not a heading: a comment inside a code block
examples = load("train.jsonl")
```

### Cleaning

Remove duplicates and near duplicates before you split the data.

Evaluation set up
-----------------

Keep a held-out test set that no training example overlaps.

## Empty section

## Why use LoRA?

LoRA trains small adapter matrices instead of all weights, so it fits on modest hardware.
"""


def test_sections_follow_headings_and_ignore_hashes_in_code():
    sections = split_sections(ARTICLE, title="A Practical Guide to Fine-Tuning")
    headings = [s.heading for s in sections]
    assert headings == ["A Practical Guide to Fine-Tuning", "What is fine-tuning?", "Preparing data", "Cleaning",
                        "Evaluation set up", "Why use LoRA?"]  # the empty section is left out
    prep = sections[2]
    assert "# Not a heading" in prep.body and "```python" in prep.body
    assert "Remove duplicates" not in prep.body  # the subsection is its own section
    assert sections[3].path == ["A Practical Guide to Fine-Tuning", "Preparing data"]
    assert sections[4].level == 2  # a setext heading


def test_intro_before_the_first_heading_belongs_to_the_title():
    sections = split_sections("Some intro words here.\n\n## Part one\n\nBody one.", title="Doc")
    assert [(s.heading, s.body) for s in sections] == [("Doc", "Some intro words here."), ("Part one", "Body one.")]
    assert [s.heading for s in split_sections("Intro only.\n\n## A\n\nB.")] == ["A"]  # no title: no intro


def test_question_heading_becomes_the_prompt_and_its_text_the_answer(counter):
    doc = Document(id="a1", source={"kind": "files", "uri": "guide.md"}, text=ARTICLE,
                   fields={"title": "A Practical Guide to Fine-Tuning"})
    cands = from_markdown(doc, document_context(doc), QAConfig(), counter, ChunkingConfig())
    by_section = {c.meta["section"]: c for c in cands}
    what = by_section["What is fine-tuning?"].messages
    assert what[0] == {"role": "user", "content": "What is fine-tuning?"}
    assert what[1]["content"].startswith("Fine-tuning continues training a pretrained model")
    assert by_section["Cleaning"].messages[0]["content"] == "A Practical Guide to Fine-Tuning: Cleaning"
    assert all(c.reject is None for c in cands)
    only_q = from_markdown(doc, document_context(doc), QAConfig(questions_only=True), counter, ChunkingConfig())
    assert [c.meta["section"] for c in only_q] == ["What is fine-tuning?", "Why use LoRA?"]


def test_a_document_without_sections_is_one_reject(counter):
    doc = Document(id="a2", source={"kind": "files", "uri": "x.md"}, text="   ")
    [cand] = from_markdown(doc, document_context(doc), QAConfig(), counter, ChunkingConfig())
    assert cand.reject.reason == "no_sections"


def test_long_sections_are_chunked_by_tokens_with_overlap(counter):
    sentences = [f"Sentence number {i} explains step {i} of the process in plain words." for i in range(40)]
    body = " ".join(sentences[:20]) + "\n\n" + " ".join(sentences[20:])
    per_sentence = max(counter.count_texts(sentences))
    limit = 4 * per_sentence
    chunks = chunk_text(body, counter, chunk_tokens=limit, overlap_tokens=per_sentence + 2)
    assert len(chunks) > 3
    sizes = counter.count_texts(chunks)
    assert max(sizes) <= limit
    for before, after in zip(chunks, chunks[1:]):
        # the next chunk starts with the last sentence(s) of the one before
        last_sentence = before.split(". ")[-1].rstrip(".")
        assert after.startswith(last_sentence), (before, after)
    # every sentence is in some chunk, in order, and nothing is cut mid-sentence
    joined = " ".join(chunks)
    assert all(s in joined for s in sentences)
    assert all(c.endswith(".") for c in chunks)


def test_one_overlong_sentence_is_cut_into_token_windows(counter):
    body = "word " * 300
    chunks = chunk_text(body.strip(), counter, chunk_tokens=50, overlap_tokens=0)
    assert len(chunks) >= 5
    assert max(counter.count_texts(chunks)) <= 50


def test_chunked_sections_number_their_parts_in_the_prompt(counter):
    long = " ".join(f"Point {i} is an important detail about pens." for i in range(30))
    doc = Document(id="a3", source={"kind": "files", "uri": "x.md"}, text=f"## Why gel pens?\n\n{long}")
    cfg = DatasetConfig.model_validate({"qa": {}, "chunking": {"chunk_tokens": 64, "overlap_tokens": 16}})
    cands = from_markdown(doc, document_context(doc), cfg.qa, counter, cfg.chunking)
    assert len(cands) > 2
    assert cands[0].messages[0]["content"] == f"Why gel pens? (part 1 of {len(cands)})"
    assert [c.meta["part"] for c in cands] == list(range(1, len(cands) + 1))
