"""Dedup against history: the signatures earlier versions kept, loaded for the dedup step.

The clean stage of a refresh run attaches a `HistorySignatures` to its ``dedup`` step
(`webtune.clean.steps.dedup`). The step puts these signatures before the run's own and clusters
them all with its usual exact and MinHash rules (`webtune.clean.minhash`: one MinHash), so an
earlier record and its near duplicates are recognised without reading old data. Signatures
made with other dedup settings (``num_perm``, ``seed``, n-grams, fields) cannot be compared:
those are left out, and counted as ``history_incomparable``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from webtune.jsonl import JsonlWriter
from webtune.refresh.history import History


class HistorySignatures:
    """Earlier versions' dedup signatures in, this version's kept signatures out."""

    def __init__(self, history: History, out_path: Path):
        self.history = history
        self.out_path = Path(out_path)
        self._versions: dict[str, int] = {}
        self._clusters: dict[str, str] = {}

    def past(self, step: Any) -> tuple[list[Any], list[str]]:
        """(signatures, ids) kept by earlier versions with the same dedup settings, oldest first."""
        from webtune.clean.steps.dedup import Signature

        params = step.config.signature_params()
        sigs, ids, incomparable = [], [], 0
        for version, entry in self.history.signatures():
            if entry.get("params") != params:
                incomparable += 1
                continue
            # shingles saved with verify: exact, so past pairs verify exactly too
            sigs.append(Signature.from_json(entry))
            ids.append(entry["id"])
            self._versions.setdefault(entry["id"], version)
            if entry.get("key"):
                self._clusters.setdefault(entry["key"], entry.get("cluster") or entry["id"])
        self.loaded, self.incomparable = len(sigs), incomparable
        return sigs, ids

    def version_of(self, doc_id: str) -> int | None:
        """The version that kept ``doc_id``."""
        return self._versions.get(doc_id)

    def cluster_of(self, key: str | None, doc_id: str) -> str:
        """The split group of a kept document: its earlier self's cluster when its key was kept before."""
        return self._clusters.get(key, doc_id) if key else doc_id

    def save(self, step: Any, plan: dict[int, Any], sigs: list[Any], ids: list[str],
             stats: dict[str, Any]) -> None:
        """Write the signatures of this run's kept documents (for the next version's dedup)."""
        params = step.config.signature_params()
        saved = 0
        with JsonlWriter(self.out_path) as out:
            for index, (sig, doc_id) in enumerate(zip(sigs, ids)):
                member = plan.get(index)
                if sig is None or member is None or member.reason is not None:
                    continue
                out.write({"id": doc_id, **sig.to_json(), "cluster": self.cluster_of(sig.key, doc_id),
                           "params": params})
                saved += 1
        stats["history_signatures"] = self.loaded
        stats["history_incomparable"] = self.incomparable
        stats["signatures_saved"] = saved
