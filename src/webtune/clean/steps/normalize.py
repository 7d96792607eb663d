"""normalize: mojibake (ftfy), Unicode NFC, control characters, whitespace, repeated lines.

In Chinese, Japanese and Korean text (``meta.lang``, else the script: `webtune.text_units`)
full-width punctuation ("，", "：", "（") is the right character, so ftfy's width fixing, which
turns it into ASCII, is off there; everything else is the same as for other text."""

from __future__ import annotations

import unicodedata
from typing import Any, Literal

from webtune import text_units
from webtune.clean import text as textlib
from webtune.clean.steps import STEPS
from webtune.clean.steps.base import Drop, TargetConfig, TextStep, bump
from webtune.extras import Needs
from webtune.records import Document


class NormalizeConfig(TargetConfig):
    step: Literal["normalize"] = "normalize"
    fix_mojibake: bool = True
    unicode_form: Literal["NFC", "NFKC", "none"] = "NFC"
    whitespace: bool = True
    # Drop a line that already appeared in the same document (menus, "Share this" repeated).
    repeated_lines: bool = False
    repeated_line_max_chars: int = 80


@STEPS.register("normalize")
class Normalize(TextStep):
    """Fix encoding damage and invisible noise without changing what the text says."""

    Config = NormalizeConfig
    needs = Needs("clean", "ftfy")

    def apply(self, doc: Document, stats: dict[str, Any]) -> Drop | None:
        def fix(value: str) -> str:
            fixed = self.normalize(value, keep_width=_full_width_script(value, doc.meta.get("lang")))
            if fixed != value:
                bump(stats, "changed_values")
            return fixed

        self.transform_targets(doc, fix)
        return None

    def normalize(self, value: str, keep_width: bool = False) -> str:
        """One string normalised according to the config; ``keep_width``: leave full-width
        characters as they are (CJK punctuation)."""
        cfg = self.config
        if cfg.fix_mojibake and not value.isascii():
            import ftfy

            value = ftfy.fix_text(value, normalization=None if cfg.unicode_form == "none" else cfg.unicode_form,
                                  fix_character_width=not keep_width)
        if cfg.unicode_form != "none" and not value.isascii():
            value = unicodedata.normalize(cfg.unicode_form, value)
        value = textlib.strip_control(value)
        if cfg.whitespace:
            value = textlib.tidy_whitespace(value)
        if cfg.repeated_lines:
            value = drop_repeated_lines(value, cfg.repeated_line_max_chars)
        return value


def _full_width_script(value: str, detected: str | None) -> bool:
    if value.isascii():
        return False
    return text_units.resolve_language(value, None, detected) in ("zh", "ja", "ko")


def drop_repeated_lines(text: str, max_chars: int) -> str:
    """Keep the first copy of each short non-blank line; later copies are boilerplate."""
    seen: set[str] = set()
    out = []
    for line in text.split("\n"):
        key = line.strip().lower()
        if key and len(key) <= max_chars:
            if key in seen:
                continue
            seen.add(key)
        out.append(line)
    return "\n".join(out)
