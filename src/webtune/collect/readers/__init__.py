"""Readers for local file formats. Each yields `Item`s: a record, a text or HTML page, or a problem.

`read_items(path, fmt)` picks the reader; `detect_format(path)` names the format from the
file name (``data.jsonl.gz`` -> ``jsonl`` compressed with gzip). The readers build on
`base` (items, detection, decompression); only this package module knows them all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

from webtune.collect.readers import json_reader, tabular, textual, warc
from webtune.collect.readers.base import FORMATS, Item, check_regular_file, detect_format, guarded
from webtune.errors import InputError

__all__ = ["FORMATS", "Item", "detect_format", "read_items"]

Reader = Callable[[Path, str | None, dict[str, Any]], Iterator[Item]]
READERS: dict[str, Reader] = {
    "json": json_reader.read_json, "jsonl": json_reader.read_jsonl,
    "csv": tabular.read_csv, "tsv": tabular.read_csv, "parquet": tabular.read_parquet,
    "html": textual.read_document, "markdown": textual.read_document, "text": textual.read_document,
    "srt": textual.read_transcript, "vtt": textual.read_transcript, "warc": warc.read_warc,
}


def read_items(path: Path, fmt: str, compression: str | None, options: dict[str, Any] | None = None) -> Iterator[Item]:
    """Yield the items of ``path`` read as ``fmt``; InputError if it is not that format."""
    if fmt not in READERS:
        raise InputError(f"{path}: unknown format '{fmt}'; formats are: {', '.join(FORMATS)}")
    check_regular_file(path)  # a FIFO or device would block or never end
    return guarded(path, READERS[fmt](path, compression, {**(options or {}), "format": fmt}))
