"""The dataset stage: clean documents into validated, split, mixed chat training sets.

Reads ``<clean>/documents.jsonl``; writes ``train.jsonl``, ``validation.jsonl``, ``test.jsonl``
(webtune.records.Example), ``rejects.jsonl``, ``stats.json`` and ``export/<format>/``.

It streams, so memory does not grow with the corpus (bench/dataset_memory.py measures it):

1. *generate*: documents are read a batch at a time and passed through the generators
   (webtune.dataset.generators: templates, Markdown Q&A, teacher Q&A, teacher rewrites, and any
   registered plugin); candidates are spilled to JSONL in a temporary directory under the
   stage's work dir, one file per lane (see webtune.dataset.generators.base);
2. *check*: the spilled candidates are validated, counted with the base model's tokenizer,
   truncated or rejected when too long, and exact duplicates dropped (keys in SQLite,
   webtune.dataset.spill); split groups are counted on disk too;
3. *split*: groups get their split in hash order (webtune.dataset.splits), then the checked
   candidates are written to the three splits and the rejects, and general sets are mixed in;
4. *export* streams the split files into the other formats.

Preference generators (``ratings``, ``reference_vs_base``, ``teacher_pairs``) make candidates of
kind ``preference``: they are spilled to a file of their own, checked by
`webtune.dataset.preference` (well-formed, same prompt, chosen differs from rejected, every
conversation within ``max_tokens``: over-long records are rejected, never truncated, since a
cut answer is another answer; exact duplicates dropped), counted in the same split groups as
the chat examples, and written to ``preference_{train,validation,test}.jsonl``
(`webtune.records.PreferenceExample`) in their group's split: a document's preference records
and chat examples always share a split. They are candidates too: ``in``, ``kept`` and
``rejected`` count them, and ``stats.preference`` gives them per split and generator.

Counting: the unit is a *candidate example*. Each document yields one candidate per template
that applies to it, one per Markdown section chunk (Q&A), one per teacher pair (or one for a
teacher reply that does not parse); a document that yields none is one candidate rejected with
``no_generator`` / ``no_sections``; an unreadable line is one rejected candidate; every
general-set row drawn for mixing is one candidate. ``in`` = candidates, ``kept`` = examples
written to the three splits, ``rejected`` = lines of ``rejects.jsonl``; documents are counted
separately in ``stats.documents``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter, defaultdict
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from pydantic import ValidationError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from webtune.dataset import export as export_mod
from webtune.dataset import mixing
from webtune.dataset import preference as pref_mod
from webtune.dataset.base_answers import BaseAnswers
from webtune.dataset.generators import GENERATORS, Batch, Candidate, DocItem, GeneratorEnv, base_meta, drop, make_reject
from webtune.dataset.generators.base import lanes_of, produces
from webtune.dataset.generators.mixing import MixBatch
from webtune.dataset.spill import DiskIndex, SpillFile, digest
from webtune.dataset.splits import SPLITS, PinnedSplits, SplitChooser, group_hash, group_key
from webtune.dataset.teacher import TeacherClient, run_requests
from webtune.dataset.templates import document_context
from webtune.dataset.tokens import TokenCounter, histogram_distribution
from webtune.dataset.validate import check_messages, estimate_cost
from webtune.errors import ConfigError, InputError, StageError
from webtune.jsonl import JsonlWriter, atomic_write_json, count_lines, iter_jsonl_lines, read_jsonl
from webtune.records import Document, Example, PreferenceExample, canonical_json
from webtune.stage import Counts, StageContext, StageResult, sha256_file

STAGE = "dataset"
COUNTS_DEFINITION = (
    "in = candidate examples (one per document x applicable template, per Markdown section chunk, "
    "per teacher pair or unparseable teacher reply, per document that yields none, per unreadable "
    "line, per general-set row drawn, per preference record a preference generator makes); "
    "kept = examples written to train/validation/test plus preference records written to "
    "preference_{train,validation,test}.jsonl; rejected = lines of rejects.jsonl"
)
TEACHER_CACHE = "teacher-cache"  # in the work dir, kept after publishing
BASE_ANSWERS_CACHE = "base-answers-cache"  # the base model's answers (preference pairs), kept too
DOCS_PER_BATCH = 256  # documents in memory at once (also what the teacher gets to work on in parallel)
CHECK_BATCH = 256  # candidates tokenised at once
DOC_LANE, UNUSED_LANE = "", "unused"


# ------------------------------------------------------------------ reading documents


def read_documents(path: Path) -> Iterator[tuple[int, Document | None, Candidate | None]]:
    """(line, document, None) per line of clean's output; an unreadable line gives a rejected candidate."""
    if not path.is_file():
        raise StageError(f"dataset: {path} not found; run `webtune clean` first")
    for line_no, obj, error in iter_jsonl_lines(path):
        meta = {"source_id": None, "line": line_no}
        if error is None:
            try:
                yield line_no, Document.model_validate(obj), None
                continue
            except ValidationError as exc:
                err = exc.errors()[0]
                error = f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
        yield line_no, None, Candidate(None, meta, reject=make_reject("read", "invalid_document", meta,
                                                                      value=f"{path.name}:{line_no}: {error}"))


