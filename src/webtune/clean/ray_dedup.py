"""Dedup decided on Ray Data, with no index held by one process.

With ``executor: ray`` the clean stage streams each kept document's dedup signature past the
driver into Ray's object store, a few thousand rows at a time (`SignatureSink`), instead of a
list; `decide` then finds the clusters `Dedup.decide` finds, with Ray Data operations only:

1. bands (``map_batches``): one row per signature and LSH band (the bands and rows
   `DedupConfig.bands` gives the in-process index too), keyed by the band's values;
2. candidates (``groupby(band)``): the documents of a bucket are candidate pairs; a pair is
   verified (`Dedup.similarity`) in the first band it shares only, so each pair is checked
   once with no shuffle of pairs. Exact duplicates: ``groupby(exact hash)``, linked to the
   first of each group;
3. clusters: connected components of the verified pairs by min-label propagation. A
   document's key orders documents as the keeper rule does (input position; with
   ``keep: longest``, length first), its label starts as the smallest key of itself and
   its neighbours, and each round (``map_batches`` then ``groupby(node)``) a document whose
   label fell sends it to its neighbours and takes the smallest it receives, until none
   changes. The label is then the key of the cluster's keeper;
4. plan (``groupby(label)``): each member's keeper, cluster size and similarity to the
   keeper; sorted by position, it streams back while the next pass reads the documents
   (`StreamingPlan`). Only documents in a cluster of two or more have a plan row.

Written by hand on Ray Data because datasketch's LSH index and a union-find are both held
by one process (as is datatrove's MinHash clustering step, which runs as a single task).
Every row carries its document's signature, so a round shuffles signatures; the memory of
one process holds one group (a bucket, a node, a cluster), never the corpus.
"""

from __future__ import annotations

import pickle
from functools import partial
from typing import TYPE_CHECKING, Any, Iterator

from webtune.clean.steps.dedup import Dedup, Member, Signature

if TYPE_CHECKING:
    import pyarrow as pa

ROWS_PER_REF = 4096
ROWS_PER_PARTITION = 20_000
_POSITION_BITS = 32
_MAX_LENGTH = (1 << 31) - 1


def handles(step: Any) -> bool:
    """Whether `decide` can decide for this global step: dedup, unless it also compares against
    a refresh run's history (that reading and saving lives in `Dedup.decide`, which then runs in
    the driver); corpus boilerplate stays local."""
    return isinstance(step, Dedup) and step.history is None


def order_key(position: int, length: int, keep: str) -> int:
    """An int64 ordering documents as the keeper rule does: smallest key is the keeper."""
    if position >= 1 << _POSITION_BITS:
        raise ValueError("ray dedup: more than 2**32 documents in one pass")
    if keep == "longest":
        return (_MAX_LENGTH - min(length, _MAX_LENGTH)) << _POSITION_BITS | position
    return position


def position_of(key: int) -> int:
    """The input position a key was made from."""
    return key & ((1 << _POSITION_BITS) - 1)


def _schemas() -> dict[str, pa.Schema]:
    import pyarrow as pa

    payload = [("id", pa.string()), ("exact", pa.string()), ("sig", pa.binary())]
    return {
        "sig": pa.schema([("node", pa.int64()), *payload]),
        "band": pa.schema([("bucket", pa.string()), ("node", pa.int64()), *payload]),
        "edge": pa.schema([("node", pa.int64()), ("other", pa.int64()), *payload]),
        "state": pa.schema([("node", pa.int64()), ("label", pa.int64()), ("changed", pa.int64()), ("keeper", pa.int64()),
                            ("nbrs", pa.list_(pa.int64())), *payload]),
        "plan": pa.schema([("position", pa.int64()), ("keeper", pa.int64()), ("keeper_id", pa.string()),
                           ("size", pa.int64()), ("reason", pa.string()), ("value", pa.float64())]),
    }


def _table(kind: str, rows: list[dict[str, Any]]) -> pa.Table:
    import pyarrow as pa

    return pa.Table.from_pylist(rows, schema=_schemas()[kind])


