"""Clean steps, registered by name in `STEPS`; one class per file in this package.

A step is either a *document* step (``apply(doc) -> Drop | None``, run on workers,
document by document) or a *global* step (``signature`` on workers, ``decide`` once on
the driver over all signatures, ``finish`` per document), such as deduplication.
"""

from __future__ import annotations

from webtune.plugins import Registry

# The built-in steps, imported when the registry is first used (their modules are light:
# heavy libraries are imported inside the step functions).
BUILTIN_STEP_MODULES = (
    "html_to_text", "normalize", "boilerplate", "field_presence", "length", "language",
    "gopher_quality", "gopher_repetition", "c4", "fineweb", "url", "regex", "pii", "dedup",
)
STEPS: Registry = Registry("step", label="clean step",
                           builtins=tuple(f"webtune.clean.steps.{name}" for name in BUILTIN_STEP_MODULES))


def load_builtin_steps() -> Registry:
    """Import every built-in step module so that each registers itself; return `STEPS`."""
    return STEPS.load_builtins()
