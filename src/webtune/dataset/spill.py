"""Disk-backed working state of the dataset stage, so its memory does not grow with the corpus.

* ``SpillFile``: candidates written as JSONL as they are made and read back in order.
* ``DiskIndex``: a throwaway SQLite database (the standard library's, no server, no new
  dependency) for the three things that would otherwise grow with the corpus: the keys of
  examples seen so far (exact-duplicate check), the size and split of each split group
  (cluster or document), and the documents that gave an example. SQLite keeps only a small
  page cache in memory and its lookups are indexed.

Both live in a temporary directory under the stage's work dir and are deleted when it ends.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any, Callable, Iterator

from webtune.dataset.generators.base import Candidate

CACHE_KIB = 16 * 1024  # SQLite page cache: a fixed 16 MiB, whatever the corpus


class SpillFile:
    """An append-only JSONL file of candidates (rejects kept as their JSON)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.count = 0
        self._fh = open(self.path, "w", encoding="utf-8")

    def write(self, cand: Candidate) -> None:
        """Append one candidate."""
        reject = cand.reject.to_json() if hasattr(cand.reject, "to_json") else cand.reject
        source = cand.source.to_json() if hasattr(cand.source, "to_json") else cand.source
        row = {"messages": cand.messages, "meta": cand.meta, "source": source, "reject": reject,
               "tokens": cand.tokens}
        if cand.kind != "example":
            row["kind"], row["preference"] = cand.kind, cand.preference
        self._fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        self.count += 1

    def close(self) -> None:
        """Flush and close (reading needs a closed file)."""
        self._fh.close()

    def read(self) -> Iterator[Candidate]:
        """The candidates in the order they were written; a reject stays a JSON dict."""
        with open(self.path, "r", encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                yield Candidate(row["messages"], row["meta"], reject=row["reject"], tokens=row["tokens"],
                                source=row["source"], kind=row.get("kind", "example"),
                                preference=row.get("preference"))


def digest(text: str) -> bytes:
    """A 16-byte key of ``text`` (collisions are out of reach at any corpus size)."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


class DiskIndex:
    """Seen-example keys, split groups and documents with examples, in SQLite (see above)."""

    def __init__(self, path: Path):
        self.db = sqlite3.connect(str(path))
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        self.db.executescript(
            "CREATE TABLE seen (key BLOB PRIMARY KEY) WITHOUT ROWID;"
            "CREATE TABLE groups (hash TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;"
            "CREATE TABLE splits (hash TEXT PRIMARY KEY, split TEXT NOT NULL) WITHOUT ROWID;"
            "CREATE TABLE docs (id TEXT PRIMARY KEY) WITHOUT ROWID;")

    def first_time(self, key: bytes) -> bool:
        """Record ``key``; False when it was recorded before (a duplicate)."""
        cur = self.db.execute("INSERT OR IGNORE INTO seen (key) VALUES (?)", (key,))
        return cur.rowcount == 1

    def add_to_group(self, group_hash: str) -> None:
        """Count one more example in the group with this (seeded) hash."""
        self.db.execute("INSERT INTO groups (hash, n) VALUES (?, 1) ON CONFLICT(hash) DO UPDATE SET n = n + 1",
                        (group_hash,))

    def assign_groups(self, choose: Callable[[int], str]) -> None:
        """Give every group a split, visiting groups in hash order (``choose(size) -> split``)."""
        self.db.commit()
        reader = self.db.cursor()
        updates = []
        for group_hash, size in reader.execute("SELECT hash, n FROM groups ORDER BY hash"):
            updates.append((choose(size), group_hash))
            if len(updates) >= 10_000:
                self._set_splits(updates)
                updates = []
        self._set_splits(updates)
        self.db.commit()

    def _set_splits(self, updates: list[tuple[str, str]]) -> None:
        # a table of its own: changing the table being read would disturb the running SELECT
        self.db.cursor().executemany("INSERT INTO splits (split, hash) VALUES (?, ?)", updates)

    def group_count(self) -> int:
        """How many groups there are."""
        return self.db.execute("SELECT COUNT(*) FROM groups").fetchone()[0]

    def split_of(self, group_hash: str) -> str:
        """The split given to a group by ``assign_groups``."""
        return self.db.execute("SELECT split FROM splits WHERE hash = ?", (group_hash,)).fetchone()[0]

    def add_doc(self, doc_id: Any) -> None:
        """Record a document that gave an example."""
        self.db.execute("INSERT OR IGNORE INTO docs (id) VALUES (?)", (str(doc_id),))

    def doc_count(self) -> int:
        """How many documents gave an example."""
        return self.db.execute("SELECT COUNT(*) FROM docs").fetchone()[0]

    def close(self) -> None:
        """Close the database (the file goes with its temporary directory)."""
        self.db.close()
