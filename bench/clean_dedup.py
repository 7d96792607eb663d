#!/usr/bin/env python3
"""Near-dedup quality per true-Jaccard band: webtune's dedup step against datatrove's MinHash.

The corpus is independent pairs of documents (`webtune.clean.synthetic.similar_pairs`):
edited copies whose word 5-gram Jaccard spreads over 0.45-1.0, and hard negatives, distinct
documents around one long quote or boilerplate block, aimed at 0.6-0.88. Every pair's true
Jaccard is computed exactly on the shingle *strings* (word 5-grams of the normalised text);
a pair is a duplicate when it is at or above the threshold (0.8). Each system deduplicates
the whole corpus; a pair counts as flagged when it ends in one cluster (datatrove: when one
of the two is removed). Per band the table gives the share flagged: recall at and above the
threshold, the false-positive rate below it; precision and recall over all pairs follow.

Systems:
* webtune: the dedup step as configured by default (`verify: exact`: candidates from LSH
  at 0.55, checked on the shingle sets);
* webtune, estimate: the step with `verify: estimate` and candidates at 0.65 (the earlier
  default: 16 bands of 8 rows, checked on the MinHash estimate);
* datatrove: its MinHash pipeline (signature, buckets, cluster, filter) with FineWeb's
  setting (5-grams, 14 buckets of 8 hashes), no verification of candidates.

    .venv/bin/python bench/clean_dedup.py --per-band 120
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from rich.console import Console
from rich.table import Table

from webtune.clean.minhash import shingle_units
from webtune.clean.steps.dedup import Dedup, DedupConfig
from webtune.clean.synthetic import similar_pairs
from webtune.records import Document, SourceRef

THRESHOLD = 0.8
BANDS = [(0.0, 0.5), (0.5, 0.6), (0.6, 0.7), (0.7, 0.75), (0.75, 0.8), (0.8, 0.85), (0.85, 0.9),
         (0.9, 0.95), (0.95, 1.0)]
# (name, dedup config) of the webtune rows
WEBTUNE_CONFIGS = [
    ("webtune", {}),
    ("webtune, estimate", {"verify": "estimate", "candidate_threshold": 0.65}),
]


def shingle_set(text: str, n: int = 5, lang: str | None = None) -> set[str]:
    """The word n-grams (strings) of the normalised text; one shingle when shorter than n."""
    words = shingle_units(text, lang)
    return {" ".join(words[i:i + n]) for i in range(max(1, len(words) - n + 1))}


def true_jaccard(a: str, b: str, n: int = 5) -> float:
    """Exact Jaccard similarity of two texts' shingle sets."""
    sa, sb = shingle_set(a, n), shingle_set(b, n)
    return len(sa & sb) / len(sa | sb) if sa | sb else 1.0


def band_index(j: float, bands: list[tuple[float, float]] = BANDS) -> int:
    """The band holding ``j`` (the last band includes 1.0)."""
    for k, (lo, hi) in enumerate(bands):
        if lo <= j < hi or (k == len(bands) - 1 and j == hi):
            return k
    raise ValueError(f"jaccard {j} outside the bands")


def banded_rates(jaccards: list[float], flagged: list[bool], bands: list[tuple[float, float]] = BANDS
                 ) -> list[tuple[int, float | None]]:
    """Per band: (pairs in it, share of them flagged), None where the band is empty."""
    counts = [[0, 0] for _ in bands]
    for j, f in zip(jaccards, flagged):
        entry = counts[band_index(j, bands)]
        entry[0] += 1
        entry[1] += bool(f)
    return [(n, (hit / n if n else None)) for n, hit in counts]


def precision_recall(jaccards: list[float], flagged: list[bool], threshold: float = THRESHOLD
                     ) -> tuple[float, float]:
    """Pairs flagged that are duplicates (J >= threshold), and duplicates flagged."""
    tp = sum(1 for j, f in zip(jaccards, flagged) if f and j >= threshold)
    fp = sum(1 for j, f in zip(jaccards, flagged) if f and j < threshold)
    fn = sum(1 for j, f in zip(jaccards, flagged) if not f and j >= threshold)
    return (tp / (tp + fp) if tp + fp else 1.0), (tp / (tp + fn) if tp + fn else 1.0)


