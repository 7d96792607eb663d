"""Shingles, MinHash signatures (datasketch) and similarity estimates for near-dedup."""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

import numpy as np

_NON_WORD = re.compile(r"[^\w]+")


def normalize_for_hash(text: str) -> str:
    """Lowercase words separated by single spaces: punctuation and spacing do not matter."""
    return _NON_WORD.sub(" ", text.lower()).strip()


def exact_key(text: str) -> str:
    """Hash of the normalised text: equal keys mean the same words in the same order."""
    return hashlib.blake2b(normalize_for_hash(text).encode("utf-8"), digest_size=16).hexdigest()


def shingles(text: str, n: int) -> set[bytes]:
    """Word n-grams of the normalised text (the whole text when it has fewer than n words)."""
    words = normalize_for_hash(text).split()
    if not words:
        return set()
    if len(words) <= n:
        return {" ".join(words).encode("utf-8")}
    return {" ".join(words[i:i + n]).encode("utf-8") for i in range(len(words) - n + 1)}


@lru_cache(maxsize=4)
def _template(num_perm: int, seed: int):
    from datasketch import MinHash

    return MinHash(num_perm=num_perm, seed=seed)


def signature(items: set[bytes], num_perm: int, seed: int) -> np.ndarray:
    """The MinHash hash values of a shingle set, as uint32 (datasketch's hashes are 32-bit)."""
    from datasketch import MinHash

    template = _template(num_perm, seed)
    mh = MinHash(num_perm=num_perm, seed=seed, permutations=template.permutations, scheme=template.scheme)
    mh.update_batch(list(items))
    return mh.hashvalues.astype(np.uint32)


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of two signatures: the share of equal hash values."""
    return float(np.count_nonzero(a == b)) / len(a)


def containment(a: np.ndarray, b: np.ndarray, size_a: int, size_b: int) -> float:
    """Estimated overlap of the smaller set with the larger (|A ∩ B| / min(|A|, |B|)).

    From the Jaccard estimate J: |A ∩ B| = J (|A| + |B|) / (1 + J).
    """
    j = jaccard(a, b)
    inter = j * (size_a + size_b) / (1 + j)
    return min(1.0, inter / max(1, min(size_a, size_b)))


def lean(values: np.ndarray, seed: int):
    """A datasketch LeanMinHash from stored hash values (for MinHashLSH)."""
    from datasketch import LeanMinHash

    return LeanMinHash(seed=seed, hashvalues=values, scheme=_template(len(values), seed).scheme)
