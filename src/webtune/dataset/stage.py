"""The dataset stage: clean documents into validated, split, mixed chat training sets.

Reads ``<clean>/documents.jsonl``; writes ``train.jsonl``, ``validation.jsonl``, ``test.jsonl``
(webtune.records.Example), ``rejects.jsonl``, ``stats.json`` and ``export/<format>/``.

Counting: the unit is a *candidate example*. Each document yields one candidate per template
that applies to it, one per Markdown section chunk (Q&A), one per teacher pair (or one for a
teacher reply that does not parse); a document that yields none is one candidate rejected with
``no_generator`` / ``no_sections``; an unreadable line is one rejected candidate; every
general-set row drawn for mixing is one candidate. ``in`` = candidates, ``kept`` = examples
written to the three splits, ``rejected`` = lines of ``rejects.jsonl``; documents are counted
separately in ``stats.documents``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from pydantic import ValidationError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from webtune.dataset import export as export_mod
from webtune.dataset import mixing
from webtune.dataset.markdown import Chunk, chunk_sections, split_sections
from webtune.dataset.splits import SPLITS, assign_splits
from webtune.dataset.teacher import QAReply, RewriteReply, TeacherClient, TeacherReplyError, parse_reply, run_requests
from webtune.dataset.templates import RenderError, document_context, missing_required, render, render_messages, selects
from webtune.dataset.tokens import TokenCounter, distribution, plain_messages
from webtune.dataset.validate import check_messages, estimate_cost
from webtune.errors import ConfigError, InputError, StageError
from webtune.jsonl import atomic_write_json, count_lines, iter_jsonl_lines, write_jsonl
from webtune.records import Document, Example, Reject, canonical_json
from webtune.stage import Counts, StageContext, StageResult, sha256_file

STAGE = "dataset"
TEACHER_CACHE = "teacher-cache"  # in the work dir, kept after publishing
COUNTS_DEFINITION = (
    "in = candidate examples (one per document x applicable template, per Markdown section chunk, "
    "per teacher pair or unparseable teacher reply, per document that yields none, per unreadable "
    "line, per general-set row drawn); kept = examples written to train/validation/test; "
    "rejected = lines of rejects.jsonl"
)


@dataclass
class Candidate:
    """A would-be example, or the reason it was dropped."""

    messages: list[dict[str, str]] | None
    meta: dict[str, Any]
    doc: Document | None = None
    reject: Reject | None = None
    tokens: int = 0
    context: dict[str, Any] = field(default_factory=dict, repr=False)


def _reject(step: str, reason: str, meta: dict[str, Any], doc: Document | None = None, *,
            value: Any = None, threshold: Any = None, record: Any = None) -> Reject:
    """A dataset reject naming the document (or general-set row) it came from."""
    return Reject(stage=STAGE, step=step, reason=reason, id=meta.get("source_id"), value=value,
                  threshold=threshold, source=doc.source if doc else None,
                  record=record if record is not None else {k: v for k, v in meta.items() if k != "source_id"})


def _drop(cand: Candidate, step: str, reason: str, **kw: Any) -> Candidate:
    """Mark ``cand`` rejected (keeps its messages in the reject record for debugging)."""
    if "record" not in kw:
        kw["record"] = {"meta": cand.meta, "messages": cand.messages} if cand.messages else None
    cand.reject = _reject(step, reason, cand.meta, cand.doc, **kw)
    return cand


# ------------------------------------------------------------------ reading documents


def read_documents(path: Path) -> Iterator[tuple[Document | None, Candidate | None]]:
    """Documents of clean's output; an unreadable line yields a rejected candidate instead."""
    if not path.is_file():
        raise StageError(f"dataset: {path} not found; run `webtune clean` first")
    for line_no, obj, error in iter_jsonl_lines(path):
        meta = {"source_id": None, "line": line_no}
        if error is None:
            try:
                yield Document.model_validate(obj), None
                continue
            except ValidationError as exc:
                err = exc.errors()[0]
                error = f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
        yield None, Candidate(None, meta, reject=_reject("read", "invalid_document", meta,
                                                         value=f"{path.name}:{line_no}: {error}"))