class SignatureSink:
    """Where the stage appends ``(Signature | None, id)`` per kept document, in input order:
    buffered, then put into Ray's object store as Arrow tables, so the driver keeps only refs."""

    def __init__(self, step: Dedup, rows_per_ref: int = ROWS_PER_REF):
        self.keep = step.config.keep
        self.rows_per_ref = rows_per_ref
        self.refs: list[Any] = []
        self.buffer: list[dict[str, Any]] = []
        self.position = 0
        self.rows = 0  # signatures put so far

    def append(self, item: tuple[Signature | None, str]) -> None:
        sig, doc_id = item
        if sig is not None:  # nothing to compare: a cluster of its own, no row needed
            self.buffer.append({"node": order_key(self.position, sig.length, self.keep), "id": doc_id,
                                "exact": sig.exact, "sig": pickle.dumps(sig, protocol=5)})
        self.position += 1
        if len(self.buffer) >= self.rows_per_ref:
            self.flush()

    def flush(self) -> None:
        """Put the buffered rows into the object store."""
        import ray

        if self.buffer:
            self.refs.append(ray.put(_table("sig", self.buffer)))
            self.rows += len(self.buffer)
            self.buffer = []

    def __len__(self) -> int:
        return self.position


class StreamingPlan:
    """`Dedup.finish`'s plan, read from rows sorted by position as the positions come."""

    def __init__(self, rows: Iterator[dict[str, Any]]):
        self._rows = iter(rows)
        self._next: dict[str, Any] | None = None
        self._started = False

    def get(self, index: int) -> Member | None:
        """The plan of document ``index``; indexes must come in increasing order."""
        if not self._started:
            self._started = True
            self._next = next(self._rows, None)
        while self._next is not None and self._next["position"] < index:
            self._next = next(self._rows, None)
        row = self._next
        if row is None or row["position"] != index:
            return None
        return Member(row["keeper"], row["keeper_id"], row["size"], row["reason"], row["value"])


