"""Shingles, MinHash signatures (datasketch) and similarity estimates for near-dedup."""

from __future__ import annotations

import hashlib
import re
import zlib
from functools import lru_cache
from typing import TYPE_CHECKING

from webtune import text_units

if TYPE_CHECKING:  # numpy comes with the clean extra; imported where used
    import numpy as np

_NON_WORD = re.compile(r"[^\w]+")


def normalize_for_hash(text: str) -> str:
    """Lowercase words separated by single spaces: punctuation and spacing do not matter."""
    return _NON_WORD.sub(" ", text.lower()).strip()


def exact_key(text: str) -> str:
    """Hash of the normalised text: equal keys mean the same words in the same order."""
    return hashlib.blake2b(normalize_for_hash(text).encode("utf-8"), digest_size=16).hexdigest()


def shingle_units(text: str, lang: str | None = None) -> list[str]:
    """The units shingles are made of: words, or characters for Chinese, Japanese and other
    unspaced scripts (`webtune.text_units`; character n-grams need no segmenter and survive
    a segmenter cutting an edited phrase differently)."""
    normalized = normalize_for_hash(text)
    if lang in text_units.UNSPACED:
        return text_units.char_shingle_units(normalized)
    return normalized.split()


def shingle_hashes(text: str, n: int, lang: str | None = None) -> np.ndarray:
    """32-bit hashes of the distinct unit n-grams of the normalised text (see `shingle_units`).

    Units are hashed once (CRC-32, stable across processes) and combined into n-gram
    hashes with numpy, instead of hashing every n-gram string in Python. A text shorter
    than n words is one shingle.
    """
    import numpy as np

    words = shingle_units(text, lang)
    if not words:
        return np.zeros(0, dtype=np.uint64)
    codes = np.fromiter((zlib.crc32(w.encode("utf-8")) for w in words), dtype=np.uint64, count=len(words))
    n = min(n, len(codes))
    count = len(codes) - n + 1
    hashes = np.zeros(count, dtype=np.uint64)
    for k in range(n):
        hashes = ((hashes * np.uint64(1000003)) ^ codes[k:k + count]) & np.uint64(0xFFFFFFFF)
    return np.unique(hashes)


@lru_cache(maxsize=4)
def _template(num_perm: int, seed: int):
    from datasketch import MinHash

    return MinHash(num_perm=num_perm, seed=seed)


def _identity(value):
    return value


def signature(hashes: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    """The MinHash (datasketch) of a set of shingle hashes, as uint32 values."""
    import numpy as np
    from datasketch import MinHash

    template = _template(num_perm, seed)
    mh = MinHash(num_perm=num_perm, seed=seed, hashfunc=_identity, permutations=template.permutations,
                 scheme=template.scheme)
    mh.update_batch(hashes.tolist())
    return mh.hashvalues.astype(np.uint32)


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of two signatures: the share of equal hash values."""
    import numpy as np

    return float(np.count_nonzero(a == b)) / len(a)


def intersection_size(a: np.ndarray, b: np.ndarray) -> int:
    """How many values two sorted arrays of distinct values share."""
    import numpy as np

    return int(np.intersect1d(a, b, assume_unique=True).size)


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
