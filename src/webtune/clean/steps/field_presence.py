"""field_presence: a structured record must carry non-empty values in the named fields."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from webtune.clean.steps import STEPS
from webtune.clean.steps.base import Drop, Step, StepConfig
from webtune.records import Document


class FieldPresenceConfig(StepConfig):
    step: Literal["field_presence"] = "field_presence"
    fields: list[str] = Field(min_length=1)


def is_present(value: Any) -> bool:
    """Whether a field value carries something: not None, not blank, not an empty list/dict."""
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, (list, tuple, dict)):
        return any(is_present(v) for v in (value.values() if isinstance(value, dict) else value))
    return True


@STEPS.register("field_presence")
class FieldPresence(Step):
    """Drop records missing a required field (a product without a description, say)."""

    Config = FieldPresenceConfig

    def apply(self, doc: Document, stats: dict[str, Any]) -> Drop | None:
        missing = [name for name in self.config.fields if not is_present(doc.fields.get(name))]
        if missing:
            return Drop("missing_field", value=missing, threshold=self.config.fields)
        return None
