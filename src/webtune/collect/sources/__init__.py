"""Sources, registered by name. Each source is a class in its own module."""

from webtune.plugins import Registry

SOURCES: Registry = Registry("source", label="collect source")

# Importing the built-in sources registers them.
from webtune.collect.sources import files  # noqa: E402,F401
from webtune.collect.sources import brightdata  # noqa: E402,F401
from webtune.collect.sources import crawl  # noqa: E402,F401
