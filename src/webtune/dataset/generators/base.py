"""The generator protocol: what a dataset generator is, what it receives and what it yields.

A generator is a class with a pydantic ``Config`` and one method, constructed as
``Generator(config)`` and registered by name in ``GENERATORS`` (webtune.dataset.generators):

    @GENERATORS.register("shout")
    class Shout:
        Config = ShoutConfig

        def __init__(self, config: ShoutConfig): ...

        def generate(self, batch: Batch, env: GeneratorEnv) -> Iterable[Candidate]:
            for item in batch.docs: yield Candidate(...)

The stage streams clean's documents through the generators a batch at a time
(``batch.docs``), so no generator ever sees the whole corpus; ``batch.candidates`` holds what
the generators before it made from the same documents (the rewrite generator edits those in
place). A generator yields candidates in document order; they go to the shared *document lane*,
interleaved per document with the other generators'. A generator that works across documents
(the teacher) may instead put candidates in lanes of its own (``lanes``, set ``cand.lane``);
those follow the document lane in the output, in the order they are declared.

A *preference* generator (``produces = "preference"``: ``ratings``, ``reference_vs_base``,
``teacher_pairs``) yields candidates of ``kind="preference"`` whose ``preference`` holds a
`webtune.records.PreferenceExample` as JSON (``messages`` stays None). The stage checks, splits
and writes them apart from the chat examples, to ``preference_{train,validation,test}.jsonl``,
in the split of their group, so a document's preference records and chat examples never land
in different splits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterable, Protocol

from webtune.records import Document, Reject, SourceRef

STAGE = "dataset"


@dataclass
class Candidate:
    """A would-be example, or the reason it was dropped."""

    messages: list[dict[str, str]] | None
    meta: dict[str, Any]
    doc: Document | None = None
    reject: Reject | None = None
    tokens: int = 0
    context: dict[str, Any] = field(default_factory=dict, repr=False)
    lane: str = ""  # "" is the document lane; see the module docstring
    source: SourceRef | None = None  # where the document came from (None for general-set rows)
    kind: str = "example"  # "example" (chat) or "preference" (see the module docstring)
    preference: dict[str, Any] | None = None  # a PreferenceExample's JSON, for kind "preference"

    def __post_init__(self) -> None:
        if self.source is None and self.doc is not None:
            self.source = self.doc.source


@dataclass
class DocItem:
    """A document of the stream, its template context, and its line in ``documents.jsonl``."""

    doc: Document
    context: dict[str, Any]
    line: int


@dataclass
class Batch:
    """A slice of the document stream and the candidates made from it so far."""

    docs: list[DocItem]
    candidates: list[Candidate] = field(default_factory=list)


@dataclass
class GeneratorEnv:
    """What generators share: the base model's token counter, chunking, the work dir, the teacher."""

    counter: Any  # webtune.dataset.tokens.TokenCounter
    chunking: Any  # webtune.dataset.config.ChunkingConfig
    work_dir: Path
    # ask(config, prompts, what) -> replies: the teacher behind ``config``, cached and resumable
    ask: Callable[[Any, list[list[dict[str, str]]], str], list[str | None]] | None = None
    # base_answers(prompts, settings) -> answers: the base model's own answers, cached and resumable
    # (webtune.dataset.base_answers); settings has max_new_tokens, temperature, top_p, batch_size, seed
    base_answers: Callable[[list[list[dict[str, str]]], Any], list[str]] | None = None


class Generator(Protocol):
    """A dataset generator (see the module docstring)."""

    Config: ClassVar[type]
    lanes: ClassVar[tuple[str, ...]]

    def __init__(self, config: Any) -> None: ...

    def generate(self, batch: Batch, env: GeneratorEnv) -> Iterable[Candidate]:
        """Candidates made from ``batch.docs`` (in document order)."""
        ...


def base_meta(doc: Document, generator: str, template: str) -> dict[str, Any]:
    """Meta every example of ``doc`` carries."""
    return {"source_id": doc.id, "template": template, "generator": generator,
            "cluster_id": doc.meta.get("cluster_id"), "source": f"{doc.source.kind}:{doc.source.uri}"}


def make_reject(step: str, reason: str, meta: dict[str, Any], source: SourceRef | None = None, *,
                value: Any = None, threshold: Any = None, record: Any = None) -> Reject:
    """A dataset reject naming the document (or general-set row) it came from."""
    return Reject(stage=STAGE, step=step, reason=reason, id=meta.get("source_id"), value=value,
                  threshold=threshold, source=source,
                  record=record if record is not None else {k: v for k, v in meta.items() if k != "source_id"})


def drop(cand: Candidate, step: str, reason: str, **kw: Any) -> Candidate:
    """Mark ``cand`` rejected (keeps its messages in the reject record for debugging)."""
    if "record" not in kw:
        kw["record"] = {"meta": cand.meta, "messages": cand.messages} if cand.messages else \
            ({"meta": cand.meta, "preference": cand.preference} if cand.preference else None)
    cand.reject = make_reject(step, reason, cand.meta, cand.source, **kw)
    return cand


def produces(generator: Any) -> str:
    """What a generator makes: ``example`` (chat examples, the default) or ``preference``."""
    return getattr(generator, "produces", "example") or "example"


def lanes_of(generator: Any) -> tuple[str, ...]:
    """The extra lanes a generator declares (none for per-document generators)."""
    return tuple(getattr(generator, "lanes", ()) or ())


def preference_candidate(meta: dict[str, Any], doc: Document | None, prompt: list[dict[str, str]], *,
                         chosen: str | None = None, rejected: str | None = None, completion: str | None = None,
                         desirable: bool | None = None, lane: str = "") -> Candidate:
    """A candidate of kind ``preference`` holding a PreferenceExample's JSON (see the module docstring)."""
    record = {"prompt": [dict(m) for m in prompt], "meta": meta}
    for key, value in (("chosen", chosen), ("rejected", rejected), ("completion", completion),
                       ("desirable", desirable)):
        if value is not None:
            record[key] = value
    return Candidate(None, meta, doc, lane=lane, kind="preference", preference=record)