# ------------------------------------------------------------------ the generators of a dataset section


def configured_generators(cfg: Any) -> list[Any]:
    """The generators a ``dataset`` section asks for, in the order they run.

    ``templates``, ``qa`` and ``teacher`` are shorthands for the built-ins; ``generators`` lists
    any registered generator (built-in or plugin) by name, with its config.
    """
    chosen: list[tuple[str, Any]] = []
    if cfg.templates:
        chosen.append(("templates", {"templates": cfg.templates}))
    if cfg.qa is not None:
        chosen.append(("qa", cfg.qa))
    for entry in cfg.generators:
        settings = {k: v for k, v in entry.items() if k != "generator"}
        chosen.append((entry["generator"], settings))
    if cfg.teacher is not None:
        chosen.append(("teacher-qa" if cfg.teacher.mode == "qa" else "teacher-rewrite", cfg.teacher))
    made = []
    for name, settings in chosen:
        cls = GENERATORS.get(name)
        config = settings if isinstance(settings, cls.Config) else cls.Config.model_validate(
            settings.model_dump() if hasattr(settings, "model_dump") else settings)
        made.append(cls(config))
    return made


def _check_config(cfg: Any) -> None:
    """A dataset section with nothing to generate is a config error, not an empty training set."""
    makers = cfg.generators or cfg.templates or cfg.qa is not None or (cfg.teacher and cfg.teacher.mode == "qa")
    if not makers:
        raise ConfigError("dataset: nothing to make; give dataset.templates, dataset.qa, dataset.teacher (mode: qa) "
                          "or dataset.generators")


# ------------------------------------------------------------------ the teacher


class Teachers:
    """One cached, resumable teacher client per teacher config, and a progress task per use."""

    def __init__(self, ctx: StageContext):
        self.ctx = ctx
        self.clients: dict[int, TeacherClient] = {}
        self.progress: Progress | None = None
        self._tasks: dict[str, Any] = {}

    def client(self, config: Any) -> TeacherClient:
        """The client of ``config``, its cache under the configured dir or the stage's work dir."""
        if id(config) not in self.clients:
            cache = Path(config.cache_dir) if config.cache_dir else self.ctx.work_dir / TEACHER_CACHE
            self.clients[id(config)] = TeacherClient(config, cache)
        return self.clients[id(config)]

    def ask(self, config: Any, prompts: list[list[dict[str, str]]], what: str) -> list[str | None]:
        """Replies to ``prompts`` from the teacher of ``config`` (see teacher.run_requests)."""
        client = self.client(config)
        if self.progress is None:
            return run_requests(client, prompts)
        if what not in self._tasks:
            self._tasks[what] = self.progress.add_task(f"teacher ({what})", total=None)
        task = self._tasks[what]
        return run_requests(client, prompts, on_done=lambda: self.progress.advance(task))

    def usage(self) -> Any:
        """stats.teacher: the usage of the teacher (a list when there are several, {} for none)."""
        usages = [c.usage.to_json() for c in self.clients.values()]
        return usages[0] if len(usages) == 1 else (usages or {})


# ------------------------------------------------------------------ 1. generate