def base_meta(doc: Document, generator: str, template: str) -> dict[str, Any]:
    """Meta every example of ``doc`` carries."""
    meta = {"source_id": doc.id, "template": template, "generator": generator,
            "cluster_id": doc.meta.get("cluster_id"), "source": f"{doc.source.kind}:{doc.source.uri}"}
    return meta


# ------------------------------------------------------------------ generators


def from_templates(doc: Document, context: dict[str, Any], templates: list[Any]) -> list[Candidate]:
    """One candidate per template that applies to ``doc``."""
    out = []
    for tpl in templates:
        if not selects(tpl, doc, context):
            continue
        cand = Candidate(None, base_meta(doc, "template", tpl.name), doc, context=context)
        missing = missing_required(context, tpl.requires)
        if missing:
            out.append(_drop(cand, "template", "missing_required_field", value=missing, threshold=tpl.requires))
            continue
        try:
            cand.messages = plain_messages(render_messages(tpl.turns(), context))
        except RenderError as exc:
            out.append(_drop(cand, "template", exc.reason, value=exc.field or str(exc)))
            continue
        out.append(cand)
    return out


def has_text(context: dict[str, Any], field_name: str) -> bool:
    """Whether the context holds non-blank text under ``field_name`` (Q&A needs some)."""
    value = context.get(field_name)
    return isinstance(value, str) and bool(value.strip())


