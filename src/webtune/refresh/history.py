"""The history store of a pipeline: every dataset version it made, with what later runs compare against.

Layout (default ``<registry>/history/<pipeline name>/``)::

    v1/  lineage.json      where the records came from; new / changed / unchanged counts; the model
         records.jsonl     every record collected: its key, content id and status
         collect.json      content hashes of the files read, crawl validators (ETag, Last-Modified)
                           and links per URL, the Bright Data inputs collected
         signatures.jsonl  clean's dedup signatures of the kept documents (exact hash, MinHash)
         splits.json       the split of every split group (cluster / source id) of the version
         train.jsonl validation.jsonl test.jsonl   the version's examples
    v2/  ...
    .lock

A version directory is built under ``tmp-v<N>-*`` and renamed into place under the lock, so
it is there whole or not at all; nothing in it changes afterwards. Later runs read only these
small files (never the runs' data): the signatures for dedup against history, the split
assignments so a group that was in a test or validation split never moves into training, and
the test splits, whose union is the frozen benchmark of champion vs challenger.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Any, Iterator

from filelock import FileLock

from webtune.errors import InputError
from webtune.jsonl import atomic_write_json, read_jsonl
from webtune.records import utc_now

_VERSION = re.compile(r"^v(\d+)$")
LINEAGE = "lineage.json"
RECORDS = "records.jsonl"
COLLECTED = "collect.json"
SIGNATURES = "signatures.jsonl"
SPLITS_FILE = "splits.json"
SPLIT_FILES = ("train.jsonl", "validation.jsonl", "test.jsonl")


def default_history_dir(registry_root: Path, pipeline_name: str) -> Path:
    """``<registry>/history/<pipeline name>``: next to the models the pipeline registers."""
    return Path(registry_root) / "history" / pipeline_name


class History:
    """The committed dataset versions of one pipeline (see the module docstring)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    # ------------------------------------------------------------------ reading
    def versions(self) -> list[int]:
        """Committed versions, ascending."""
        if not self.root.is_dir():
            return []
        found = [int(m.group(1)) for p in self.root.iterdir()
                 if (m := _VERSION.match(p.name)) and (p / LINEAGE).is_file()]
        return sorted(found)

    def next_version(self) -> int:
        """The number the next committed version gets."""
        versions = self.versions()
        return (versions[-1] if versions else 0) + 1

    def version_dir(self, version: int) -> Path:
        return self.root / f"v{version}"

    def lineage(self, version: int) -> dict[str, Any]:
        """The lineage record of ``version``."""
        path = self.version_dir(version) / LINEAGE
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: unreadable history lineage ({exc})") from None

    def _lines(self, name: str) -> Iterator[tuple[int, dict[str, Any]]]:
        for version in self.versions():
            path = self.version_dir(version) / name
            if path.is_file():
                for entry in read_jsonl(path):
                    yield version, entry

    def _json(self, version: int, name: str) -> dict[str, Any]:
        path = self.version_dir(version) / name
        if not path.is_file():
            return {}
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise InputError(f"{path}: unreadable ({exc})") from None

    def known_records(self) -> tuple[dict[str, int], dict[str, str]]:
        """(content id -> first version it was collected in, record key -> its latest content id)."""
        ids: dict[str, int] = {}
        keys: dict[str, str] = {}
        for version, entry in self._lines(RECORDS):
            ids.setdefault(entry["id"], version)
            if entry.get("key"):
                keys[entry["key"]] = entry["id"]
        return ids, keys

    def collected(self) -> dict[str, Any]:
        """File hashes, crawl pages and Bright Data inputs of every version (later ones win)."""
        merged: dict[str, Any] = {"files": {}, "crawl": {}, "brightdata_inputs": {}}
        for version in self.versions():
            state = self._json(version, COLLECTED)
            for part in merged:
                for key, value in (state.get(part) or {}).items():
                    merged[part][key] = {**value, "version": version} if isinstance(value, dict) else version
        return merged

    def signatures(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """(version, signature entry) of every document kept by an earlier version's dedup."""
        yield from self._lines(SIGNATURES)

    def pins(self) -> dict[str, str]:
        """Split group -> the split an earlier version gave it (the earliest assignment stands)."""
        pinned: dict[str, str] = {}
        for version in self.versions():
            for group, split in self._json(version, SPLITS_FILE).items():
                pinned.setdefault(group, split)
        return pinned

    def benchmark_files(self) -> list[Path]:
        """The test splits of every committed version: the frozen benchmark of the next one."""
        return [p for v in self.versions() if (p := self.version_dir(v) / "test.jsonl").is_file()]

    def split_files(self, split: str) -> list[Path]:
        """One split's files of every committed version (retraining reads train and validation)."""
        return [p for v in self.versions() if (p := self.version_dir(v) / f"{split}.jsonl").is_file()]

    # ------------------------------------------------------------------ writing
    def commit(self, version: int, files: dict[str, Path], lineage: dict[str, Any],
               splits: dict[str, str]) -> Path:
        """Store version ``version``: ``files`` (name in the version -> file to copy), its split
        assignments and lineage. Refused when the version exists (versions never change)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with FileLock(self.root / ".lock"):
            final = self.version_dir(version)
            if final.exists():
                raise InputError(f"{final}: history version {version} exists already (versions never change)")
            tmp = self.root / f"tmp-v{version}-{uuid.uuid4().hex[:8]}"
            tmp.mkdir()
            try:
                for name, source in files.items():
                    if Path(source).is_file():
                        shutil.copyfile(source, tmp / name)
                atomic_write_json(tmp / SPLITS_FILE, splits)
                atomic_write_json(tmp / LINEAGE, {"version": version, "committed_at": utc_now(), **lineage})
                os.rename(tmp, final)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        return final