class Lanes:
    """The spill files of pass 1, in output order: the document lane, generator lanes, unused."""

    def __init__(self, spill_dir: Path, generators: list[Any]):
        keys = [DOC_LANE] + [f"{pos}:{lane}" for pos, gen in enumerate(generators) for lane in lanes_of(gen)]
        keys.append(UNUSED_LANE)
        self.files = {key: SpillFile(spill_dir / f"lane-{n}.jsonl") for n, key in enumerate(keys)}
        self.preferences = SpillFile(spill_dir / "preferences.jsonl")  # every preference candidate, in order

    def write(self, key: str, cand: Candidate) -> None:
        if cand.kind == "preference":
            self.preferences.write(cand)
            return
        if key not in self.files:
            raise StageError(f"dataset: a generator put a candidate in the undeclared lane {key!r}")
        self.files[key].write(cand)

    def close(self) -> None:
        for spill in self.files.values():
            spill.close()
        self.preferences.close()

    def read(self) -> Iterator[Candidate]:
        """Every candidate, lane after lane."""
        for spill in self.files.values():
            yield from spill.read()


def generate(ctx: StageContext, generators: list[Any], env: GeneratorEnv, teachers: Teachers,
             lanes: Lanes) -> dict[str, int]:
    """Pass 1: every document through every generator, a batch at a time, into the lanes."""
    n_lines = n_docs = 0
    items: list[DocItem] = []
    bad: list[tuple[int, Candidate]] = []
    path = ctx.input("clean") / "documents.jsonl"
    with _progress(ctx) as progress:
        teachers.progress = progress
        task = progress.add_task("dataset: documents", total=None)
        for line_no, doc, bad_line in read_documents(path):
            n_lines += 1
            progress.advance(task)
            if bad_line is not None:
                bad.append((line_no, bad_line))
            else:
                n_docs += 1
                items.append(DocItem(doc, document_context(doc), line_no))
            if len(items) + len(bad) >= DOCS_PER_BATCH:
                _run_batch(items, bad, generators, env, lanes)
                items, bad = [], []
        _run_batch(items, bad, generators, env, lanes)
        teachers.progress = None
    lanes.close()
    return {"lines": n_lines, "read": n_docs}


def _run_batch(items: list[DocItem], bad: list[tuple[int, Candidate]], generators: list[Any],
               env: GeneratorEnv, lanes: Lanes) -> None:
    """One batch: run the generators in order, then spill what they made (rewrites edit in place)."""
    batch = Batch(items)
    line_of = {id(item.doc): item.line for item in items}
    doc_lane: list[tuple[float, int, Candidate]] = [(line, -1, cand) for line, cand in bad]
    own_lanes: list[tuple[str, Candidate]] = []
    for pos, gen in enumerate(generators):
        made = list(gen.generate(batch, env) or ())
        batch.candidates.extend(made)
        for cand in made:
            if cand.lane == DOC_LANE:
                doc_lane.append((line_of.get(id(cand.doc), float("inf")), pos, cand))
            else:
                own_lanes.append((f"{pos}:{cand.lane}", cand))
    # per document, the candidates of each generator in turn (sort is stable)
    doc_lane.sort(key=lambda entry: (entry[0], entry[1]))
    for _, _, cand in doc_lane:
        lanes.write(DOC_LANE, cand)
    for key, cand in own_lanes:
        lanes.write(key, cand)
    used = {c.meta.get("source_id") for c in batch.candidates}
    for item in items:
        if item.doc.id not in used:
            lanes.write(UNUSED_LANE, _unused(item.doc))


def _unused(doc: Document) -> Candidate:
    """A document no generator applied to: one rejected candidate, so it is accounted for."""
    meta = base_meta(doc, "none", "none")
    reason, hint = "no_generator", None
    if doc.html and not doc.text:  # a page clean never turned into text: say how to fix it
        reason, hint = "html_not_converted", "HTML but no text: add the html_to_text clean step"
    return Candidate(None, meta, doc, reject=make_reject("select", reason, meta, doc.source, value=hint))


# ------------------------------------------------------------------ 2. check and count


@dataclass
class Limits:
    """What pass 2 enforces."""

    max_tokens: int | None
    overflow: str
    dedup: bool
    seed: int
    pins: PinnedSplits | None = None  # a refresh run: splits earlier versions gave groups


