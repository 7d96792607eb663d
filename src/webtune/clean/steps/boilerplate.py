"""boilerplate: remove lines that recur across many documents (menus, cookie banners, footers)."""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Any, Literal

from pydantic import Field

from webtune.clean.steps import STEPS
from webtune.clean.steps.base import Drop, GlobalStep, TargetConfig, bump
from webtune.records import Document


class BoilerplateConfig(TargetConfig):
    step: Literal["boilerplate"] = "boilerplate"
    # A line is boilerplate when at least `min_docs` documents and `min_fraction` of them carry it.
    min_docs: int = Field(5, ge=2)
    min_fraction: float = Field(0.05, ge=0.0, le=1.0)
    max_line_chars: int = 200
    drop_empty: bool = True


def _line_key(line: str) -> str:
    return hashlib.blake2b(line.strip().lower().encode("utf-8"), digest_size=8).hexdigest()


@STEPS.register("boilerplate")
class Boilerplate(GlobalStep):
    """Counts each short line's documents over the whole store, then strips the frequent ones."""

    Config = BoilerplateConfig

    def _lines(self, doc: Document) -> list[str]:
        from webtune.clean import text as textlib

        return textlib.target_text(doc, self.config.target_names()).split("\n")

    def signature(self, doc: Document) -> list[str]:
        limit = self.config.max_line_chars
        return sorted({_line_key(l) for l in self._lines(doc) if l.strip() and len(l.strip()) <= limit})

    def decide(self, signatures: list[Any], stats: dict[str, Any]) -> set[str]:
        counts = Counter(key for sig in signatures for key in sig)
        need = max(self.config.min_docs, int(self.config.min_fraction * len(signatures)))
        frequent = {key for key, n in counts.items() if n >= need}
        stats["boilerplate_lines"] = len(frequent)
        return frequent

    def finish(self, index: int, doc: Document, plan: set[str], stats: dict[str, Any]) -> Drop | None:
        if not plan:
            return None
        from webtune.clean import text as textlib

        removed = 0

        def strip(value: str) -> str:
            nonlocal removed
            kept = []
            for line in value.split("\n"):
                if line.strip() and _line_key(line) in plan:
                    removed += 1
                    continue
                kept.append(line)
            return textlib.tidy_whitespace("\n".join(kept))

        textlib.transform_targets(doc, self.config.target_names(), strip)
        if removed:
            bump(stats, "lines_removed", removed)
        if self.config.drop_empty and not textlib.target_text(doc, self.config.target_names()).strip():
            return Drop("only_boilerplate", value=removed, threshold=None)
        return None