def doc_chunks(doc: Document, context: dict[str, Any], field_name: str, counter: TokenCounter,
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


def from_markdown(doc: Document, context: dict[str, Any], qa: Any, counter: TokenCounter,
                  chunking: Any) -> list[Candidate]:
    """One Q&A candidate per section chunk: the heading asks, the chunk answers."""
    chunks = doc_chunks(doc, context, qa.field, counter, chunking, qa.max_heading_level, qa.questions_only)
    if not chunks:
        cand = Candidate(None, base_meta(doc, "qa", "qa"), doc)
        return [_drop(cand, "qa", "no_sections", value=qa.field)]
    out = []
    for chunk in chunks:
        meta = {**base_meta(doc, "qa", "qa"), "section": chunk.section.heading, "part": chunk.part}
        cand = Candidate(None, meta, doc)
        ctx = chunk_context(context, chunk)
        if len(chunk.text.split()) < qa.min_answer_words:
            cand.messages = [{"role": "assistant", "content": chunk.text}]
            out.append(_drop(cand, "qa", "short_answer", value=len(chunk.text.split()), threshold=qa.min_answer_words))
            continue
        try:
            user = render(qa.user, ctx)
            system = render(qa.system, ctx) if qa.system else None
        except RenderError as exc:
            out.append(_drop(cand, "qa", exc.reason, value=exc.field or str(exc)))
            continue
        cand.messages = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": user}, {"role": "assistant", "content": chunk.text}]
        out.append(cand)
    return out


# ------------------------------------------------------------------ teacher


def teacher_client(ctx: StageContext) -> TeacherClient:
    """The teacher client with its cache under the configured dir or the stage's work dir."""
    cfg = ctx.config.teacher
    cache = Path(cfg.cache_dir) if cfg.cache_dir else ctx.work_dir / TEACHER_CACHE
    return TeacherClient(cfg, cache)


def _ask_all(ctx: StageContext, client: TeacherClient, prompts: list[list[dict[str, str]]], what: str) -> list[str | None]:
    """All teacher replies, with a progress bar."""
    if not prompts:
        return []
    with _progress(ctx) as progress:
        task = progress.add_task(f"teacher ({what})", total=len(prompts))
        return run_requests(client, prompts, on_done=lambda: progress.advance(task))


def teacher_qa(ctx: StageContext, client: TeacherClient, docs: list[tuple[Document, dict[str, Any]]],
               counter: TokenCounter) -> list[Candidate]:
    """Question/answer pairs from the teacher, one request per Markdown chunk."""
    cfg = ctx.config.teacher
    jobs: list[tuple[Document, dict[str, Any], Chunk | None]] = []
    out: list[Candidate] = []
    for doc, context in docs:
        if not has_text(context, cfg.field) or not selects(cfg, doc, context):
            continue
        chunks = doc_chunks(doc, context, cfg.field, counter, ctx.config.chunking)
        if not chunks:
            out.append(_drop(Candidate(None, base_meta(doc, "teacher", "teacher-qa"), doc),
                             "teacher", "no_sections", value=cfg.field))
        jobs.extend((doc, context, c) for c in chunks)
    prompts = []
    for doc, context, chunk in jobs:
        user = render(cfg.prompt_template(), {**chunk_context(context, chunk), "n": cfg.pairs_per_chunk})
        prompts.append([{"role": "system", "content": cfg.system}, {"role": "user", "content": user}])
    replies = _ask_all(ctx, client, prompts, "qa")
    for (doc, context, chunk), reply in zip(jobs, replies):
        meta = {**base_meta(doc, "teacher", "teacher-qa"), "section": chunk.section.heading, "part": chunk.part}
        try:
            pairs = parse_reply(reply, QAReply).pairs
        except TeacherReplyError as exc:
            out.append(_drop(Candidate(None, meta, doc), "teacher", "unparseable_reply", value=str(exc),
                             record={"meta": meta, "reply": (reply or "")[:2000]}))
            continue
        system = render(cfg.example_system, chunk_context(context, chunk)) if cfg.example_system else None
        for pair in pairs:
            messages = ([{"role": "system", "content": system}] if system else []) + [
                {"role": "user", "content": pair.question}, {"role": "assistant", "content": pair.answer}]
            out.append(Candidate(messages, dict(meta), doc))
    return out


def teacher_rewrite(ctx: StageContext, client: TeacherClient, candidates: list[Candidate]) -> None:
    """Replace the last assistant message of template examples by the teacher's rewrite."""
    cfg = ctx.config.teacher
    chosen = [c for c in candidates if c.reject is None and c.meta["generator"] == "template"
              and (not cfg.templates or c.meta["template"] in cfg.templates) and selects(cfg, c.doc, c.context)]
    prompts = []
    for cand in chosen:
        msgs = cand.messages or []
        view = {**cand.context, "messages": msgs,
                "system": next((m["content"] for m in msgs if m["role"] == "system"), ""),
                "user": next((m["content"] for m in reversed(msgs) if m["role"] == "user"), ""),
                "assistant": next((m["content"] for m in reversed(msgs) if m["role"] == "assistant"), "")}
        prompts.append([{"role": "system", "content": cfg.system},
                        {"role": "user", "content": render(cfg.prompt_template(), view)}])
    replies = _ask_all(ctx, client, prompts, "rewrite")
    for cand, reply in zip(chosen, replies):
        try:
            answer = parse_reply(reply, RewriteReply).answer
        except TeacherReplyError as exc:
            _drop(cand, "teacher", "unparseable_reply", value=str(exc),
                  record={"meta": cand.meta, "reply": (reply or "")[:2000]})
            continue
        last = max(i for i, m in enumerate(cand.messages) if m["role"] == "assistant")
        cand.messages[last] = {"role": "assistant", "content": answer}
        cand.meta["rewritten_by"] = cfg.model


# ------------------------------------------------------------------ checks and tokens


def check_and_count(candidates: list[Candidate], counter: TokenCounter, max_tokens: int | None,
                    overflow: str, dedup: bool) -> int:
    """Reject invalid, too long and duplicate candidates; set token counts. Returns truncations."""
    live = []
    for cand in candidates:
        if cand.reject is not None:
            continue
        problems = check_messages(cand.messages)
        if problems:
            _drop(cand, "validate", "invalid_example", value="; ".join(f"{f}: {m}" for f, m in problems))
        else:
            live.append(cand)
    for cand, n in zip(live, counter.count_chats([c.messages for c in live])):
        cand.tokens = n
    truncated = 0
    seen: set[str] = set()
    for cand in live:
        if max_tokens is not None and cand.tokens > max_tokens:
            fitted = counter.truncate_chat(cand.messages, max_tokens) if overflow == "truncate" else None
            if fitted is None:
                _drop(cand, "validate", "over_max_tokens", value=cand.tokens, threshold=max_tokens)
                continue
            cand.messages, cand.tokens = fitted
            cand.meta["truncated"] = True
            truncated += 1
        if dedup:
            key = canonical_json(cand.messages)
            if key in seen:
                _drop(cand, "dedup", "duplicate_example")
                continue
            seen.add(key)
    return truncated


# ------------------------------------------------------------------ mixing


def mix_general(ctx: StageContext, splits: dict[str, list[Candidate]], counter: TokenCounter,
                max_tokens: int | None, seed: int) -> tuple[list[Candidate], list[dict[str, Any]]]:
    """Draw general-set examples into the splits; returns every drawn candidate and provenance."""
    drawn_all: list[Candidate] = []
    provenance = []
    sources = ctx.config.mix
    for into in SPLITS:
        mixes = [(i, m) for i, m in enumerate(sources) if into in m.into]
        if not mixes or not splits[into]:
            continue
        domain = list(splits[into])  # the targets are relative to the domain part only
        ratios = [m.ratio for _, m in mixes]
        for position, (i, mix) in enumerate(mixes):
            by_tokens = mix.by == "tokens"
            amount = sum(c.tokens for c in domain) if by_tokens else len(domain)
            target = mixing.general_targets(ratios, amount)[position]
            rows = mixing.shuffled_rows(Path(mix.path), seed + i, mix.hf_split)
            picked, drawn = _draw(rows, target, by_tokens, mix, into, counter, max_tokens)
            splits[into].extend(picked)
            drawn_all.extend(drawn)
            provenance.append({
                "name": mix.label(), "path": str(mix.path), "split": into, "by": mix.by, "ratio": mix.ratio,
                "target": round(target, 2), "drawn": len(drawn), "kept": len(picked),
                "rejected": len(drawn) - len(picked), "examples": len(picked),
                "tokens": sum(c.tokens for c in picked),
                "sha256": sha256_file(Path(mix.path)) if Path(mix.path).is_file() else None,
            })
    return drawn_all, provenance


def _draw(rows: list[tuple[int, Any]], target: float, by_tokens: bool, mix: Any, into: str,
          counter: TokenCounter, max_tokens: int | None) -> tuple[list[Candidate], list[Candidate]]:
    """Draw rows in order until the target is reached; invalid or too long rows are rejected."""
    picked: list[Candidate] = []
    drawn: list[Candidate] = []
    total = 0.0
    batch = 64
    for start in range(0, len(rows), batch):
        chunk = [_general_candidate(mix, n, row) for n, row in rows[start:start + batch]]
        live = [c for c in chunk if c.reject is None]
        for cand, n in zip(live, counter.count_chats([c.messages for c in live])):
            cand.tokens = n
        for cand in chunk:
            if cand.reject is None:
                size = cand.tokens if by_tokens else 1
                # stop at the example that would take us further from the target than we are
                if abs(total + size - target) >= abs(total - target):
                    return picked, drawn
            drawn.append(cand)
            if cand.reject is not None:
                continue
            if max_tokens is not None and cand.tokens > max_tokens:
                _drop(cand, "mix", "over_max_tokens", value=cand.tokens, threshold=max_tokens)
                continue
            cand.meta["split"] = into
            total += cand.tokens if by_tokens else 1
            picked.append(cand)
    return picked, drawn


def _general_candidate(mix: Any, row_no: int, row: Any) -> Candidate:
    """A candidate from one general-set row (rejected if it is not a valid chat example)."""
    meta = {"source_id": f"{mix.label()}:{row_no}", "template": f"general:{mix.label()}", "generator": "mix",
            "cluster_id": None, "source": f"general:{mix.label()}", "row": row_no}
    try:
        if isinstance(row, Exception):
            raise mixing.RowError(str(row))
        messages = mixing.to_messages(row)
    except mixing.RowError as exc:
        return Candidate(None, meta, reject=_reject("mix", "invalid_row", meta, value=str(exc)))
    problems = check_messages(messages)
    if problems:
        cand = Candidate(None, meta)
        return _drop(cand, "mix", "invalid_example", value="; ".join(f"{f}: {m}" for f, m in problems))
    return Candidate(messages, meta)


# ------------------------------------------------------------------ the stage


def _progress(ctx: StageContext) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=ctx.console, transient=True)