def check_and_count(candidates: Iterable[Candidate], counter: TokenCounter, limits: Limits, index: DiskIndex,
                    out: SpillFile) -> tuple[int, int]:
    """Pass 2: reject invalid, too long and duplicate candidates, count tokens, count split groups.

    Writes every candidate to ``out`` in order; returns (good candidates, truncations).
    """
    good = truncated = 0
    pending: list[Candidate] = []

    def flush() -> None:
        nonlocal good, truncated
        live = [c for c in pending if c.reject is None]
        for cand, n in zip(live, counter.count_chats([c.messages for c in live])):
            cand.tokens = n
        for cand in pending:
            if cand.reject is None:
                truncated += _limit(cand, counter, limits, index)
            if cand.reject is None:
                good += 1
                _count_group(cand, limits, index)
            out.write(cand)
        pending.clear()

    for cand in candidates:
        if cand.reject is None:
            problems = check_messages(cand.messages)
            if problems:
                drop(cand, "validate", "invalid_example", value="; ".join(f"{f}: {m}" for f, m in problems))
        pending.append(cand)
        if len(pending) >= CHECK_BATCH:
            flush()
    flush()
    out.close()
    return good, truncated


def _count_group(cand: Candidate, limits: Limits, index: DiskIndex) -> None:
    """Count a kept candidate in its split group, unless a refresh run pinned that group's split."""
    if limits.pins is None or limits.pins.split_of(cand.meta) is None:
        index.add_to_group(group_hash(limits.seed, group_key(cand.meta)))


def _split_of(cand: Candidate, index: DiskIndex, seed: int, pins: PinnedSplits | None) -> tuple[str, bool]:
    """The candidate's split: the one an earlier version pinned for its group, else its group's
    by hash; and whether it was pinned."""
    split = pins.split_of(cand.meta) if pins is not None else None
    if split is not None:
        return split, True
    return index.split_of(group_hash(seed, group_key(cand.meta))), False


def _limit(cand: Candidate, counter: TokenCounter, limits: Limits, index: DiskIndex) -> int:
    """Truncate or reject an over-long candidate, reject a duplicate; 1 when truncated."""
    truncated = 0
    if limits.max_tokens is not None and cand.tokens > limits.max_tokens:
        fitted = counter.truncate_chat(cand.messages, limits.max_tokens) if limits.overflow == "truncate" else None
        if fitted is None:
            drop(cand, "validate", "over_max_tokens", value=cand.tokens, threshold=limits.max_tokens)
            return 0
        cand.messages, cand.tokens = fitted
        cand.meta["truncated"] = True
        truncated = 1
    if limits.dedup and not index.first_time(digest(canonical_json(cand.messages))):
        drop(cand, "dedup", "duplicate_example")
    return truncated


def check_preferences(candidates: Iterable[Candidate], counter: TokenCounter, limits: Limits, index: DiskIndex,
                      out: SpillFile) -> int:
    """Pass 2 for preference candidates: reject malformed, equal, too long and duplicate records;
    count the rest in their split group. Writes every candidate to ``out``; returns the good ones."""
    good = 0
    pending: list[tuple[Candidate, PreferenceExample]] = []

    def flush() -> None:
        nonlocal good
        for (cand, record), n in zip(pending, pref_mod.record_tokens(counter, [r for _, r in pending])):
            cand.tokens = n
            if limits.max_tokens is not None and n > limits.max_tokens:
                drop(cand, "validate", "over_max_tokens", value=n, threshold=limits.max_tokens)
            elif limits.dedup and not index.first_time(digest("preference:" + canonical_json(
                    {k: v for k, v in record.to_json().items() if k != "meta"}))):
                drop(cand, "dedup", "duplicate_preference")
            else:
                good += 1
                _count_group(cand, limits, index)
            out.write(cand)
        pending.clear()

    for cand in candidates:
        if cand.reject is None:
            record = _preference_record(cand)
            if record is not None:
                pending.append((cand, record))
                if len(pending) >= CHECK_BATCH:
                    flush()
                continue
        out.write(cand)
    flush()
    out.close()
    return good


