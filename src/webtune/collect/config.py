"""Config of the collect stage: the list of sources."""

from __future__ import annotations

from webtune.collect.sources import SOURCES
from webtune.configbase import StrictModel
from webtune.plugins import config_union

SourceConfig = config_union([cls.Config for _, cls in SOURCES.items()], "kind")


class CollectConfig(StrictModel):
    sources: list[SourceConfig] = []
