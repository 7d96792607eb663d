"""html_to_text: the main text of HTML pages, and clean text of HTML fields.

The extraction chain (trafilatura with its readability / jusText fallbacks, a boilerplate
trimmer, jusText and visible text when nothing is found) is in `webtune.clean.extract`.
"""

from __future__ import annotations

from typing import Any, Literal

from webtune.clean import text as textlib
from webtune.clean.steps import STEPS
from webtune.clean.steps.base import Drop, TargetConfig, TextStep, bump
from webtune.extras import Needs
from webtune.records import Document


class HtmlToTextConfig(TargetConfig):
    step: Literal["html_to_text"] = "html_to_text"
    # text: plain text, no Markdown escapes or tags (the default, for training data);
    # markdown: headings, lists and emphasis kept, escapes and HTML tags removed.
    output: Literal["markdown", "text"] = "text"
    include_tables: bool = True
    favor: Literal["balanced", "precision", "recall"] = "balanced"
    # When trafilatura finds no main text, try jusText, then all visible text, instead of dropping the page.
    fallback: bool = True
    # Remove the boilerplate lines extractors keep (related links, share buttons, credits).
    trim_boilerplate: bool = True
    # Title, date and page language into meta: costs about a quarter of the extraction time and
    # changes no text, so only when a later step or a template uses meta.date / meta.html_lang.
    metadata: bool = False
    drop_empty: bool = True


@STEPS.register("html_to_text")
class HtmlToText(TextStep):
    """Pages (``html``) get their main text in ``text`` (with title/date/language in ``meta``
    when ``metadata`` is on); with ``fields``, HTML inside those fields (a product
    description) becomes clean text."""

    Config = HtmlToTextConfig
    needs = Needs("clean", "trafilatura", "lxml")

    def prepare(self) -> None:
        """Import trafilatura, build the fast rules and load jusText's stop lists here, before
        the workers fork: otherwise every worker of every run pays for them (0.25 s CPU each)."""
        if self.config.target_names() is not None:
            return
        from trafilatura import external

        from webtune.clean import fast_trafilatura

        if fast_trafilatura.swaps():
            fast_trafilatura.stop_words()
        elif external.JT_STOPLIST is None:
            external.jt_stoplist_init()  # what trafilatura's jusText fallback loads on its first use

    def apply(self, doc: Document, stats: dict[str, Any]) -> Drop | None:
        if self.config.target_names() is not None:
            self.transform_targets(doc, textlib.html_fragment_to_text)
            return None
        if not doc.html:
            return None
        from webtune.clean.extract import extract_main

        cfg = self.config
        found = extract_main(doc.html, doc.source.uri if doc.source.uri.startswith("http") else None,
                             output=cfg.output, include_tables=cfg.include_tables, favor=cfg.favor,
                             fallback=cfg.fallback, metadata=cfg.metadata, trim=cfg.trim_boilerplate)
        for key, value in found.meta.items():
            doc.meta.setdefault(key, value)
        if not found.text.strip():
            if cfg.drop_empty:
                return Drop("no_text", value=0, threshold=1)
        else:
            bump(stats, found.method if found.method in ("trafilatura", "justext") else "fallback")
        doc.text = found.text
        doc.html = None  # the page is now text; keeping both would double the store
        return None