def _preference_record(cand: Candidate) -> PreferenceExample | None:
    """The candidate's record once it passes `webtune.dataset.preference`'s checks; else it is dropped."""
    try:
        record = pref_mod.read_record(cand.preference)
    except pref_mod.PreferenceFormatError as exc:
        drop(cand, "validate", "invalid_preference", value=f"{exc.field}: {exc.message}")
        return None
    problem = pref_mod.check_record(record)
    if problem is not None:
        drop(cand, "validate", problem[0], value=problem[1])
        return None
    return record


# ------------------------------------------------------------------ 3. split, write, mix


def _per_split() -> dict[str, dict[str, int]]:
    return defaultdict(lambda: dict.fromkeys(SPLITS, 0))


@dataclass
class Tally:
    """The figures of stats.json, gathered while writing (bounded: histograms and per-name counts)."""

    examples: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SPLITS, 0))
    histograms: dict[str, Counter] = field(default_factory=lambda: {name: Counter() for name in SPLITS})
    templates: dict[str, dict[str, int]] = field(default_factory=_per_split)
    sources: dict[str, dict[str, int]] = field(default_factory=_per_split)
    # names in the order they first appear in each split: stats list train's first, then validation's, ...
    first_seen: dict[str, dict[tuple[str, str], None]] = field(default_factory=lambda: {n: {} for n in SPLITS})
    rejects: Counter = field(default_factory=Counter)
    seen: int = 0
    preferences: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SPLITS, 0))
    preference_kinds: dict[str, dict[str, int]] = field(default_factory=_per_split)  # paired / kto
    preference_generators: dict[str, dict[str, int]] = field(default_factory=_per_split)

    def kept_preference(self, cand: Candidate, split: str) -> None:
        self.seen += 1
        self.preferences[split] += 1
        kind = "paired" if "chosen" in cand.preference else "kto"
        self.preference_kinds[kind][split] += 1
        self.preference_generators[cand.meta.get("generator", "?")][split] += 1

    def kept(self, cand: Candidate, split: str) -> None:
        self.seen += 1
        self.examples[split] += 1
        self.histograms[split][cand.tokens] += 1
        template, source = cand.meta["template"], cand.meta["source"]
        self.templates[template][split] += 1
        self.sources[source][split] += 1
        self.first_seen[split].setdefault(("template", template))
        self.first_seen[split].setdefault(("source", source))

    def rejected(self, reject: Any) -> None:
        self.seen += 1
        self.rejects[reject["reason"] if isinstance(reject, dict) else reject.reason] += 1

    def tokens(self, split: str) -> int:
        return sum(value * n for value, n in self.histograms[split].items())

    def by(self, kind: str) -> dict[str, dict[str, int]]:
        """Examples per split by template or source, keyed in the order of the splits' contents."""
        counts = self.templates if kind == "template" else self.sources
        out: dict[str, dict[str, int]] = {}
        for split in SPLITS:
            for what, name in self.first_seen[split]:
                if what == kind and name not in out:
                    out[name] = counts[name]
        return out


class Output:
    """The three split writers and the rejects; examples and rejects are tallied as written."""

    def __init__(self, ctx: StageContext, stack: ExitStack, preferences: bool = False):
        self.ctx = ctx
        self.tally = Tally()
        self.paths = {name: ctx.output_dir / f"{name}.jsonl" for name in SPLITS}
        self.writers = {name: stack.enter_context(JsonlWriter(path)) for name, path in self.paths.items()}
        # written only when a preference generator is configured (the contract with the train stage)
        self.preference_paths = {name: ctx.output_dir / f"preference_{name}.jsonl" for name in SPLITS} \
            if preferences else {}
        self.preference_writers = {name: stack.enter_context(JsonlWriter(path))
                                   for name, path in self.preference_paths.items()}

    def preference(self, cand: Candidate, split: str) -> None:
        record = dict(cand.preference)
        record["meta"] = {**cand.meta, "tokens": cand.tokens, "split": split}
        self.preference_writers[split].write(PreferenceExample.model_validate(record).to_json())
        self.tally.kept_preference(cand, split)

    def example(self, cand: Candidate, split: str) -> None:
        cand.meta["tokens"] = cand.tokens
        self.writers[split].write(Example(messages=cand.messages, meta=cand.meta).to_json())
        self.tally.kept(cand, split)

    def reject(self, reject: Any) -> None:
        self.ctx.rejects.write(reject)
        self.tally.rejected(reject)

    def close(self) -> None:
        for writer in (*self.writers.values(), *self.preference_writers.values()):
            writer.close(ok=True)


