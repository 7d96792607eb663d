"""Seeded synthetic corpora for the clean tests and benchmarks (no downloads).

* `near_duplicate_families`: documents in families of light edits of one original, with
  the family as ground truth for near-dedup precision and recall.
* `similar_pairs`: pairs of documents spread over similarity, edited copies and hard
  negatives (distinct documents sharing a long quote or boilerplate), for banded
  near-dedup precision and recall.
* `html_pages`: web pages with navigation, footers and a mix of good articles, junk
  (short, repetitive, lorem ipsum, link lists) and duplicates.
"""

from __future__ import annotations

import random
from typing import Callable

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


def _pages(n: int, seed: int, duplicate_rate: float, kinds: list[str],
           page: Callable[[random.Random, list[str], str], str]) -> list[str]:
    """``n`` pages made by ``page`` of a kind drawn from ``kinds``, and ``duplicate_rate``
    near-copies of earlier pages."""
    rng = random.Random(seed)
    vocab = _vocabulary(rng)
    pages: list[str] = []
    for _ in range(n):
        if pages and rng.random() < duplicate_rate:
            pages.append(_edit(rng, rng.choice(pages), vocab, 0.01))
        else:
            pages.append(page(rng, vocab, rng.choice(kinds)))
    return pages


def html_pages(n: int = 1000, seed: int = 0, duplicate_rate: float = 0.1) -> list[str]:
    """``n`` pages: mostly articles, some junk, and ``duplicate_rate`` near-copies of earlier pages."""
    return _pages(n, seed, duplicate_rate, ["article"] * 14 + ["short", "repetitive", "lorem", "links"], html_page)


def _edited_pair(rng: random.Random, vocab: list[str]) -> tuple[str, str, str]:
    original = paragraph(rng, vocab, rng.randint(12, 30))
    # A target Jaccard J of word 5-grams needs about 1 - (2J / (1 + J)) ** (1/5) of the words edited.
    target = rng.uniform(0.45, 1.0)
    rate = 1 - (2 * target / (1 + target)) ** 0.2
    return original, _edit(rng, original, vocab, rate), "edited"


def _shared_pair(rng: random.Random, vocab: list[str]) -> tuple[str, str, str]:
    # Two different documents around one long quote / boilerplate block: J is about
    # shared / (shared + both unique parts), aimed just under and over 0.8.
    target = rng.uniform(0.6, 0.88)
    shared = paragraph(rng, vocab, rng.randint(12, 24))
    unique_words = len(shared.split()) * (1 - target) / (2 * target)

    def unique() -> str:
        words: list[str] = []
        while len(words) < unique_words:
            words += _sentence(rng, vocab).split()
        return " ".join(words[:max(1, int(unique_words))])

    kind = rng.choice(["quote", "boilerplate"])
    if kind == "quote":  # the quote sits inside each article
        a, b = unique().split(" "), unique().split(" ")
        cut_a, cut_b = rng.randint(0, len(a)), rng.randint(0, len(b))
        return (" ".join(a[:cut_a] + [shared] + a[cut_a:]), " ".join(b[:cut_b] + [shared] + b[cut_b:]),
                "hard negative: quote")
    return f"{unique()} {shared}", f"{unique()} {shared}", "hard negative: boilerplate"


def similar_pairs(n: int, seed: int = 0, hard_share: float = 0.35) -> list[tuple[str, str, str]]:
    """``n`` independent pairs ``(a, b, kind)``: edited copies at edit rates spread so their
    word 5-gram Jaccard covers 0.45-1.0, and (``hard_share`` of them) hard negatives, distinct
    documents sharing a long quote or boilerplate, aimed at Jaccard 0.6-0.88. Each pair has
    its own text, so pairs share nothing with each other (the benchmark measures Jaccard exactly)."""
    rng = random.Random(seed)
    vocab = _vocabulary(rng, size=20000)
    return [(_shared_pair if rng.random() < hard_share else _edited_pair)(rng, vocab) for _ in range(n)]


_CSS = "".join(f".c{i}{{margin:{i % 7}px;padding:{i % 5}px {i % 3}px;color:#{i * 2654435761 % 0xFFFFFF:06x}}}"
               for i in range(120))
_JS = ("window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments)}gtag('js',new Date());"
       + "".join(f"var m{i}=document.querySelector('#m{i}');if(m{i}){{m{i}.addEventListener('click',function(e)"
                 f"{{e.preventDefault();this.classList.toggle('open')}})}}" for i in range(40)))


def _links(rng: random.Random, vocab: list[str], n: int, prefix: str) -> str:
    return "".join(f"<li><a href='/{prefix}/{rng.choice(vocab)}-{i}'>{rng.choice(vocab).capitalize()} "
                   f"{rng.choice(vocab)}</a></li>" for i in range(n))