def _check_config(cfg: Any) -> None:
    """A dataset section with nothing to generate is a config error, not an empty training set."""
    if not cfg.templates and cfg.qa is None and not (cfg.teacher and cfg.teacher.mode == "qa"):
        raise ConfigError("dataset: nothing to make; give dataset.templates, dataset.qa or dataset.teacher (mode: qa)")


def generate(ctx: StageContext, counter: TokenCounter) -> tuple[list[Candidate], dict[str, int]]:
    """Every candidate from every document: templates, Markdown Q&A and the teacher."""
    cfg = ctx.config
    candidates: list[Candidate] = []
    docs: list[tuple[Document, dict[str, Any]]] = []
    n_lines = 0
    path = ctx.input("clean") / "documents.jsonl"
    with _progress(ctx) as progress:
        task = progress.add_task("dataset: documents", total=None)
        for doc, bad in read_documents(path):
            n_lines += 1
            progress.advance(task)
            if bad is not None:
                candidates.append(bad)
                continue
            context = document_context(doc)
            docs.append((doc, context))
            made = from_templates(doc, context, cfg.templates)
            if cfg.qa is not None and has_text(context, cfg.qa.field) and selects(cfg.qa, doc, context):
                made += from_markdown(doc, context, cfg.qa, counter, cfg.chunking)
            candidates.extend(made)
    client = teacher_client(ctx) if cfg.teacher else None
    if client and cfg.teacher.mode == "qa":
        candidates.extend(teacher_qa(ctx, client, docs, counter))
    if client and cfg.teacher.mode == "rewrite":
        teacher_rewrite(ctx, client, candidates)
    _reject_unused(candidates, docs)
    teacher_stats = client.usage.to_json() if client else {}
    return candidates, {"lines": n_lines, "read": len(docs), "teacher": teacher_stats}