def write_domain(checked: SpillFile, index: DiskIndex, seed: int, output: Output,
                 pins: PinnedSplits | None = None) -> Counter:
    """Pass 3: the checked candidates into their group's split (a pinned one first), and the rejects;
    returns how many examples went to a pinned split, by split."""
    pinned: Counter = Counter()
    for cand in checked.read():
        if cand.reject is not None:
            output.reject(cand.reject)
            continue
        split, was_pinned = _split_of(cand, index, seed, pins)
        if was_pinned:
            pinned[split] += 1
        cand.meta["split"] = split
        if cand.meta.get("generator") != "mix":
            index.add_doc(cand.meta["source_id"])
        output.example(cand, split)
    return pinned


def add_history_examples(history: Any, output: Output) -> dict[str, int]:
    """Retraining: every earlier version's train and validation examples join this version's
    (they passed validation when their version was built; their split is kept)."""
    added: dict[str, int] = {}
    for split in ("train", "validation"):
        for path in history.split_files(split):
            for obj in read_jsonl(path):
                meta = {"template": "history", "source": "history", **obj.get("meta", {}),
                        "from_version": int(path.parent.name.lstrip("v"))}
                cand = Candidate(obj["messages"], meta, tokens=int(meta.get("tokens") or 0))
                output.example(cand, split)
                added[split] = added.get(split, 0) + 1
    return added


def write_preferences(checked: SpillFile, index: DiskIndex, seed: int, output: Output,
                      pins: PinnedSplits | None = None) -> None:
    """Pass 3 for preference records: each into its group's split (the split of its chat
    examples: a pinned one first)."""
    for cand in checked.read():
        if cand.reject is not None:
            output.reject(cand.reject)
            continue
        split, _ = _split_of(cand, index, seed, pins)
        index.add_doc(cand.meta["source_id"])
        output.preference(cand, split)


def mix_general(ctx: StageContext, env: GeneratorEnv, output: Output, max_tokens: int | None,
                seed: int) -> list[dict[str, Any]]:
    """Draw general-set examples into the splits (after their domain part); returns provenance."""
    provenance = []
    sources = ctx.config.mix
    for into in SPLITS:
        mixes = [(i, m) for i, m in enumerate(sources) if into in m.into]
        if not mixes or not output.tally.examples[into]:
            continue
        # the targets are relative to the domain part only
        domain = {"examples": output.tally.examples[into], "tokens": output.tally.tokens(into)}
        ratios = [m.ratio for _, m in mixes]
        for position, (i, mix) in enumerate(mixes):
            target = mixing.general_targets(ratios, domain[mix.by])[position]
            drawn = kept = tokens = 0
            for cand in GENERATORS.get("mix")(mix).generate(MixBatch(into, target, seed + i, max_tokens), env):
                drawn += 1
                if cand.reject is not None:
                    output.reject(cand.reject.to_json())
                    continue
                kept += 1
                tokens += cand.tokens
                output.example(cand, into)
            provenance.append({
                "name": mix.label(), "path": str(mix.path), "split": into, "by": mix.by, "ratio": mix.ratio,
                "target": round(target, 2), "drawn": drawn, "kept": kept,
                "rejected": drawn - kept, "examples": kept, "tokens": tokens,
                "sha256": sha256_file(Path(mix.path)) if Path(mix.path).is_file() else None,
            })
    return provenance


# ------------------------------------------------------------------ the stage


def _progress(ctx: StageContext) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=ctx.console, transient=True)


def _check_input(path: Path) -> None:
    """An empty clean store is the user's problem upstream: name it, not "0 train examples"."""
    if path.is_file() and count_lines(path) == 0:
        raise InputError(f"dataset: {path} holds no documents: clean kept none (see {path.parent / 'rejects.jsonl'}, "
                         "or `webtune clean --explain ID`)")