def stratified_pairs(per_band: int, seed: int) -> tuple[list[tuple[str, str, str]], list[float]]:
    """Pairs with at most ``per_band`` in each band at or above 0.5 (fewer below), and their Jaccard."""
    kept, jaccards = [], []
    room = [per_band // 3 if lo < 0.5 else per_band for lo, _ in BANDS]
    batch = 0
    while any(room) and batch < 200:
        for a, b, kind in similar_pairs(per_band, seed=seed * 1000 + batch):
            j = true_jaccard(a, b)
            k = band_index(j)
            if room[k]:
                room[k] -= 1
                kept.append((a, b, kind))
                jaccards.append(j)
        batch += 1
    return kept, jaccards


def flagged_by_webtune(pairs: list[tuple[str, str, str]], options: dict) -> list[bool]:
    """Whether each pair ends in one cluster of the dedup step (all pairs in one corpus)."""
    step = Dedup(DedupConfig(threshold=THRESHOLD, **options))
    texts = [t for a, b, _ in pairs for t in (a, b)]
    docs = [Document(id=f"d{i}", source=SourceRef(kind="bench", uri="x"), text=t) for i, t in enumerate(texts)]
    plan = step.decide([step.signature(d) for d in docs], {})
    keeper = [plan[i].keeper if i in plan else i for i in range(len(docs))]
    return [keeper[2 * k] == keeper[2 * k + 1] for k in range(len(pairs))]


def flagged_by_datatrove(pairs: list[tuple[str, str, str]], workers: int = 2,
                         tokenizer: object = None) -> list[bool]:
    """Whether datatrove's MinHash pipeline removes one document of each pair."""
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup import (MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter,
                                          MinhashDedupSignature)
    from datatrove.pipeline.dedup.minhash import MinhashConfig
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    from clean_speed import patch_xxhash, quiet_datatrove

    patch_xxhash()
    quiet_datatrove()
    root = Path(tempfile.mkdtemp(prefix="webtune-dedup-dt-"))
    try:
        (root / "in").mkdir()
        with open(root / "in" / "pairs.jsonl", "w", encoding="utf-8") as fh:
            for k, (a, b, _) in enumerate(pairs):
                fh.write(json.dumps({"id": f"{k}a", "text": a}) + "\n" + json.dumps({"id": f"{k}b", "text": b}) + "\n")
        mh = MinhashConfig()
        language = tokenizer if tokenizer is not None else "eng"
        stages = [
            ([JsonlReader(str(root / "in"), compression=None),
              MinhashDedupSignature(output_folder=str(root / "sigs"), config=mh, language=language)], 1),
            ([MinhashDedupBuckets(input_folder=str(root / "sigs"), output_folder=str(root / "buckets"), config=mh)],
             mh.num_buckets),
            ([MinhashDedupCluster(input_folder=str(root / "buckets"), output_folder=str(root / "remove"), config=mh)], 1),
            ([JsonlReader(str(root / "in"), compression=None), MinhashDedupFilter(input_folder=str(root / "remove")),
              JsonlWriter(str(root / "out"), compression=None)], 1),
        ]
        for n, (pipeline, tasks) in enumerate(stages):
            LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=min(workers, tasks), start_method="fork",
                                  logging_dir=str(root / f"logs{n}"), skip_completed=False).run()
        kept = set()
        for path in (root / "out").glob("*.jsonl"):
            kept.update(json.loads(line)["id"] for line in open(path, encoding="utf-8"))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return [f"{k}a" not in kept or f"{k}b" not in kept for k in range(len(pairs))]


