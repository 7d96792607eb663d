#!/usr/bin/env python3
"""Near-dedup quality at the default threshold: precision and recall on generated families.

Pairs are scored two ways:
* families: two documents are duplicates when they come from the same original (the
  generator's ground truth);
* exact Jaccard: two documents are duplicates when the exact Jaccard similarity of their
  shingle sets (word 5-grams; character 5-grams for Chinese and Japanese) is at least the
  threshold (what MinHash LSH approximates).

Chinese and Japanese families are edited at the same rates per word as the English ones
(`webtune.clean.synthetic.near_duplicate_families(language=...)`).

    .venv/bin/python bench/clean_dedup.py
"""

from __future__ import annotations

import argparse
import time
from itertools import combinations

from rich.console import Console
from rich.table import Table

from webtune.clean.minhash import shingle_units
from webtune.clean.steps.dedup import Dedup, DedupConfig
from webtune.clean.synthetic import near_duplicate_families
from webtune.records import Document, SourceRef


def cluster(texts: list[str], config: DedupConfig) -> list[int]:
    """The kept document index of each text's cluster, by the dedup step itself."""
    step = Dedup(config)
    docs = [Document(id=f"d{i}", source=SourceRef(kind="bench", uri="x"), text=t) for i, t in enumerate(texts)]
    plan = step.decide([step.signature(d) for d in docs], {})
    return [plan[i].keeper if i in plan else i for i in range(len(docs))]


def scores(pred: list[int], same) -> tuple[float, float]:
    tp = fp = fn = 0
    for i, j in combinations(range(len(pred)), 2):
        p, t = pred[i] == pred[j], same(i, j)
        tp += p and t
        fp += p and not t
        fn += t and not p
    return (tp / (tp + fp) if tp + fp else 1.0), (tp / (tp + fn) if tp + fn else 1.0)


def shingle_set(text: str, n: int = 5, lang: str | None = None) -> set[str]:
    words = shingle_units(text, lang)
    return {" ".join(words[i:i + n]) for i in range(max(1, len(words) - n + 1))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--languages", default="en,zh,ja", help="comma-separated: en, zh, ja")
    args = parser.parse_args()
    config = DedupConfig()
    table = Table(title=f"near-dedup, threshold {config.threshold}, word {config.resolved()[1]}-grams "
                        f"(zh/ja: character {config.char_ngram}-grams), {config.num_perm} permutations")
    for col in ("lang", "edit rate", "docs", "true pairs", "P (families)", "R (families)", "P (Jaccard)",
                "R (Jaccard)", "s"):
        table.add_column(col, justify="right")
    for lang, rate in [(lang, rate) for lang in args.languages.split(",") for rate in (0.005, 0.01, 0.02, 0.03)]:
        shingle_lang = None if lang == "en" else lang
        ngram = config.char_ngram if shingle_lang else config.resolved()[1]
        data = near_duplicate_families(n_families=args.families, edit_rate=rate, seed=args.seed, language=lang)
        texts, family = [t for t, _ in data], [f for _, f in data]
        start = time.perf_counter()
        pred = cluster(texts, config)
        elapsed = time.perf_counter() - start
        sets = [shingle_set(t, ngram, shingle_lang) for t in texts]

        def jaccard_dup(i, j):
            if family[i] != family[j]:  # different originals share only the boilerplate sentence
                return False
            return len(sets[i] & sets[j]) / len(sets[i] | sets[j]) >= config.threshold

        pf, rf = scores(pred, lambda i, j: family[i] == family[j])
        pj, rj = scores(pred, jaccard_dup)
        true_pairs = sum(1 for i, j in combinations(range(len(texts)), 2) if family[i] == family[j])
        table.add_row(lang, f"{rate:.3f}", str(len(texts)), str(true_pairs), f"{pf:.3f}", f"{rf:.3f}", f"{pj:.3f}",
                      f"{rj:.3f}", f"{elapsed:.2f}")
    console = Console(width=120)
    console.print(table)
    console.print("P/R (Jaccard): against pairs whose exact shingle Jaccard is >= the threshold; "
                    "a cluster joins pairs transitively, so P (Jaccard) counts those links as errors.")


if __name__ == "__main__":
    main()