def refresh_history(ctx: StageContext) -> Any:
    """The pipeline's history in a refresh run (``ctx.shared["refresh"]``), else None."""
    settings = ctx.shared.get("refresh")
    if not settings:
        return None
    from webtune.refresh.history import History

    return History(settings["history"])


def run_dataset(ctx: StageContext) -> StageResult:
    """Build train/validation/test chat sets from clean's documents (see the module docstring)."""
    cfg = ctx.config
    _check_config(cfg)
    base_model = ctx.shared.get("base_model")
    if not base_model:
        raise ConfigError("dataset: the pipeline has no base_model to count tokens with")
    seed = cfg.split.seed if cfg.split.seed is not None else ctx.shared.get("seed", 0)
    counter = TokenCounter.for_model(base_model, key="base_model")
    max_tokens = cfg.max_tokens or counter.max_length
    generators = configured_generators(cfg)
    _check_input(ctx.input("clean") / "documents.jsonl")

    teachers = Teachers(ctx)
    if cfg.teacher is not None:
        teachers.client(cfg.teacher)  # its usage is reported even when nothing was asked
    wants_preferences = any(produces(gen) == "preference" for gen in generators)
    answers = BaseAnswers(base_model, ctx.work_dir / BASE_ANSWERS_CACHE)
    env = GeneratorEnv(counter=counter, chunking=cfg.chunking, work_dir=ctx.work_dir, ask=teachers.ask,
                       base_answers=answers)
    for stale in ctx.work_dir.glob("spill-*"):  # left by a killed run; nothing in it is resumable
        shutil.rmtree(stale, ignore_errors=True)
    with ExitStack() as stack:
        spill_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(dir=ctx.work_dir, prefix="spill-")))
        index = DiskIndex(spill_dir / "index.sqlite")
        stack.callback(index.close)
        lanes = Lanes(spill_dir, generators)
        doc_stats = generate(ctx, generators, env, teachers, lanes)
        checked = SpillFile(spill_dir / "checked.jsonl")
        history = refresh_history(ctx)
        pins = PinnedSplits(history.pins()) if history is not None else None
        limits = Limits(max_tokens, cfg.overflow, cfg.dedup, seed, pins)
        n_good, truncated = check_and_count(lanes.read(), counter, limits, index, checked)
        checked_pref = SpillFile(spill_dir / "checked-preferences.jsonl")
        n_pref = check_preferences(lanes.preferences.read(), counter, limits, index, checked_pref)
        # preference records weigh in the split sizes like examples: both kinds share the groups
        chooser = SplitChooser(cfg.split.validation, cfg.split.test, n_good + n_pref, index.group_count())
        index.assign_groups(chooser.choose)
        output = Output(ctx, stack, preferences=wants_preferences)
        pinned = write_domain(checked, index, seed, output, pins)
        write_preferences(checked_pref, index, seed, output, pins)
        from_history = add_history_examples(history, output) \
            if history is not None and ctx.shared["refresh"].get("train") == "retrain" else {}
        provenance = mix_general(ctx, env, output, max_tokens, seed)
        tally = output.tally
        _check_enough(cfg, tally, generators)
        output.close()
        with_examples = index.doc_count()
    written = export_mod.export_splits(output.paths, ctx.output_dir / "export", cfg.export.formats) \
        if cfg.export.formats else {}
    if output.preference_paths and cfg.export.formats:
        for fmt, files in export_mod.export_preferences(output.preference_paths, ctx.output_dir / "export",
                                                        cfg.export.formats).items():
            written[fmt] = written.get(fmt, []) + files
    doc_stats = {**doc_stats, "with_examples": with_examples, "teacher": teachers.usage()}
    stats = _stats(cfg, tally, doc_stats, provenance, max_tokens, truncated, base_model)
    stats["export"] = written
    if history is not None:
        stats["refresh"] = {"pinned_examples": dict(pinned), "history_examples": from_history}
    if wants_preferences:
        stats["preference"] = {"examples": dict(tally.preferences), "by_kind": dict(tally.preference_kinds),
                               "by_generator": dict(tally.preference_generators),
                               "base_answers": answers.usage.to_json()}
    atomic_write_json(ctx.output_dir / "stats.json", stats)
    _print_summary(ctx, stats)
    kept = sum(tally.examples.values()) + sum(tally.preferences.values())
    # Teacher answers are paid for and base answers cost compute: they outlive publishing, so a
    # changed template reuses them.
    return StageResult(counts=Counts(seen=tally.seen, kept=kept, rejected=tally.seen - kept), stats=stats,
                       keep_work=(TEACHER_CACHE, BASE_ANSWERS_CACHE))


