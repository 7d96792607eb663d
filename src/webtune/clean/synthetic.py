"""Seeded synthetic corpora for the clean tests and benchmarks (no downloads).

* `near_duplicate_families`: documents in families of light edits of one original, with
  the family as ground truth for near-dedup precision and recall.
* `html_pages`: web pages with navigation, footers and a mix of good articles, junk
  (short, repetitive, lorem ipsum, link lists) and duplicates.
"""

from __future__ import annotations

import random

_SYLLABLES = ["ka", "lo", "mi", "ra", "te", "son", "vel", "dor", "pa", "ni", "qu", "est", "ar", "in",
              "ton", "se", "lu", "ber", "ca", "fi", "mo", "ren", "tu", "gal", "ho", "ve", "di", "an"]
_STOP = ["the", "of", "and", "to", "that", "with", "is", "in", "for", "a", "on", "as", "be", "have"]


def _vocabulary(rng: random.Random, size: int = 3000) -> list[str]:
    words = set()
    while len(words) < size:
        words.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


_CUM: dict[int, list[float]] = {}


def _zipf_weights(size: int) -> list[float]:
    if size not in _CUM:
        total, cum = 0.0, []
        for rank in range(size):
            total += 1.0 / (rank + 20)
            cum.append(total)
        _CUM[size] = cum
    return _CUM[size]


def _sentence(rng: random.Random, vocab: list[str]) -> str:
    n = rng.randint(8, 20)
    # Zipf-like: a few words are common, most are rare, and stop words are everywhere.
    out = rng.choices(vocab, cum_weights=_zipf_weights(len(vocab)), k=n)
    for i in range(n):
        if rng.random() < 0.3:
            out[i] = rng.choice(_STOP)
    out[0] = out[0].capitalize()
    return " ".join(out) + rng.choice([".", ".", ".", "!", "?"])


def paragraph(rng: random.Random, vocab: list[str], sentences: int) -> str:
    return " ".join(_sentence(rng, vocab) for _ in range(sentences))


def _edit(rng: random.Random, text: str, vocab: list[str], rate: float) -> str:
    words = text.split(" ")
    out = []
    for word in words:
        roll = rng.random()
        if roll < rate / 3:
            continue  # delete
        if roll < 2 * rate / 3:
            out.append(rng.choice(vocab))  # replace
            continue
        out.append(word)
        if roll < rate:
            out.append(rng.choice(vocab))  # insert
    return " ".join(out)


def near_duplicate_families(n_families: int = 60, max_size: int = 4, edit_rate: float = 0.02,
                            seed: int = 0) -> list[tuple[str, int]]:
    """``(text, family)`` pairs, shuffled. Members of a family are light edits of one
    original (``edit_rate`` of the words deleted, replaced or followed by an insertion);
    every document also shares a common boilerplate sentence, a hard negative for dedup."""
    rng = random.Random(seed)
    vocab = _vocabulary(rng)
    shared = "Subscribe to our newsletter for the latest news and offers from the whole team."
    docs: list[tuple[str, int]] = []
    for family in range(n_families):
        original = paragraph(rng, vocab, rng.randint(8, 16)) + " " + shared
        docs.append((original, family))
        for _ in range(rng.randint(0, max_size - 1)):
            docs.append((_edit(rng, original, vocab, edit_rate), family))
    rng.shuffle(docs)
    return docs


_NAV = "Home | News | Sports | Business | Contact"
_FOOTER = "Copyright 2024 Example Media. All rights reserved. Privacy policy | Terms of use"


def html_page(rng: random.Random, vocab: list[str], kind: str) -> str:
    """One page of ``kind``: article, short, repetitive, lorem, links."""
    title = paragraph(rng, vocab, 1)[:60]
    if kind == "article":
        body = "".join(f"<p>{paragraph(rng, vocab, rng.randint(3, 6))}</p>" for _ in range(rng.randint(3, 7)))
        body = f"<h2>{title}</h2>{body}"
    elif kind == "short":
        body = f"<p>{_sentence(rng, vocab)}</p>"
    elif kind == "repetitive":
        line = _sentence(rng, vocab)
        body = "".join(f"<p>{line}</p>" for _ in range(12))
    elif kind == "lorem":
        body = "<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit.</p>" + "".join(
            f"<p>{paragraph(rng, vocab, 4)}</p>" for _ in range(4))
    else:  # links
        body = "<ul>" + "".join(f"<li><a href='/p{i}'>{rng.choice(vocab)}</a></li>" for i in range(40)) + "</ul>"
    return (f"<html><head><title>{title}</title></head><body><nav>{_NAV}</nav>"
            f"<article>{body}</article><footer>{_FOOTER}</footer></body></html>")


def html_pages(n: int = 1000, seed: int = 0, duplicate_rate: float = 0.1) -> list[str]:
    """``n`` pages: mostly articles, some junk, and ``duplicate_rate`` near-copies of earlier pages."""
    rng = random.Random(seed)
    vocab = _vocabulary(rng)
    kinds = ["article"] * 14 + ["short", "repetitive", "lorem", "links"]
    pages: list[str] = []
    for _ in range(n):
        if pages and rng.random() < duplicate_rate:
            pages.append(_edit(rng, rng.choice(pages), vocab, 0.01))
        else:
            pages.append(html_page(rng, vocab, rng.choice(kinds)))
    return pages
