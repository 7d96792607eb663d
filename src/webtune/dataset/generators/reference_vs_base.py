"""The reference_vs_base generator: chosen = the human reference, rejected = the base model's own answer.

It makes pairs from the template examples the generators before it made from the same batch of
documents (``dataset.templates`` run first): the prompt is the example's turns before its last
answer, ``chosen`` that answer (the reference written by a person: the product description,
the accepted answer), ``rejected`` what the base model answers to the same prompt, sampled with
batched generation and cached on disk (`webtune.dataset.base_answers`), so a rerun or a resumed
run generates only what it has not cached. A pair whose base answer equals the reference is
rejected by the stage's check (``chosen_equals_rejected``).

    dataset:
      templates: [{name: copywriter, user: ..., assistant: "{{ description }}"}]
      generators:
        - generator: reference_vs_base
          templates: [copywriter]        # empty: every template
          max_new_tokens: 128
          temperature: 0.7
"""

from __future__ import annotations

from typing import Any, Iterable

from pydantic import Field

from webtune.configbase import StrictModel
from webtune.dataset.generators import GENERATORS
from webtune.dataset.generators.base import Batch, Candidate, GeneratorEnv, preference_candidate
from webtune.errors import StageError
from webtune.extras import Needs


class BaseSampling(StrictModel):
    """How the base model answers: batched sampling, seeded."""

    max_new_tokens: int = Field(128, ge=1, le=8192)
    temperature: float = Field(0.7, ge=0, le=2, description="0: greedy")
    top_p: float = Field(0.95, gt=0, le=1)
    batch_size: int = Field(8, ge=1, le=512)
    seed: int = 0


class ReferenceVsBaseConfig(BaseSampling):
    """``{generator: reference_vs_base, templates: [...], ...sampling}``."""

    templates: list[str] = []  # the template examples to pair (empty: all of them)


def reference_examples(batch: Batch, templates: list[str]) -> list[Candidate]:
    """The batch's kept template examples (of ``templates``, or all) that end with an answer."""
    return [c for c in batch.candidates
            if c.kind == "example" and c.reject is None and c.messages and c.meta.get("generator") == "template"
            and (not templates or c.meta.get("template") in templates) and c.messages[-1]["role"] == "assistant"]


def reference_items(batch: Batch, templates: list[str], generator: str,
                    **extra: Any) -> list[tuple[Candidate, list[dict[str, str]], dict[str, Any]]]:
    """Per reference example: the example, its prompt (the conversation before the answer) and the
    meta of the pair it becomes (the example's, less tokens and split, naming ``generator``)."""
    items = []
    for cand in reference_examples(batch, templates):
        meta = {**{k: v for k, v in cand.meta.items() if k not in ("tokens", "split")},
                "generator": generator, **extra}
        items.append((cand, [dict(m) for m in cand.messages[:-1]], meta))
    return items


def base_answers(env: GeneratorEnv, prompts: list[list[dict[str, str]]], settings: BaseSampling) -> list[str]:
    """The base model's answers through the stage's cache (an error when the stage gives none)."""
    if env.base_answers is None:
        raise StageError("dataset: this generator needs the base model's answers, and none are available")
    return env.base_answers(prompts, settings) if prompts else []


@GENERATORS.register("reference_vs_base")
class ReferenceVsBaseGenerator:
    """A pair per template example: its reference answer over the base model's."""

    Config = ReferenceVsBaseConfig
    produces = "preference"
    needs = Needs("train", "torch", "transformers")  # the base model answers (webtune.dataset.base_answers)

    def __init__(self, config: ReferenceVsBaseConfig):
        self.config = config

    def generate(self, batch: Batch, env: GeneratorEnv) -> Iterable[Candidate]:
        """One preference candidate per reference example, in document order."""
        items = reference_items(batch, self.config.templates, "reference_vs_base")
        answers = base_answers(env, [prompt for _, prompt, _ in items], self.config)
        for (cand, prompt, meta), answer in zip(items, answers):
            yield preference_candidate(meta, cand.doc, prompt, chosen=cand.messages[-1]["content"], rejected=answer)