def _check_enough(cfg: Any, tally: Tally, generators: list[Any]) -> None:
    """Too few train examples is an error: of chat examples when a generator makes them, and of
    preference records when a generator makes those."""
    kinds = {produces(gen) for gen in generators}
    if ("example" in kinds or cfg.mix) and tally.examples["train"] < cfg.min_examples:
        raise StageError(f"dataset: only {tally.examples['train']} train examples, at least {cfg.min_examples} "
                         f"are needed (dataset.min_examples); see the rejects: {_top_rejects(tally)}")
    if "preference" in kinds and tally.preferences["train"] < cfg.min_examples:
        raise StageError(f"dataset: only {tally.preferences['train']} train preference records, at least "
                         f"{cfg.min_examples} are needed (dataset.min_examples); see the rejects: "
                         f"{_top_rejects(tally)}")


def _top_rejects(tally: Tally) -> str:
    return ", ".join(f"{r}={n}" for r, n in tally.rejects.most_common(5)) or "none"


def _stats(cfg: Any, tally: Tally, doc_stats: dict[str, Any], provenance: list[dict[str, Any]],
           max_tokens: int | None, truncated: int, base_model: str) -> dict[str, Any]:
    """Figures for stats.json and the manifest."""
    tokens = {name: histogram_distribution(tally.histograms[name]) for name in SPLITS}
    tokens["all"] = histogram_distribution(sum(tally.histograms.values(), Counter()))
    n_train = tally.examples["train"]
    warnings = [f"only {n_train} train examples; {cfg.warn_examples} or more are recommended"] \
        if n_train < cfg.warn_examples else []
    return {
        "counts_definition": COUNTS_DEFINITION,
        "documents": {"lines": doc_stats["lines"], "read": doc_stats["read"],
                      "with_examples": doc_stats["with_examples"]},
        "examples": dict(tally.examples),
        "tokens": tokens,
        "tokenizer": base_model,
        "max_tokens": max_tokens,
        "overflow": cfg.overflow,
        "truncated": truncated,
        "by_template": tally.by("template"),
        "by_source": tally.by("source"),
        "rejects": dict(tally.rejects),
        "cost": estimate_cost(tokens["train"]["total"], cfg.hosted.epochs, cfg.hosted.model, cfg.hosted.prices),
        "teacher": doc_stats["teacher"],
        "mix": provenance,
        "warnings": warnings,
    }


def _print_summary(ctx: StageContext, stats: dict[str, Any]) -> None:
    """A table of the splits (examples and token distribution) and the top reject reasons."""
    table = Table(title="dataset")
    for col in ("split", "examples", "min", "mean", "p50", "p95", "max", "tokens"):
        table.add_column(col, justify="left" if col == "split" else "right")
    for name in (*SPLITS, "all"):
        t = stats["tokens"][name]
        table.add_row(name, str(t["count"]), str(t["min"]), str(t["mean"]), str(t["p50"]), str(t["p95"]),
                      str(t["max"]), str(t["total"]))
    ctx.console.print(table)
    if "preference" in stats:
        per = stats["preference"]["examples"]
        ctx.console.print("preference records: " + ", ".join(f"{split} {per[split]}" for split in SPLITS)
                          + f" (preference_{{train,validation,test}}.jsonl)")
    cost = stats["cost"]
    if cost["usd"] is not None:
        ctx.console.print(f"estimated hosted training cost: ${cost['usd']:.2f} ({cost['model']}, "
                          f"{cost['epochs']} epochs, {cost['note']})")
    if stats["rejects"]:
        ctx.console.print("rejects: " + ", ".join(f"{r}={n}" for r, n in sorted(stats["rejects"].items())))
    for warning in stats["warnings"]:
        ctx.console.print(f"[yellow]warning:[/yellow] {warning}")
