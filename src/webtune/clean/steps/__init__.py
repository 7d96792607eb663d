"""Clean steps, registered by name in `STEPS`; one class per file in this package.

A step has the shape of every backend (`webtune.plugins.Backend`): ``Step(config)`` with a
``Config`` (tag ``step``) and one method, ``apply(doc, stats) -> Drop | None``, run on workers
document by document. A *global* step (deduplication) also has ``signature`` on workers,
``decide`` once on the driver over all signatures and ``finish`` per document.
The built-ins below are loaded through the same path as plugins of the entry-point group
``webtune.steps``.
"""

from __future__ import annotations

from webtune.plugins import Registry

# The built-in steps, imported when the registry is first used (their modules are light:
# heavy libraries are imported inside the step functions).
BUILTIN_STEP_MODULES = tuple(f"webtune.clean.steps.{name}" for name in (
    "html_to_text", "structured", "normalize", "boilerplate", "field_presence", "length", "language",
    "gopher_quality", "gopher_repetition", "c4", "fineweb", "url", "regex", "pii", "dedup",
))

STEPS: Registry = Registry("step", builtins=BUILTIN_STEP_MODULES, label="clean step")


def load_builtin_steps() -> Registry:
    """Load every built-in step (and installed plugin step) into `STEPS`; return it."""
    STEPS.load()
    return STEPS
