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


# Common Han characters (frequency-ordered head of the usual lists) and kana, to make
# Chinese- and Japanese-looking words without shipping a corpus.
_HAN = ("的一是不了人我在有他这中大来上个国到说们为子和你地出道也时年得就那要下以生会自着去之过家"
        "学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经"
        "头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向"
        "情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北"
        "少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数")
_KANA_PARTICLES = ["の", "に", "を", "は", "が", "で", "と", "も", "から", "まで"]
_KATAKANA = "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワン"
_ZH_STOP = ["的", "是", "在", "了", "和", "也", "有"]
_SHARED = {
    "en": "Subscribe to our newsletter for the latest news and offers from the whole team.",
    "zh": "欢迎订阅我们的新闻通讯，获取整个团队的最新消息和优惠信息。",
    "ja": "最新のニュースとお得な情報をお届けするニュースレターにぜひご登録ください。",
}


def _cjk_vocabulary(rng: random.Random, language: str, size: int = 3000) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        if language == "ja" and rng.random() < 0.3:
            words.add("".join(rng.choice(_KATAKANA) for _ in range(rng.randint(2, 5))))
        else:
            words.add("".join(rng.choice(_HAN) for _ in range(rng.randint(1, 3))))
    return sorted(words)


def _cjk_sentence(rng: random.Random, vocab: list[str], language: str) -> list[str]:
    n = rng.randint(8, 20)
    out = rng.choices(vocab, cum_weights=_zipf_weights(len(vocab)), k=n)
    for i in range(n):
        if rng.random() < 0.3:
            out[i] = rng.choice(_KANA_PARTICLES if language == "ja" else _ZH_STOP)
    return out + (["ます。"] if language == "ja" else ["。"])


def _edit_units(rng: random.Random, units: list[str], vocab: list[str], rate: float) -> list[str]:
    """Delete, replace or insert after ``rate`` of the units (as `_edit` does for English words)."""
    out = []
    for unit in units:
        roll = rng.random()
        if roll < rate / 3:
            continue
        if roll < 2 * rate / 3:
            out.append(rng.choice(vocab))
            continue
        out.append(unit)
        if roll < rate:
            out.append(rng.choice(vocab))
    return out


def _cjk_families(n_families: int, max_size: int, edit_rate: float, seed: int,
                  language: str) -> list[tuple[str, int]]:
    rng = random.Random(seed)
    vocab = _cjk_vocabulary(rng, language)
    docs: list[tuple[str, int]] = []
    for family in range(n_families):
        original = [w for _ in range(rng.randint(8, 16)) for w in _cjk_sentence(rng, vocab, language)]
        docs.append(("".join(original) + _SHARED[language], family))
        for _ in range(rng.randint(0, max_size - 1)):
            docs.append(("".join(_edit_units(rng, original, vocab, edit_rate)) + _SHARED[language], family))
    rng.shuffle(docs)
    return docs


def near_duplicate_families(n_families: int = 60, max_size: int = 4, edit_rate: float = 0.02,
                            seed: int = 0, language: str = "en") -> list[tuple[str, int]]:
    """``(text, family)`` pairs, shuffled. Members of a family are light edits of one
    original (``edit_rate`` of the words deleted, replaced or followed by an insertion);
    every document also shares a common boilerplate sentence, a hard negative for dedup.

    ``language`` "zh" or "ja": Chinese- / Japanese-looking text with no spaces, edited at
    the same rate per word (a word is 1-3 Han characters, or katakana, and particles)."""
    if language != "en":
        return _cjk_families(n_families, max_size, edit_rate, seed, language)
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
