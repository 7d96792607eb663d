"""Sources, registered by name. Each source is a class in its own module."""

from webtune.plugins import Registry

# The built-in sources register themselves when the registry is first used.
SOURCES: Registry = Registry("source", label="collect source", builtins=(
    "webtune.collect.sources.files", "webtune.collect.sources.brightdata", "webtune.collect.sources.crawl"))
