"""structured: a page's embedded product data as a snapshot-shaped record (see webtune.clean.structured)."""

from __future__ import annotations

from typing import Any, Literal

from webtune.clean.steps import STEPS
from webtune.clean.steps.base import Drop, Step, StepConfig, bump
from webtune.extras import Needs
from webtune.records import Document

Syntax = Literal["json-ld", "microdata", "rdfa", "opengraph"]


class StructuredConfig(StepConfig):
    step: Literal["structured"] = "structured"
    syntaxes: list[Syntax] = ["json-ld", "microdata", "rdfa", "opengraph"]
    # Keep only pages of these types (meta.page_type); empty keeps every page.
    keep_types: list[Literal["product", "article", "listing", "forum", "other"]] = []
    # Drop a product page whose record lacks one of these fields (the template's `requires`).
    require: list[str] = []


@STEPS.register("structured")
class Structured(Step):
    """Reads JSON-LD, microdata, RDFa and OpenGraph of a page (``html``, so before
    ``html_to_text``) into ``fields`` under the names a Bright Data products snapshot uses
    (title, brand, description, features, final_price, currency, rating, reviews_count, sku,
    gtin, images, url...), and the page type (product, article, listing, forum, other) into
    ``meta.page_type``. Fields the crawl set stay unless the page's data has them."""

    Config = StructuredConfig
    needs = Needs("clean", "extruct", "lxml")

    def apply(self, doc: Document, stats: dict[str, Any]) -> Drop | None:
        from webtune.clean.structured import page_type, product_record, read_page

        if not doc.html:
            return None
        cfg = self.config
        url = doc.meta.get("url") or (doc.source.uri if doc.source.uri.startswith("http") else None)
        page = read_page(doc.html, url, cfg.syntaxes)
        kind = page_type(page.items, page.og)
        doc.meta["page_type"] = kind
        bump(stats, f"page_{kind}")
        if page.broken:
            bump(stats, "broken_json_ld", page.broken)
        if cfg.keep_types and kind not in cfg.keep_types:
            return Drop("page_type", value=kind, threshold=cfg.keep_types)
        if kind == "product":
            record = product_record(page, url)
            doc.fields.update(record)
            missing = [f for f in cfg.require if doc.fields.get(f) in (None, "", [])]
            if missing:
                return Drop("missing_fields", value=missing, threshold=cfg.require)
        return None