def decide(step: Dedup, sink: SignatureSink, stats: dict[str, Any], workers: int,
           rounds_per_run: int = 3) -> StreamingPlan:
    """The dedup plan of every signature in ``sink`` (see the module docstring).

    Each Ray Data execution costs seconds to start, so the operations are chained lazily:
    bands to candidate pairs to the first ``rounds_per_run`` label rounds run as one; the
    driver then checks (with plain tasks, reading no rows) whether a label still moved, and
    chains more rounds while one did; the plan and its sort run as the last.
    """
    import ray

    sink.flush()
    if not sink.refs:
        stats["clusters_with_duplicates"] = 0
        return StreamingPlan(())
    cfg = step.config
    # one shuffle partition per worker, and more as the corpus grows, so that one reduce task
    # holds a bounded share of the rows
    partitions = max(2, workers, sink.rows // ROWS_PER_PARTITION)
    sigs = ray.data.from_arrow_refs(sink.refs)
    edge_sets = []
    if cfg.near:
        bands, rows = cfg.bands()
        banded = sigs.map_batches(partial(_band_rows, bands, rows), batch_format="pyarrow")
        edge_sets.append(banded.groupby("bucket", num_partitions=partitions)
                         .map_groups(partial(_verify_bucket, step, bands, rows), batch_format="pyarrow"))
    if cfg.exact:
        edge_sets.append(sigs.groupby("exact", num_partitions=partitions)
                         .map_groups(_exact_group, batch_format="pyarrow"))
    edges = edge_sets[0] if len(edge_sets) == 1 else edge_sets[0].union(*edge_sets[1:])
    state = edges.groupby("node", num_partitions=partitions).map_groups(_initial_state, batch_format="pyarrow")
    rounds = 0
    while True:
        for _ in range(rounds_per_run):
            state = (state.map_batches(_send, batch_format="pyarrow")
                     .groupby("node", num_partitions=partitions)
                     .map_groups(_receive, batch_format="pyarrow"))
        state = state.materialize()
        rounds += rounds_per_run
        if not _column_sum(state, "changed"):
            break
    stats["label_rounds"] = stats.get("label_rounds", 0) + rounds
    stats["clusters_with_duplicates"] = _column_sum(state, "keeper")
    # Positions are known (0 .. sink.position), so the sort needs no sampling pass.
    boundaries = [sink.position * k // partitions for k in range(1, partitions)]
    plan = (state.groupby("label", num_partitions=partitions)
            .map_groups(partial(_plan_rows, step), batch_format="pyarrow")
            .sort("position", boundaries=boundaries))
    return StreamingPlan(plan.iter_rows())


def _column_sum(ds: Any, column: str) -> int:
    """Sum of an int column of a materialized dataset, by one task per block (no rows move)."""
    import ray

    def block_sum(table: pa.Table) -> int:
        import pyarrow.compute as pc

        return int(pc.sum(table[column]).as_py() or 0) if table.num_rows else 0

    task = ray.remote(block_sum)
    return sum(ray.get([task.remote(ref) for ref in ds.to_arrow_refs()]))


def _band_rows(bands: int, rows: int, table: pa.Table) -> pa.Table:
    out = []
    for node, doc_id, exact, blob in zip(*(table[c].to_pylist() for c in ("node", "id", "exact", "sig"))):
        sig: Signature = pickle.loads(blob)
        for p, part in enumerate(sig.parts):
            if part is None:
                continue
            values = part[0]
            for b in range(bands):
                bucket = f"{p}.{b}.{values[b * rows:(b + 1) * rows].tobytes().hex()}"
                out.append({"bucket": bucket, "node": node, "id": doc_id, "exact": exact, "sig": blob})
    return _table("band", out)


def _first_shared_band(a: Signature, b: Signature, bands: int, rows: int) -> tuple[int, int] | None:
    import numpy as np

    for p, (pa_, pb) in enumerate(zip(a.parts, b.parts)):
        if pa_ is None or pb is None:
            continue
        for band in range(bands):
            cut = slice(band * rows, (band + 1) * rows)
            if np.array_equal(pa_[0][cut], pb[0][cut]):
                return p, band
    return None


def _verify_bucket(step: Dedup, bands: int, rows: int, table: pa.Table) -> pa.Table:
    """Verified pairs of one bucket, each pair only in the first band it shares."""
    if table.num_rows < 2:
        return _table("edge", [])
    p, band, _ = table["bucket"][0].as_py().split(".", 2)
    here = (int(p), int(band))
    members = table.to_pylist()
    sigs = [pickle.loads(m["sig"]) for m in members]
    out: list[dict[str, Any]] = []
    linked_exactly = step.config.exact  # equal exact hashes are joined by the exact groupby
    for x in range(len(members)):
        for y in range(x + 1, len(members)):
            if linked_exactly and members[x]["exact"] == members[y]["exact"]:
                continue  # (a bucket of many copies would otherwise check every pair of them)
            if (_first_shared_band(sigs[x], sigs[y], bands, rows) == here
                    and step.similarity(sigs[x], sigs[y]) >= step.config.threshold):
                out += _both_ways(members[x], members[y])
    return _table("edge", out)


def _both_ways(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"node": a["node"], "other": b["node"], "id": a["id"], "exact": a["exact"], "sig": a["sig"]},
            {"node": b["node"], "other": a["node"], "id": b["id"], "exact": b["exact"], "sig": b["sig"]}]


def _exact_group(table: pa.Table) -> pa.Table:
    """Documents with the same exact hash, each linked to the group's first."""
    if table.num_rows < 2:
        return _table("edge", [])
    members = sorted(table.to_pylist(), key=lambda m: m["node"])
    return _table("edge", [row for m in members[1:] for row in _both_ways(members[0], m)])


def _initial_state(table: pa.Table) -> pa.Table:
    """One node's row: its neighbours, its label (the smallest key among them and itself)."""
    first = table.slice(0, 1).to_pylist()[0]
    nbrs = sorted(set(table["other"].to_pylist()))
    label = min(first["node"], nbrs[0])
    return _table("state", [{"node": first["node"], "label": label, "changed": 1,
                             "keeper": int(label == first["node"]), "nbrs": nbrs, "id": first["id"], "exact": first["exact"], "sig": first["sig"]}])


def _send(table: pa.Table) -> pa.Table:
    """Each node's row, plus its label sent to its neighbours where it fell last round."""
    out = []
    for row in table.to_pylist():
        if row["changed"]:
            out += [{"node": n, "label": row["label"], "changed": 0, "keeper": 0, "nbrs": None, "id": None,
                     "exact": None, "sig": None} for n in row["nbrs"]]
        row["changed"] = 0
        out.append(row)
    return _table("state", out)


def _receive(table: pa.Table) -> pa.Table:
    """A node's row with the smallest label it holds or received."""
    rows = table.to_pylist()
    state = next(r for r in rows if r["nbrs"] is not None)
    smallest = min(r["label"] for r in rows)
    state["changed"] = int(smallest < state["label"])
    state["label"] = smallest
    state["keeper"] = int(smallest == state["node"])
    return _table("state", [state])


def _plan_rows(step: Dedup, table: pa.Table) -> pa.Table:
    """One cluster: each member's keeper, the cluster size and why the others go."""
    members = table.to_pylist()
    keeper = next(m for m in members if m["node"] == m["label"])
    keeper_sig = pickle.loads(keeper["sig"])
    out = []
    for m in members:
        reason = value = None
        if m is not keeper:
            reason, value = step.member_verdict(pickle.loads(m["sig"]), keeper_sig)
        out.append({"position": position_of(m["node"]), "keeper": position_of(keeper["node"]),
                    "keeper_id": keeper["id"], "size": len(members), "reason": reason, "value": value})
    return _table("plan", out)
