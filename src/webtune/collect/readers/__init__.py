"""Readers for local file formats. Each yields `Item`s: a record, a text or HTML page, or a problem.

`read_items(path, fmt)` picks the reader; `detect_format(path)` names the format from the
file name (``data.jsonl.gz`` -> ``jsonl`` compressed with gzip).
"""

from webtune.collect.readers.base import Item, detect_format, read_items, FORMATS  # noqa: F401
