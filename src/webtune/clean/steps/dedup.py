"""dedup: exact and near-duplicate removal (MinHash LSH over word n-grams) across the whole store.

Each document gets a signature on the workers (an exact hash of its normalised text, a
MinHash per target and, with ``verify: exact``, its shingle hashes). On the driver,
datasketch's MinHashLSH finds candidate pairs (bands for ``candidate_threshold``), each
pair's similarity is measured (on the shingle sets, or estimated from the MinHashes), and
pairs at or above ``threshold`` are joined into clusters (union-find). With
``executor: ray`` the same decisions are made on Ray Data (`webtune.clean.ray_dedup`). The kept document of a cluster is the first in
input order (or the longest, ``keep: longest``); the others are rejected with
``duplicate_of`` naming it. Every kept document gets ``meta.cluster_id`` (its own id when
alone) and ``meta.cluster_size``.

Similarity:
* ``jaccard`` (default for text): Jaccard similarity of word 5-gram sets, as in
  datatrove / FineWeb.
* Chinese, Japanese and other unspaced scripts (the document's ``meta.lang``, a configured
  ``language``, else the script) shingle characters instead of words: ``char_ngram``
  characters (default 5), since a "word" there is a whole clause (`webtune.text_units`).
* ``containment`` (default with ``fields``): for each field, the share of the smaller
  field's word 3-grams found in the other's; averaged over the fields. A re-listed product
  whose title gained "(2025 Edition)" and whose description got a new closing line keeps
  most of its shingles this way, while different products in the same house style do not.

Against history (a refresh run, `webtune.refresh.dedup.HistorySignatures` attached by the clean
stage as ``history``): the signatures every earlier version of the pipeline kept are put before
this run's documents in the same union-find, so a document in a cluster with an earlier one is
rejected as ``seen_before`` (``duplicate_of`` the earlier id, ``version`` where it was kept), by
the same exact and near rules; old data is never read again. A kept document whose record key an
earlier version kept (a changed record) takes that record's ``cluster_id``, so it stays in the
split its earlier self was given. The kept documents' signatures are saved for the next version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from webtune import text_units
from webtune.clean import minhash, text as textlib
from webtune.clean.steps import STEPS
from webtune.clean.steps.base import Drop, GlobalStep, TargetConfig
from webtune.extras import Needs
from webtune.records import Document

if TYPE_CHECKING:
    import numpy as np


class DedupConfig(TargetConfig):
    step: Literal["dedup"] = "dedup"
    exact: bool = True
    near: bool = True
    threshold: float = Field(0.8, gt=0.0, le=1.0)
    similarity: Literal["auto", "jaccard", "containment"] = "auto"
    ngram: int | None = Field(None, ge=1, le=20)  # None: 3 with fields, 5 for text
    num_perm: int = Field(128, ge=16, le=1024)
    seed: int = 1
    keep: Literal["first", "longest"] = "first"
    # Units' language (ISO 639-1); None: the language step's meta.lang, else the script's.
    language: str | None = Field(None, min_length=2, max_length=8)
    char_ngram: int = Field(5, ge=1, le=20)  # shingle length in characters for unspaced scripts
    # How a candidate pair's similarity is measured: "exact" on the shingle (hash) sets, which the
    # signature then carries; "estimate" from the MinHash signatures alone (smaller signatures,
    # but a pair at 0.82 falls under 0.8 more than one time in four with 128 permutations).
    verify: Literal["exact", "estimate"] = "exact"
    # LSH finds pairs at or above this similarity (nearly all of them); None: 0.25 under
    # ``threshold`` for Jaccard (99.8% of pairs at 0.8 become candidates with 128 permutations).
    candidate_threshold: float | None = Field(None, gt=0.0, le=1.0)

    def resolved(self) -> tuple[str, int]:
        """(similarity, ngram) with the 'auto' defaults filled in."""
        per_field = self.target_names() is not None
        similarity = self.similarity if self.similarity != "auto" else (
            "containment" if per_field else "jaccard")
        ngram = self.ngram or (3 if per_field else 5)
        return similarity, ngram

    def signature_params(self) -> str:
        """The settings a signature depends on: only signatures made with equal ones compare
        (a refresh run's history keeps it with each signature, `webtune.refresh.dedup`)."""
        similarity, ngram = self.resolved()
        return f"{self.num_perm}:{self.seed}:{similarity}:{ngram}:{self.char_ngram}:{self.target_names()}"

    def lsh_threshold(self) -> float:
        """The similarity LSH finds candidates at; each candidate is then checked against ``threshold``."""
        if self.candidate_threshold is not None:
            return self.candidate_threshold
        if self.resolved()[0] == "jaccard":
            return max(0.05, self.threshold - 0.25)
        # containment allows a lower Jaccard: c >= t holds down to J = t / (2 - t) for equal sizes
        return max(0.05, self.threshold / (3 - self.threshold) - 0.05)

    def bands(self) -> tuple[int, int]:
        """(bands, rows per band) of the LSH index: datasketch's choice for ``lsh_threshold``."""
        from datasketch import MinHashLSH

        lsh = MinHashLSH(threshold=self.lsh_threshold(), num_perm=self.num_perm)
        return lsh.b, lsh.r


@dataclass
class Signature:
    exact: str
    length: int
    parts: list[tuple[np.ndarray, int] | None]  # per target: (MinHash values, shingle count)
    shingles: list[np.ndarray | None] | None = None  # per target: sorted shingle hashes (verify: exact)
    key: str | None = None  # the record key of a refresh run (``meta.record_key``)

    def to_json(self) -> dict[str, Any]:
        """The signature as JSON (lists of ints), as a refresh run's history keeps it."""
        return {"exact": self.exact, "length": self.length, "key": self.key,
                "parts": [[p[0].tolist(), p[1]] if p is not None else None for p in self.parts],
                "shingles": None if self.shingles is None
                else [h.tolist() if h is not None else None for h in self.shingles]}

    @classmethod
    def from_json(cls, entry: dict[str, Any]) -> "Signature":
        """The signature `to_json` wrote (history from before shingles were kept has none)."""
        import numpy as np

        parts = [(np.asarray(p[0], dtype=np.uint32), int(p[1])) if p is not None else None for p in entry["parts"]]
        shingles = entry.get("shingles")
        if shingles is not None:
            shingles = [np.asarray(h, dtype=np.uint32) if h is not None else None for h in shingles]
        return cls(entry["exact"], entry["length"], parts, shingles=shingles, key=entry.get("key"))


@dataclass
class Member:
    keeper: int
    keeper_id: str
    size: int
    reason: str | None = None
    value: float | None = None


class _UnionFind:
    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


@STEPS.register("dedup")
class Dedup(GlobalStep):
    """Reason codes: exact_duplicate (value 1.0), near_duplicate (value: estimated similarity)."""

    Config = DedupConfig
    needs = Needs("clean", "numpy", "datasketch")
    history: Any = None  # `webtune.refresh.dedup.HistorySignatures` in a refresh run

    def _parts(self, doc: Document) -> list[str]:
        names = self.config.target_names()
        if names is None:
            return [textlib.doc_text(doc)]
        return [textlib.value_text(doc.fields.get(name)) for name in names]

    def signature(self, doc: Document) -> tuple[Signature | None, str]:
        parts = self._parts(doc)
        joined = "\n\n".join(p for p in parts if p.strip())
        if not minhash.normalize_for_hash(joined):
            return None, doc.id  # nothing to compare: a cluster of its own
        cfg = self.config
        _, n = cfg.resolved()
        lang = text_units.resolve_language(joined, cfg.language, doc.meta.get("lang"))
        if lang in text_units.UNSPACED:
            n = cfg.char_ngram
        sigs: list[tuple[np.ndarray, int] | None] = []
        shingles: list[np.ndarray | None] | None = [] if cfg.near and cfg.verify == "exact" else None
        if cfg.near:
            for part in parts:
                hashes = minhash.shingle_hashes(part, n, lang)
                sigs.append((minhash.signature(hashes, cfg.num_perm, cfg.seed), len(hashes)) if len(hashes) else None)
                if shingles is not None:
                    shingles.append(hashes.astype("uint32") if len(hashes) else None)
        return Signature(minhash.exact_key(joined), len(joined), sigs, shingles, doc.meta.get("record_key")), doc.id

    def similarity(self, a: Signature, b: Signature) -> float:
        """Estimated similarity of two documents (see the module docstring)."""
        mode, _ = self.config.resolved()
        if a.shingles is not None and b.shingles is not None:
            return self._exact_similarity(a.shingles, b.shingles, mode)
        scores = []
        for pa, pb in zip(a.parts, b.parts):
            if pa is None and pb is None:
                continue
            if pa is None or pb is None:
                scores.append(0.0)
            elif mode == "jaccard":
                scores.append(minhash.jaccard(pa[0], pb[0]))
            else:
                scores.append(minhash.containment(pa[0], pb[0], pa[1], pb[1]))
        return sum(scores) / len(scores) if scores else 0.0

    @staticmethod
    def _exact_similarity(a: list[np.ndarray | None], b: list[np.ndarray | None], mode: str) -> float:
        scores = []
        for sa, sb in zip(a, b):
            if sa is None and sb is None:
                continue
            if sa is None or sb is None:
                scores.append(0.0)
                continue
            inter = minhash.intersection_size(sa, sb)
            if mode == "jaccard":
                scores.append(inter / (len(sa) + len(sb) - inter))
            else:
                scores.append(inter / min(len(sa), len(sb)))
        return sum(scores) / len(scores) if scores else 0.0

    def member_verdict(self, sig: Signature, keeper: Signature) -> tuple[str, float]:
        """Why a cluster member goes, and its similarity to the keeper (1.0 for an exact copy).
        The local and the Ray decide (`webtune.clean.ray_dedup`) both take it from here."""
        if sig.exact == keeper.exact:
            return "exact_duplicate", 1.0
        return "near_duplicate", round(self.similarity(sig, keeper), 4)

    def decide(self, signatures: list[Any], stats: dict[str, Any]) -> dict[int, Member]:
        past_sigs, past_ids = self.history.past(self) if self.history is not None else ([], [])
        sigs = past_sigs + [s for s, _ in signatures]
        ids = past_ids + [i for _, i in signatures]
        uf = _UnionFind(len(sigs))
        if self.config.exact:
            first: dict[str, int] = {}
            for i, sig in enumerate(sigs):
                if sig is not None:
                    j = first.setdefault(sig.exact, i)
                    if j != i:
                        uf.union(i, j)
        if self.config.near:
            self._near_pairs(sigs, uf, stats)
        plan = self._plan(sigs, ids, uf, stats, past=len(past_sigs))
        if self.history is not None:
            self.history.save(self, plan, sigs[len(past_sigs):], ids[len(past_sigs):], stats)
        return plan

    def _near_pairs(self, sigs: list[Signature | None], uf: _UnionFind, stats: dict[str, Any]) -> None:
        from datasketch import MinHashLSH

        cfg = self.config
        # LSH finds candidates generously; each candidate pair is then checked against the
        # real threshold. Ray's distributed dedup (`webtune.clean.ray_dedup`) bands the same way.
        bands, rows = cfg.bands()
        n_parts = max((len(s.parts) for s in sigs if s is not None), default=0)
        checked: set[tuple[int, int]] = set()
        for p in range(n_parts):
            lsh = MinHashLSH(num_perm=cfg.num_perm, params=(bands, rows))
            for i, sig in enumerate(sigs):
                if sig is None or sig.parts[p] is None:
                    continue
                lean = minhash.lean(sig.parts[p][0], cfg.seed)
                for j in lsh.query(lean):
                    pair = (j, i)
                    if pair in checked or uf.find(i) == uf.find(j):
                        continue
                    checked.add(pair)
                    if self.similarity(sigs[i], sigs[j]) >= cfg.threshold:
                        uf.union(i, j)
                lsh.insert(i, lean, check_duplication=False)
        stats["candidate_pairs"] = stats.get("candidate_pairs", 0) + len(checked)

    def _plan(self, sigs, ids, uf: _UnionFind, stats: dict[str, Any], past: int = 0) -> dict[int, Member]:
        """Keeper and reason of every current document (indices from ``past`` on; before them
        are history's signatures: a cluster holding one of those is ``seen_before``)."""
        clusters: dict[int, list[int]] = {}
        for i, sig in enumerate(sigs):
            if sig is not None:
                clusters.setdefault(uf.find(i), []).append(i)
        plan: dict[int, Member] = {}
        for members in clusters.values():
            earlier = [i for i in members if i < past]
            if earlier:
                keeper = earlier[0]
                for i in members:
                    if i >= past:
                        _, similarity = self.member_verdict(sigs[i], sigs[keeper])
                        plan[i - past] = Member(keeper, ids[keeper], len(members), "seen_before", similarity)
                continue
            if self.config.keep == "longest":
                keeper = min(members, key=lambda i: (-sigs[i].length, i))
            else:
                keeper = min(members)
            for i in members:
                member = Member(keeper, ids[keeper], len(members))
                if i != keeper:
                    member.reason, member.value = self.member_verdict(sigs[i], sigs[keeper])
                plan[i - past] = member
        stats["clusters_with_duplicates"] = sum(1 for m in clusters.values()
                                                if len(m) > 1 and not any(i < past for i in m))
        return plan

    def finish(self, index: int, doc: Document, plan: dict[int, Member], stats: dict[str, Any]) -> Drop | None:
        member = plan.get(index)
        if member is None:  # nothing to compare
            doc.meta["cluster_id"], doc.meta["cluster_size"] = doc.id, 1
            return None
        if member.reason is None:
            doc.meta["cluster_id"], doc.meta["cluster_size"] = doc.id, member.size
            if self.history is not None:  # a changed record stays in its earlier self's split group
                doc.meta["cluster_id"] = self.history.cluster_of(doc.meta.get("record_key"), doc.id)
            return None
        if member.reason == "seen_before":
            return Drop("seen_before", member.value, None if member.value == 1.0 else self.config.threshold,
                        extra={"duplicate_of": member.keeper_id, "version": self.history.version_of(member.keeper_id)})
        threshold = None if member.reason == "exact_duplicate" else self.config.threshold
        return Drop(member.reason, member.value, threshold,
                    extra={"duplicate_of": member.keeper_id, "cluster_id": member.keeper_id})