def _reject_unused(candidates: list[Candidate], docs: list[tuple[Document, dict[str, Any]]]) -> None:
    """A document no generator applied to becomes one rejected candidate, so it is accounted for."""
    used = {c.meta.get("source_id") for c in candidates}
    for doc, _ in docs:
        if doc.id not in used:
            meta = base_meta(doc, "none", "none")
            reason, hint = "no_generator", None
            if doc.html and not doc.text:  # a page clean never turned into text: say how to fix it
                reason, hint = "html_not_converted", "HTML but no text: add the html_to_text clean step"
            candidates.append(Candidate(None, meta, doc, reject=_reject("select", reason, meta, doc, value=hint)))


def _check_input(path: Path) -> None:
    """An empty clean store is the user's problem upstream: name it, not "0 train examples"."""
    if path.is_file() and count_lines(path) == 0:
        raise InputError(f"dataset: {path} holds no documents: clean kept none (see {path.parent / 'rejects.jsonl'}, "
                         "or `webtune clean --explain ID`)")


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

    _check_input(ctx.input("clean") / "documents.jsonl")
    candidates, doc_stats = generate(ctx, counter)
    truncated = check_and_count(candidates, counter, max_tokens, cfg.overflow, cfg.dedup)
    good = [c for c in candidates if c.reject is None]
    names = assign_splits([c.meta for c in good], cfg.split.validation, cfg.split.test, seed)
    splits: dict[str, list[Candidate]] = {name: [] for name in SPLITS}
    for cand, name in zip(good, names):
        cand.meta["split"] = name
        splits[name].append(cand)
    drawn, provenance = mix_general(ctx, splits, counter, max_tokens, seed)
    candidates.extend(drawn)

    if len(splits["train"]) < cfg.min_examples:
        raise StageError(f"dataset: only {len(splits['train'])} train examples, at least {cfg.min_examples} are "
                         f"needed (dataset.min_examples); see the rejects: {_top_rejects(candidates)}")
    written = _write_outputs(ctx, candidates, splits)
    stats = _stats(ctx, candidates, splits, doc_stats, provenance, max_tokens, truncated, base_model)
    stats["export"] = written
    atomic_write_json(ctx.output_dir / "stats.json", stats)
    _print_summary(ctx, stats)
    kept = sum(len(v) for v in splits.values())
    rejected = sum(1 for c in candidates if c.reject is not None)
    # Teacher answers are paid for: they outlive publishing, so a changed template reuses them.
    return StageResult(counts=Counts(seen=len(candidates), kept=kept, rejected=rejected), stats=stats,
                       keep_work=(TEACHER_CACHE,))


