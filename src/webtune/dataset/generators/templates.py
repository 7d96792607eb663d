"""The templates generator: one example per Jinja template that applies to a document."""

from __future__ import annotations

from typing import Any, Iterable

from webtune.configbase import StrictModel
from webtune.dataset.config import TemplateConfig
from webtune.dataset.generators import GENERATORS
from webtune.dataset.generators.base import Batch, Candidate, GeneratorEnv, base_meta, drop
from webtune.dataset.templates import RenderError, missing_required, render_messages, selects
from webtune.dataset.tokens import plain_messages
from webtune.records import Document


class TemplatesConfig(StrictModel):
    """The templates to render (``dataset.templates`` of the pipeline)."""

    templates: list[TemplateConfig] = []


def from_templates(doc: Document, context: dict[str, Any], templates: list[Any]) -> list[Candidate]:
    """One candidate per template that applies to ``doc``."""
    out = []
    for tpl in templates:
        if not selects(tpl, doc, context):
            continue
        cand = Candidate(None, base_meta(doc, "template", tpl.name), doc, context=context)
        missing = missing_required(context, tpl.requires)
        if missing:
            out.append(drop(cand, "template", "missing_required_field", value=missing, threshold=tpl.requires))
            continue
        try:
            cand.messages = plain_messages(render_messages(tpl.turns(), context))
        except RenderError as exc:
            out.append(drop(cand, "template", exc.reason, value=exc.field or str(exc)))
            continue
        out.append(cand)
    return out


@GENERATORS.register("templates")
class TemplatesGenerator:
    """Renders every applicable template for each document of the batch."""

    Config = TemplatesConfig

    def __init__(self, config: TemplatesConfig):
        self.config = config

    def generate(self, batch: Batch, env: GeneratorEnv) -> Iterable[Candidate]:
        """Template candidates, document by document."""
        for item in batch.docs:
            yield from from_templates(item.doc, item.context, self.config.templates)
