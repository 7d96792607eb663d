"""The typed records every stage shares.

* `Document`: one collected item (a product, a page, a transcript), written by
  collect and refined by clean.
* `Example`: one chat training example in the shape hosted fine-tuning APIs accept:
  ``{"messages": [{"role": ..., "content": ...}], "meta": {...}}``.
* `PreferenceExample`: one preference record (a prompt with a chosen and a rejected answer for
  DPO/ORPO, or one answer labelled desirable or not for KTO).
* `Reject`: a record a stage dropped, with the step, reason and measured value, so
  that ``in == kept + rejected`` holds for every stage.

Stores are JSONL files of these records (see `webtune.jsonl`).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["system", "user", "assistant"]


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace: the same object always gives the same text."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def content_id(obj: Any, length: int = 16) -> str:
    """A stable id for a record: the first ``length`` hex digits of its canonical SHA-256."""
    text = obj if isinstance(obj, str) else canonical_json(obj)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def utc_now() -> str:
    """The current time as an ISO 8601 string in UTC."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Record(BaseModel):
    """Base of all records: unknown keys are kept, so later stages can add their own."""

    model_config = ConfigDict(extra="allow")

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class SourceRef(Record):
    """Where a record came from: the source kind, a URL or path, and a position in it."""

    kind: str
    uri: str
    line: int | None = None
    offset: int | None = None


class Document(Record):
    """One collected item. ``fields`` holds the structured record as scraped."""

    id: str
    source: SourceRef
    collected_at: str = Field(default_factory=utc_now)
    content_type: str = "application/json"
    fields: dict[str, Any] = Field(default_factory=dict)
    text: str | None = None
    html: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)


class Message(BaseModel):
    """One chat message."""

    model_config = ConfigDict(extra="forbid")

    role: Role
    content: str


class Example(Record):
    """One chat training example; ``meta`` names its source document and template."""

    messages: list[Message]
    meta: dict[str, Any] = Field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"messages": [m.model_dump() for m in self.messages], "meta": self.meta}


class PreferenceExample(Record):
    """One preference record.

    ``prompt`` is the conversation up to the answer (system/user turns). Paired records (DPO,
    ORPO) carry ``chosen`` and ``rejected``; unpaired records (KTO) carry ``completion`` and
    ``desirable``. The dataset stage writes them to ``preference_{train,validation,test}.jsonl``;
    the train stage's preference methods read them from there.
    """

    prompt: list[Message]
    chosen: str | None = None
    rejected: str | None = None
    completion: str | None = None
    desirable: bool | None = None
    meta: dict[str, Any] = Field(default_factory=dict)

    @property
    def paired(self) -> bool:
        """True for a chosen/rejected pair, False for a single labelled answer (KTO)."""
        return self.chosen is not None and self.rejected is not None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"prompt": [m.model_dump() for m in self.prompt]}
        for key in ("chosen", "rejected", "completion", "desirable"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        out["meta"] = self.meta
        return out

    def to_openai(self) -> dict[str, Any]:
        """The record in OpenAI's preference fine-tuning format (paired records only)."""
        if not self.paired:
            raise ValueError("OpenAI's preference format needs a chosen and a rejected answer")
        return {
            "input": {"messages": [m.model_dump() for m in self.prompt]},
            "preferred_output": [{"role": "assistant", "content": self.chosen}],
            "non_preferred_output": [{"role": "assistant", "content": self.rejected}],
        }


class Reject(Record):
    """A dropped record and why: the step, a reason code, and the value against its threshold."""

    stage: str
    step: str
    reason: str
    id: str | None = None
    value: Any = None
    threshold: Any = None
    source: SourceRef | None = None
    record: Any = None