def family_table(n_families: int, seed: int, languages: list[str]) -> Table:
    """The earlier table: families of light edits per language and edit rate, scored on
    family membership and on exact Jaccard within a family (one cluster = one decision)."""
    from itertools import combinations

    from webtune.clean.synthetic import near_duplicate_families

    config = DedupConfig()
    table = Table(title=f"near-dedup of edit families, threshold {config.threshold}, default dedup")
    for col in ("lang", "edit rate", "docs", "P (families)", "R (families)", "P (Jaccard)", "R (Jaccard)"):
        table.add_column(col, justify="right")
    for lang in languages:
        shingle_lang = None if lang == "en" else lang
        n = config.char_ngram if shingle_lang else 5
        for rate in (0.005, 0.01, 0.02, 0.03):
            data = near_duplicate_families(n_families=n_families, edit_rate=rate, seed=seed, language=lang)
            texts, family = [t for t, _ in data], [f for _, f in data]
            step = Dedup(config)
            docs = [Document(id=f"d{i}", source=SourceRef(kind="bench", uri="x"), text=t) for i, t in enumerate(texts)]
            plan = step.decide([step.signature(d) for d in docs], {})
            pred = [plan[i].keeper if i in plan else i for i in range(len(docs))]
            sets = [shingle_set(t, n, shingle_lang) for t in texts]
            pairs = list(combinations(range(len(texts)), 2))
            same = [pred[i] == pred[j] for i, j in pairs]
            fam = [family[i] == family[j] for i, j in pairs]
            jac = [len(sets[i] & sets[j]) / len(sets[i] | sets[j]) if fam[k] else 0.0
                   for k, (i, j) in enumerate(pairs)]
            pf, rf = precision_recall([1.0 if f else 0.0 for f in fam], same)
            pj, rj = precision_recall(jac, same)
            table.add_row(lang, f"{rate:.3f}", str(len(texts)), f"{pf:.3f}", f"{rf:.3f}", f"{pj:.3f}", f"{rj:.3f}")
    return table


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-band", type=int, default=120)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--site", help="a folder appended to the import path (spacy, orjson for datatrove)")
    parser.add_argument("--families", type=int, default=0,
                        help="also print the edit-family table with this many families per row")
    parser.add_argument("--languages", default="en,zh,ja", help="languages of the family table")
    args = parser.parse_args()
    if args.site:
        sys.path.append(args.site)
    console = Console(width=140)
    if args.families:
        console.print(family_table(args.families, args.seed, args.languages.split(",")))
    pairs, jaccards = stratified_pairs(args.per_band, args.seed)
    systems: dict[str, Callable[[], list[bool]]] = {
        name: (lambda options=options: flagged_by_webtune(pairs, options)) for name, options in WEBTUNE_CONFIGS}
    systems["datatrove"] = lambda: flagged_by_datatrove(pairs, args.workers, _datatrove_tokenizer(console))
    results: dict[str, tuple[list[bool], float]] = {}
    for name, run in systems.items():
        start = time.perf_counter()
        try:
            results[name] = (run(), time.perf_counter() - start)
        except ImportError as exc:
            console.print(f"[yellow]{name}: not available ({exc})[/yellow]")
    hard = sum(1 for _, _, kind in pairs if kind.startswith("hard"))
    table = Table(title=f"near-dedup per true Jaccard band (word 5-grams, exact), threshold {THRESHOLD}: "
                        f"{len(pairs)} pairs, {hard} hard negatives")
    table.add_column("band")
    table.add_column("pairs", justify="right")
    table.add_column("hard neg.", justify="right")
    for name in results:
        table.add_column(name, justify="right")
    rates = {name: banded_rates(jaccards, flagged) for name, (flagged, _) in results.items()}
    hard_per_band = [0] * len(BANDS)
    for (_, _, kind), j in zip(pairs, jaccards):
        hard_per_band[band_index(j)] += kind.startswith("hard")
    for k, (lo, hi) in enumerate(BANDS):
        what = "recall" if lo >= THRESHOLD else "false pos."
        n = rates[next(iter(rates))][k][0] if rates else 0
        table.add_row(f"[{lo:.2f}, {hi:.2f}{']' if k == len(BANDS) - 1 else ')'} {what}", str(n),
                      str(hard_per_band[k]), *(_fmt(rates[name][k][1]) for name in results))
    for label, index in (("precision", 0), ("recall", 1)):
        table.add_row(label, "", "", *(f"{precision_recall(jaccards, f)[index]:.3f}" for f, _ in results.values()))
    table.add_row("seconds", "", "", *(f"{s:.1f}" for _, s in results.values()))
    console.print(table)
    console.print("flagged: the pair ends in one cluster (webtune) / one of the two is removed (datatrove). "
                  "Goal: recall >= 0.95 in [0.80, 0.85) with precision >= 0.95.")


def _datatrove_tokenizer(console: Console):
    """datatrove's default English tokenizer (spaCy) when installed, else the regex one of
    bench/clean_speed.py (the same words for these texts)."""
    try:
        import spacy  # noqa: F401

        return None
    except ImportError:
        from clean_speed import regex_tokenizer

        console.print("[yellow]spaCy missing: datatrove shingles with the regex word tokenizer[/yellow]")
        return regex_tokenizer()


if __name__ == "__main__":
    main()