def _top_rejects(candidates: list[Candidate]) -> str:
    reasons = Counter(c.reject.reason for c in candidates if c.reject is not None)
    return ", ".join(f"{r}={n}" for r, n in reasons.most_common(5)) or "none"


def _write_outputs(ctx: StageContext, candidates: list[Candidate], splits: dict[str, list[Candidate]]) -> dict[str, list[str]]:
    """The three splits, the rejects, and the exports."""
    for cand in candidates:
        if cand.reject is not None:
            ctx.rejects.write(cand.reject)
    rows: dict[str, list[dict[str, Any]]] = {}
    for name in SPLITS:
        for cand in splits[name]:
            cand.meta["tokens"] = cand.tokens
        examples = [Example(messages=c.messages, meta=c.meta).to_json() for c in splits[name]]
        write_jsonl(ctx.output_dir / f"{name}.jsonl", examples)
        rows[name] = examples
    if ctx.config.export.formats:
        return export_mod.export_splits(rows, ctx.output_dir / "export", ctx.config.export.formats)
    return {}


def _stats(ctx: StageContext, candidates: list[Candidate], splits: dict[str, list[Candidate]],
           doc_stats: dict[str, Any], provenance: list[dict[str, Any]], max_tokens: int | None,
           truncated: int, base_model: str) -> dict[str, Any]:
    """Figures for stats.json and the manifest."""
    cfg = ctx.config
    by_template: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(SPLITS, 0))
    by_source: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(SPLITS, 0))
    with_examples = set()
    for name in SPLITS:
        for cand in splits[name]:
            by_template[cand.meta["template"]][name] += 1
            by_source[cand.meta["source"]][name] += 1
            if cand.meta.get("generator") != "mix":
                with_examples.add(cand.meta["source_id"])
    tokens = {name: distribution([c.tokens for c in splits[name]]) for name in SPLITS}
    tokens["all"] = distribution([c.tokens for name in SPLITS for c in splits[name]])
    n_train = len(splits["train"])
    warnings = [f"only {n_train} train examples; {cfg.warn_examples} or more are recommended"] \
        if n_train < cfg.warn_examples else []
    return {
        "counts_definition": COUNTS_DEFINITION,
        "documents": {"lines": doc_stats["lines"], "read": doc_stats["read"], "with_examples": len(with_examples)},
        "examples": {name: len(splits[name]) for name in SPLITS},
        "tokens": tokens,
        "tokenizer": base_model,
        "max_tokens": max_tokens,
        "overflow": cfg.overflow,
        "truncated": truncated,
        "by_template": dict(by_template),
        "by_source": dict(by_source),
        "rejects": dict(Counter(c.reject.reason for c in candidates if c.reject is not None)),
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
    cost = stats["cost"]
    if cost["usd"] is not None:
        ctx.console.print(f"estimated hosted training cost: ${cost['usd']:.2f} ({cost['model']}, "
                          f"{cost['epochs']} epochs, {cost['note']})")
    if stats["rejects"]:
        ctx.console.print("rejects: " + ", ".join(f"{r}={n}" for r, n in sorted(stats["rejects"].items())))
    for warning in stats["warnings"]:
        ctx.console.print(f"[yellow]warning:[/yellow] {warning}")
