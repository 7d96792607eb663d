"""Sources, registered by name in `SOURCES`; each source is a class in its own module.

A source has the shape of every backend (`webtune.plugins.Backend`): ``Source(config)`` with a
``Config`` (tag ``kind``) and one method, ``collect(run: SourceRun) -> dict`` (see
`webtune.collect.base`). The built-ins below are loaded through the same path as plugins of
the entry-point group ``webtune.sources``.
"""

from webtune.plugins import Registry

BUILTIN_SOURCE_MODULES = tuple(f"webtune.collect.sources.{name}" for name in ("files", "brightdata", "crawl", "serp"))

SOURCES: Registry = Registry("source", builtins=BUILTIN_SOURCE_MODULES, label="collect source")
