"""The files source: local files of every common format (skeleton, deepened by the collect issue)."""

from __future__ import annotations

from typing import Literal

from webtune.collect.sources import SOURCES
from webtune.configbase import RelPath, StrictModel


class FilesSourceConfig(StrictModel):
    kind: Literal["files"] = "files"
    paths: list[RelPath]
    fields: dict[str, str] = {}


@SOURCES.register("files")
class FilesSource:
    Config = FilesSourceConfig
