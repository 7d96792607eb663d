"""Config of the collect stage: the list of sources."""

from __future__ import annotations

from webtune.collect.sources import SOURCES
from webtune.configbase import StrictModel
from webtune.plugins import config_field

# One source's settings: the registered source (built-in or plugin) that ``kind`` names.
SourceConfig = config_field(SOURCES)


class CollectConfig(StrictModel):
    sources: list[SourceConfig] = []