def _table(rng: random.Random, vocab: list[str]) -> str:
    cols = rng.randint(4, 6)
    head = "".join(f"<th>{rng.choice(vocab).capitalize()}</th>" for _ in range(cols))
    # a name, a figure, then words: a table of only figures fails Gopher's alphabetic ratio
    rows = "".join("<tr>" + "".join(f"<td>{round(rng.uniform(0, 999), 2) if c == 1 else rng.choice(vocab)}</td>"
                                    for c in range(cols)) + "</tr>" for _ in range(rng.randint(8, 20)))
    return f"<table class='data'><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def realistic_page(rng: random.Random, vocab: list[str], kind: str = "article") -> str:
    """A page of tens of KB as sites serve them: head with styles, scripts and JSON-LD, a
    navigation menu, breadcrumbs, a sidebar, the article (headings, paragraphs, a table, a
    list, a quote), a comment thread, a footer of link columns and a cookie banner.
    ``kind``: article, or junk (links: a link farm; short: one line of text)."""
    title = paragraph(rng, vocab, 1)[:70]
    meta = "".join(f"<meta name='m{i}' content='{rng.choice(vocab)} {rng.choice(vocab)}'>" for i in range(12))
    jsonld = ('<script type="application/ld+json">{"@context":"https://schema.org","@type":"Article",'
              f'"headline":"{title}","author":{{"@type":"Person","name":"{rng.choice(vocab)}"}}}}</script>')
    head = (f"<head><meta charset='utf-8'><title>{title}</title>{meta}<style>{_CSS}</style>"
            f"<script>{_JS}</script>{jsonld}</head>")
    nav = (f"<header><div class='logo'><a href='/'>{rng.choice(vocab).capitalize()}</a></div><nav><ul>"
           + "".join(f"<li class='menu'><a href='/s{i}'>{rng.choice(vocab).capitalize()}</a><ul>"
                     f"{_links(rng, vocab, 6, f's{i}')}</ul></li>" for i in range(8))
           + "</ul></nav><form action='/search'><input name='q' placeholder='Search'></form></header>")
    crumbs = "<ol class='breadcrumb'>" + _links(rng, vocab, 3, "c") + "</ol>"
    aside = ("<aside><h3>Related</h3><ul>" + _links(rng, vocab, 25, "r")
             + "</ul><div class='ad'>Advertisement</div><h3>Popular</h3><ul>" + _links(rng, vocab, 10, "p")
             + "</ul></aside>")
    if kind == "links":
        body = "<ul>" + _links(rng, vocab, 200, "l") + "</ul>"
    elif kind == "short":
        body = f"<p>{_sentence(rng, vocab)}</p>"
    else:
        sections = []
        for s in range(rng.randint(3, 6)):
            paras = "".join(f"<p>{paragraph(rng, vocab, rng.randint(3, 7))}</p>" for _ in range(rng.randint(2, 4)))
            extra = [_table(rng, vocab), "<ul>" + "".join(f"<li>{_sentence(rng, vocab)}</li>" for _ in range(5)) + "</ul>",
                     f"<blockquote><p>{paragraph(rng, vocab, 2)}</p></blockquote>",
                     f"<figure><img src='/i/{s}.jpg' alt='{rng.choice(vocab)}'><figcaption>"
                     f"{_sentence(rng, vocab)}</figcaption></figure>"][s % 4]
            sections.append(f"<h2>{paragraph(rng, vocab, 1)[:50]}</h2>{paras}{extra}")
        body = (f"<h1>{title}</h1><p class='byline'>By {rng.choice(vocab).capitalize()} · 3 May 2025</p>"
                + "".join(sections))
    comments = "".join(f"<li class='comment'><span class='author'>{rng.choice(vocab)}</span><time>2025-05-0{c % 9 + 1}"
                       f"</time><p>{paragraph(rng, vocab, rng.randint(1, 3))}</p><a href='#reply'>Reply</a></li>"
                       for c in range(rng.randint(3, 15)))
    footer = ("<footer>" + "".join(f"<div class='col'><h4>{rng.choice(vocab)}</h4><ul>{_links(rng, vocab, 8, f'f{c}')}"
                                   f"</ul></div>" for c in range(4))
              + f"<p>{_FOOTER}</p><div id='cookie'>We use cookies to improve your experience. <button>Accept</button>"
                "</div><script>(function(){var s=document.createElement('script');s.src='/t.js';"
                "document.body.appendChild(s)})();</script></footer>")
    return (f"<!DOCTYPE html><html lang='en'>{head}<body>{nav}{crumbs}<main><article>{body}</article>"
            f"<section class='comments'><h3>Comments</h3><ol>{comments}</ol></section></main>{aside}"
            f"{footer}</body></html>")


def realistic_pages(n: int = 500, seed: int = 0, duplicate_rate: float = 0.1) -> list[str]:
    """``n`` pages of `realistic_page` (about 30-60 KB): mostly articles, some junk, and
    ``duplicate_rate`` near-copies of earlier pages."""
    return _pages(n, seed, duplicate_rate, ["article"] * 16 + ["links", "short"], realistic_page)
