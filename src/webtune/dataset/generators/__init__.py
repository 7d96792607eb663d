"""Dataset generators: templates, Markdown Q&A, teacher Q&A, teacher rewrites, mixing, and the preference
generators (ratings, reference_vs_base, teacher_pairs).

Each lives in its own module behind the protocol of webtune.dataset.generators.base and is
registered by name in ``GENERATORS``; the built-in modules are loaded through the same door as
plugins of the entry-point group ``webtune.generators`` (webtune.plugins), on first use.
"""

from __future__ import annotations

from webtune.dataset.generators.base import (  # noqa: F401
    Batch, Candidate, DocItem, Generator, GeneratorEnv, base_meta, drop, make_reject, preference_candidate, produces,
)
from webtune.plugins import Registry

BUILTIN_GENERATOR_MODULES = tuple(f"webtune.dataset.generators.{name}" for name in (
    "templates", "markdown_qa", "teacher_qa", "rewrite", "mixing", "ratings", "reference_vs_base", "teacher_pairs",
))

GENERATORS: Registry = Registry("generator", builtins=BUILTIN_GENERATOR_MODULES, label="dataset generator")
