"""html_to_text: the main text of HTML pages (trafilatura), and clean text of HTML fields."""

from __future__ import annotations

from typing import Any, Literal

from webtune.clean import text as textlib
from webtune.clean.steps import STEPS
from webtune.clean.steps.base import Drop, TargetConfig, TextStep, bump
from webtune.extras import Needs
from webtune.records import Document


class HtmlToTextConfig(TargetConfig):
    step: Literal["html_to_text"] = "html_to_text"
    output: Literal["markdown", "text"] = "markdown"
    include_tables: bool = True
    favor: Literal["balanced", "precision", "recall"] = "balanced"
    # When trafilatura finds no main text, take all visible text instead of dropping the page.
    fallback: bool = True
    # Title, date and page language into meta (htmldate and friends: about 40% of the time).
    metadata: bool = True
    drop_empty: bool = True


@STEPS.register("html_to_text")
class HtmlToText(TextStep):
    """Pages (``html``) get their main text in ``text`` with title/date/language in ``meta``;
    with ``fields``, HTML inside those fields (a product description) becomes clean text."""

    Config = HtmlToTextConfig
    needs = Needs("clean", "trafilatura", "lxml")

    def apply(self, doc: Document, stats: dict[str, Any]) -> Drop | None:
        if self.config.target_names() is not None:
            self.transform_targets(doc, textlib.html_fragment_to_text)
            return None
        if not doc.html:
            return None
        extracted = self._extract(doc, stats)
        if not extracted.strip():
            if self.config.drop_empty:
                return Drop("no_text", value=0, threshold=1)
            extracted = ""
        doc.text = extracted
        doc.html = None  # the page is now text; keeping both would double the store
        return None

    def _extract(self, doc: Document, stats: dict[str, Any]) -> str:
        import trafilatura

        cfg = self.config
        try:
            result = trafilatura.bare_extraction(
                doc.html, url=doc.source.uri if doc.source.uri.startswith("http") else None,
                with_metadata=cfg.metadata, include_tables=cfg.include_tables,
                include_formatting=cfg.output == "markdown", include_comments=False,
                favor_precision=cfg.favor == "precision", favor_recall=cfg.favor == "recall",
            )
        except Exception:  # noqa: BLE001 - malformed pages must not stop the stage
            result = None
        text = (getattr(result, "text", None) or "") if result is not None else ""
        if result is not None:
            for key, meta_key in (("title", "title"), ("date", "date"), ("language", "html_lang")):
                value = getattr(result, key, None)
                if value and meta_key not in doc.meta:
                    doc.meta[meta_key] = value
        if text.strip():
            bump(stats, "trafilatura")
            return text
        if not self.config.fallback:
            return ""
        bump(stats, "fallback")
        return textlib.html_fragment_to_text(_body_only(doc.html))


def _body_only(html: str) -> str:
    """The page without head/script/style, for the fallback extraction."""
    import re

    html = re.sub(r"(?is)<(head|script|style|noscript)\b.*?</\1\s*>", " ", html)
    return re.sub(r"(?is)<!--.*?-->", " ", html)
