"""Runs the document steps on a batch of documents: the same code in-process, in a process
pool worker and in a Ray Data task, so every executor gives the same output."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError

from webtune.clean.steps import STEPS
from webtune.clean.steps.base import Drop, GlobalStep, Step
from webtune.jsonl import parse_json_line
from webtune.records import Document


@dataclass
class Segment:
    """Document steps run together on workers, then (optionally) one global step's signature."""

    steps: list[Step]
    labels: list[str]
    global_step: GlobalStep | None = None
    global_label: str | None = None


@dataclass
class Plan:
    segments: list[Segment] = field(default_factory=list)


_CACHE: dict[str, Plan] = {}


def build_plan(steps_json: str) -> Plan:
    """The step instances of a clean config's ``steps`` (as JSON), built once per process."""
    plan = _CACHE.get(steps_json)
    if plan is not None:
        return plan
    from webtune.clean.config import StepConfigUnion

    configs = TypeAdapter(list[StepConfigUnion]).validate_python(json.loads(steps_json))
    labels = step_labels([c.step for c in configs])
    plan = Plan()
    current = Segment([], [])
    for cfg, label in zip(configs, labels):
        step = STEPS.get(cfg.step)(cfg)
        if step.is_global:
            current.global_step, current.global_label = step, label
            plan.segments.append(current)
            current = Segment([], [])
        else:
            current.steps.append(step)
            current.labels.append(label)
    plan.segments.append(current)
    _CACHE[steps_json] = plan
    return plan


def step_labels(names: list[str]) -> list[str]:
    """Stats keys: the step name, with #2, #3 ... for repeated steps."""
    seen: dict[str, int] = {}
    labels = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        labels.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return labels


@dataclass
class Outcome:
    """What happened to one document in one segment."""

    kept: bool
    doc: dict[str, Any] | None = None  # the document (kept, or as it was when dropped)
    label: str | None = None  # the dropping step's stats label ("read" for unreadable input)
    step: str | None = None
    drop: Drop | None = None
    signature: Any = None
    line: int | None = None
    raw: str | None = None


def parse(line_no: int, line: str) -> tuple[Document | None, Outcome | None]:
    """A Document from a JSONL line, or the Outcome that rejects the line."""
    obj, error = parse_json_line(line)
    if error is not None:
        return None, Outcome(False, label="read", step="read", line=line_no, raw=line[:1000],
                             drop=Drop("invalid_json", error, None))
    try:
        return Document.model_validate(obj), None
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(record)"
        return None, Outcome(False, label="read", step="read", line=line_no,
                             doc=obj if isinstance(obj, dict) else None,
                             drop=Drop("invalid_record", f"{where}: {err['msg']}", None))


def run_segment(segment: Segment, doc: Document, stats: dict[str, dict[str, int]]) -> Outcome:
    """Run a segment's document steps on ``doc``; the global step's signature if it survives."""
    for step, label in zip(segment.steps, segment.labels):
        counters = stats.setdefault(label, {})
        try:
            drop = step.apply(doc, counters)
        except Exception as exc:  # noqa: BLE001 - one bad document must not stop the stage
            drop = Drop("step_error", f"{type(exc).__name__}: {exc}"[:500], None)
        if drop is not None:
            return Outcome(False, doc=doc.to_json(), label=label, step=step.name, drop=drop)
    signature = segment.global_step.signature(doc) if segment.global_step is not None else None
    return Outcome(True, doc=doc.to_json(), signature=signature)


def process_batch(steps_json: str, segment_index: int, batch: list[tuple[int, str]]
                  ) -> tuple[list[Outcome], dict[str, dict[str, int]]]:
    """Parse and process ``(line_no, json_line)`` pairs through one segment, in order."""
    segment = build_plan(steps_json).segments[segment_index]
    stats: dict[str, dict[str, int]] = {}
    outcomes = []
    for line_no, line in batch:
        doc, failed = parse(line_no, line)
        if failed is not None:
            outcomes.append(failed)
            continue
        outcome = run_segment(segment, doc, stats)
        outcome.line = line_no
        outcomes.append(outcome)
    return outcomes, stats
