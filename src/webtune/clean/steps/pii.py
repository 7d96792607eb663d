"""pii: redact emails, phones (international and national formats), IPs, Luhn-valid cards, valid
IBANs, Chinese resident IDs and secrets with typed placeholders."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from webtune.clean import pii as piilib
from webtune.clean.steps import STEPS
from webtune.clean.steps.base import Drop, TargetConfig, TextStep, bump
from webtune.records import Document

DEFAULT_PLACEHOLDERS = {
    "email": "<EMAIL>", "phone": "<PHONE>", "ip_address": "<IP_ADDRESS>",
    "credit_card": "<CREDIT_CARD>", "iban": "<IBAN>", "secret": "<SECRET>", "cn_resident_id": "<CN_RESIDENT_ID>",
}


class PiiConfig(TargetConfig):
    step: Literal["pii"] = "pii"
    types: list[str] = Field(default_factory=lambda: list(piilib.PII_TYPES))
    placeholders: dict[str, str] = Field(default_factory=dict)
    # Drop a document with more than this many redactions (a scraped contact list); None: never.
    max_redactions: int | None = None

    @field_validator("types")
    @classmethod
    def _known(cls, types: list[str]) -> list[str]:
        unknown = [t for t in types if t not in piilib.PII_TYPES]
        if unknown:
            raise ValueError(f"unknown PII type(s) {unknown}; choose from {list(piilib.PII_TYPES)}")
        return types


@STEPS.register("pii")
class Pii(TextStep):
    """Replaces PII in place; counts per type go to the stage stats and ``meta.pii``."""

    Config = PiiConfig

    def __init__(self, config: PiiConfig):
        super().__init__(config)
        self.placeholders = {**DEFAULT_PLACEHOLDERS, **config.placeholders}
        self.table = piilib.detectors()

    def apply(self, doc: Document, stats: dict[str, Any]) -> Drop | None:
        found: dict[str, int] = {}

        def fix(value: str) -> str:
            new, counts = piilib.redact(value, self.config.types, self.placeholders, self.table)
            for kind, n in counts.items():
                found[kind] = found.get(kind, 0) + n
            return new

        self.transform_targets(doc, fix)
        if not found:
            return None
        for kind, n in found.items():
            bump(stats, kind, n)
        doc.meta["pii"] = {k: doc.meta.get("pii", {}).get(k, 0) + v for k, v in found.items()}
        total = sum(found.values())
        if self.config.max_redactions is not None and total > self.config.max_redactions:
            return Drop("too_much_pii", total, self.config.max_redactions)
        return None
