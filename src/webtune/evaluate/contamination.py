"""Contamination: does a held-out example overlap the training split or a benchmark the user lists?

The test, as in the GPT-3 paper (Brown et al. 2020, "Language Models are Few-Shot Learners",
appendix C: 13-gram overlap on lower-cased words with punctuation removed) and datatrove's
decontamination (huggingface/datatrove, ``pipeline/decont/n_grams.py``: ``NGramsDecontConfig``
normalises text with ``TextNormConfig`` -- lower case, punctuation removed -- and, by default,
looks for the n-grams of the answer and those spanning prompt and answer, not the prompt alone):

* text is normalised: lower case, every character that is neither a letter, a digit nor a
  space becomes a space, then split on whitespace into words;
* a test example's n-grams (``n`` = 13 words) are those of "user prompt + reference reply" that
  reach into the reply (n-grams of the prompt alone are skipped: datasets built from one
  instruction template share them, which is not leakage);
* the index holds every n-gram of every training example (all its messages) and of every
  benchmark file; a test example is contaminated when the shared n-grams cover at least
  ``min_coverage`` of its reply's words. Coverage, not "any shared n-gram", follows the Llama 2
  paper's contamination analysis (Touvron et al. 2023, section A.6: a sample is "dirty" when most
  of its tokens sit in matched n-grams): web text from one site repeats stock phrases ("A bright,
  practical set for school, the office, ...") without the test answer being in the training set.
  ``min_coverage: 0`` flags any shared n-gram, as GPT-3 did.

Hand-written (a set of word tuples) rather than datatrove, which would add a large dependency
for what is a few lines at this scale (hundreds to thousands of examples).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from webtune.errors import InputError

_NOT_WORD = re.compile(r"[^\w\s]|_", re.UNICODE)


def normalize_words(text: str) -> list[str]:
    """Lower-cased words with punctuation removed (GPT-3 / datatrove style)."""
    return _NOT_WORD.sub(" ", text.lower()).split()


def ngrams(words: list[str], n: int, start: int = 0) -> Iterator[tuple[str, ...]]:
    """The n-grams of ``words`` that end at or after position ``start`` (all of them by default)."""
    for i in range(max(0, start - n + 1), len(words) - n + 1):
        yield tuple(words[i:i + n])


@dataclass
class Flag:
    """One contaminated test example: where it overlaps, and one shared n-gram as evidence."""

    line: int
    id: str | None
    sources: list[str]
    ngram: str


@dataclass
class ContaminationIndex:
    """Every n-gram of the reference texts, with the first source that has it."""

    n: int = 13
    grams: dict[tuple[str, ...], str] = field(default_factory=dict)
    texts: dict[str, int] = field(default_factory=dict)

    def add(self, text: str, source: str) -> None:
        """Index one text (a training example, a benchmark record) under ``source``."""
        self.texts[source] = self.texts.get(source, 0) + 1
        for gram in ngrams(normalize_words(text), self.n):
            self.grams.setdefault(gram, source)

    def check(self, prompt: str, reply: str, min_coverage: float = 0.0) -> tuple[list[str], str, float] | None:
        """(sources, one shared n-gram, coverage) when indexed n-grams reaching into ``reply`` cover
        more than ``min_coverage`` of the reply's words (any shared n-gram when it is 0)."""
        head = normalize_words(prompt)
        reply_words = normalize_words(reply)
        words = head + reply_words
        sources: list[str] = []
        evidence = ""
        covered: set[int] = set()
        for i, gram in enumerate(ngrams(words, self.n, start=len(head)), start=max(0, len(head) - self.n + 1)):
            source = self.grams.get(gram)
            if source is None:
                continue
            covered.update(j for j in range(i, i + self.n) if j >= len(head))
            if source not in sources:
                sources.append(source)
                evidence = evidence or " ".join(gram)
        coverage = len(covered) / len(reply_words) if reply_words else 0.0
        if not sources or (min_coverage > 0 and coverage < min_coverage):
            return None
        return sources, evidence, coverage


def example_text(obj: Any) -> str:
    """The text of a JSONL record: its messages' contents, else its string fields."""
    if isinstance(obj, dict) and isinstance(obj.get("messages"), list):
        return "\n".join(str(m.get("content", "")) for m in obj["messages"] if isinstance(m, dict))
    if isinstance(obj, dict):
        return "\n".join(v for v in obj.values() if isinstance(v, str))
    return obj if isinstance(obj, str) else ""


def benchmark_texts(path: Path) -> Iterator[str]:
    """The records of a benchmark file: one per line of a ``.jsonl``, else the whole text file."""
    if not path.is_file():
        raise InputError(f"{path}: benchmark file not found (evaluate.contamination.benchmarks)")
    if path.suffix == ".jsonl":
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                yield example_text(json.loads(line))
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{number}: not JSON ({exc.msg})") from None
    else:
        yield path.read_text(encoding="utf-8", errors="replace")


def build_index(train_path: Path | None, benchmarks: Iterable[Path], n: int = 13) -> ContaminationIndex:
    """The index of the training split (``train``) and each benchmark file (``benchmark:<name>``)."""
    index = ContaminationIndex(n=n)
    if train_path is not None and train_path.is_file():
        for line in train_path.read_text(encoding="utf-8").splitlines():
            try:
                index.add(example_text(json.loads(line)), "train")
            except json.JSONDecodeError:
                continue  # the dataset stage wrote it; a bad line there is that stage's reject
    for path in benchmarks:
        for text in benchmark_texts(Path(path)):
            index.add(text, f"benchmark:{Path(path).name}")
    return index


def find_contaminated(items: list[Any], index: ContaminationIndex, min_coverage: float = 0.0) -> list[Flag]:
    """The flagged test items (``EvalItem``s: last user turn as prompt, ``reference`` as reply)."""
    flags = []
    for item in items:
        prompt = next((m["content"] for m in reversed(item.prompt) if m["role"] == "user"), "")
        hit = index.check(prompt, item.reference, min_coverage)
        if hit:
            flags.append(Flag(line=item.line, id=item.id, sources=hit[0], ngram=hit[1]))
    return flags
