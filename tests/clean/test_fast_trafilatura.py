"""webtune.clean.fast_trafilatura: each Python rule returns what its XPath returns, and the whole
extraction gives exactly plain trafilatura's output."""

from __future__ import annotations

import importlib
import random
import re

import pytest
import trafilatura
from lxml import html as lxml_html
from trafilatura import xpaths
from lxml.etree import XPath

from tests.clean.extraction_pages import PAGES
from tests.clean.test_extract_normalize import MARKUP, PAGE
from webtune.clean import fast_trafilatura as ft
from webtune.clean.synthetic import html_pages, realistic_pages

pytestmark = pytest.mark.skipif(trafilatura.__version__ != ft.VERIFIED_VERSION,
                                reason="the rules are verified for one trafilatura version only")

ATTRIBUTES = ["id", "class", "style", "role", "aria-hidden", "data-component", "data-lp-replacement-content", "title"]
TAGS = ["div", "section", "aside", "span", "p", "ul", "ol", "li", "details", "article", "main", "header", "h1",
        "a", "item", "list", "table", "td", "figure"]
EXTRA_TOKENS = ["reply-", "hidden", "display:none", "display: none", "border", "bottom", "link", "Teaser", "caption",
                "cookie", "Navigation", "NAV", "commentary", "Comments", "comment-list", "hide-", " ad ", "ad-", "true",
                "elementor-share-buttons", "infinite-scroll", "mvp-post-add-box", "comments-title", "MostPopularStories"]


def _tokens() -> list[str]:
    """Words of the replaced XPaths (their regex tokens and literals) plus near misses."""
    words = set(EXTRA_TOKENS)
    for _, _, xpath, _ in ft.swaps():
        words.update(re.findall(r"[A-Za-z][\w:-]{1,}", xpath.path))
    return sorted(words)


def _value(rng: random.Random, tokens: list[str]) -> str:
    parts = []
    for _ in range(rng.randint(0, 3) or rng.randint(0, 1)):  # mostly non-empty
        token = rng.choice(tokens)
        parts.append(rng.choice([token, token.upper(), token.capitalize(), token[1:], token + "x"]))
    return rng.choice([" ", "-", "_", "", "\xa0", "\t", "\n"]).join(parts)


def _random_tree(rng: random.Random, tokens: list[str]):
    root = lxml_html.fromstring("<html><body></body></html>")
    nodes = [root.find("body")]
    for _ in range(rng.randint(5, 60)):
        attrs = {name: _value(rng, tokens) for name in rng.sample(ATTRIBUTES, rng.randint(0, 4))}
        el = nodes[-1].makeelement(rng.choice(TAGS), attrs)
        el.text = rng.choice(["", "text ", "more words here "])
        rng.choice(nodes).append(el)
        nodes.append(el)
    return root, nodes


def test_every_rule_returns_what_its_xpath_returns_on_fuzzed_trees():
    swaps = ft.swaps()
    assert len(swaps) == len(ft.RULES)  # all verified for this trafilatura
    tokens = _tokens()
    rng = random.Random(7)
    matched = {id(fast): 0 for _, _, _, fast in swaps}
    for _ in range(300):
        root, nodes = _random_tree(rng, tokens)
        for context in [root, *rng.sample(nodes, min(8, len(nodes)))]:  # the node itself is not a match
            for _, _, xpath, fast in swaps:
                expected = xpath(context)
                assert fast(context) == expected, (xpath.path, lxml_html.tostring(context)[:300])
                matched[id(fast)] += len(expected)
    assert all(matched.values())  # every rule found something to prune, so the comparison means something


def test_rules_agree_on_pages_after_tag_conversion():
    """trafilatura runs the discard rules on converted trees too (item, list, head tags)."""
    from trafilatura.htmlprocessing import convert_tags, tree_cleaning
    from trafilatura.settings import Extractor
    from trafilatura.utils import load_html

    options = Extractor(precision=True, comments=False)
    for html in list(PAGES.values()) + realistic_pages(6, seed=3):
        tree = load_html(html)
        if tree is None:
            continue
        converted = convert_tags(tree_cleaning(load_html(html), options), options)
        for _, _, xpath, fast in ft.swaps():
            assert fast(tree) == xpath(tree)
            assert fast(converted) == xpath(converted)


PRECISION = {"fast": False, "favor_precision": True, "include_comments": False}  # webtune's html_to_text call
CONFIGS = [
    PRECISION,
    {"fast": False, "include_comments": False},
    {"fast": False, "favor_recall": True, "include_comments": True, "include_formatting": True, "include_links": True,
     "include_images": True},
    {"fast": False, "favor_precision": True, "include_comments": False, "include_tables": False,
     "with_metadata": True},
    {"fast": False, "include_comments": False, "output_format": "markdown"},
]


def _both(html: str, config: dict) -> tuple[str | None, str | None]:
    plain = trafilatura.extract(html, **config)
    with ft.fast_rules():
        fast = trafilatura.extract(html, **config)
    return plain, fast


@pytest.fixture
def cascade_paths(monkeypatch):
    """Which of trafilatura's fallbacks ran (to show the pages reach all of them)."""
    core = importlib.import_module("trafilatura.core")
    external = importlib.import_module("trafilatura.external")
    seen: set[str] = set()

    def spy(module, name, label, when=lambda result: True):
        original = getattr(module, name)

        def wrapper(*args, **kwargs):
            result = original(*args, **kwargs)
            if when(result):
                seen.add(label)
            return result
        monkeypatch.setattr(module, name, wrapper)

    spy(external, "_prefer_readability", "readability chosen", lambda chosen: chosen)
    spy(external, "justext_rescue", "justext rescue")
    spy(core, "baseline", "baseline rescue")
    spy(core, "_recall_retry", "recall escalation")
    spy(core, "_forum_thread_page", "forum thread", lambda forum: forum)
    return seen


def test_extraction_is_identical_on_hand_made_pages_in_every_mode(cascade_paths):
    pages = {**PAGES, "test_page": PAGE, "test_markup": MARKUP}
    for name, html in pages.items():
        for config in CONFIGS:
            plain, fast = _both(html, config)
            assert fast == plain, (name, config)
    assert cascade_paths == {"readability chosen", "justext rescue", "baseline rescue", "recall escalation",
                             "forum thread"}


def test_extraction_is_identical_on_generated_pages():
    pages = [p for seed in (0, 1, 2) for p in realistic_pages(8, seed=seed)] + html_pages(20, seed=4)
    for i, html in enumerate(pages):
        for config in CONFIGS[:2]:
            plain, fast = _both(html, config)
            assert fast == plain, (i, config)


def test_html_to_text_gives_the_same_text_with_and_without_the_fast_path(monkeypatch):
    from webtune.clean.extract import extract_main

    pages = list(PAGES.values()) + realistic_pages(5, seed=5)
    fast = [extract_main(p, favor="precision") for p in pages]
    monkeypatch.setattr(ft, "_SWAPS", [])  # as under another trafilatura version: plain bare_extraction
    plain = [extract_main(p, favor="precision") for p in pages]
    assert fast == plain


def test_trafilatura_keeps_its_own_xpaths_outside_the_call():
    ft.bare_extraction(PAGE, **PRECISION)
    for name, index in ft.RULES:
        assert isinstance(getattr(xpaths, name)[index], XPath)
    assert not isinstance(importlib.import_module("trafilatura.external").JT_STOPLIST, ft.StopWords)
    with ft.fast_rules():
        with ft.fast_rules():  # nested: restored only when the outer one ends
            pass
        assert isinstance(xpaths.OVERALL_DISCARD_XPATH[1], ft.FastRule)
    assert isinstance(xpaths.OVERALL_DISCARD_XPATH[1], XPath)


def test_another_trafilatura_version_runs_plain_trafilatura(monkeypatch):
    monkeypatch.setattr(ft, "_SWAPS", None)
    monkeypatch.setattr(trafilatura, "__version__", "9.9.9")
    assert ft.swaps() == []
    from trafilatura import external

    before = external.JT_STOPLIST
    with ft.fast_rules():  # changes nothing in an unverified trafilatura
        assert external.JT_STOPLIST is before and isinstance(xpaths.OVERALL_DISCARD_XPATH[1], XPath)
    result = ft.bare_extraction(PAGE, **PRECISION)
    assert result.text == trafilatura.bare_extraction(PAGE, **PRECISION).text


def test_a_changed_rule_upstream_keeps_trafilaturas_own(monkeypatch):
    original = xpaths.TEASER_DISCARD_XPATH[0]
    changed = XPath(original.path.replace("teaser", "teaserbox"))
    monkeypatch.setattr(ft, "_SWAPS", None)
    xpaths.TEASER_DISCARD_XPATH[0] = changed
    try:
        kept = {(id(rules), index) for rules, index, _, _ in ft.swaps()}
        assert (id(xpaths.TEASER_DISCARD_XPATH), 0) not in kept
        assert len(kept) == len(ft.RULES) - 1
        with ft.fast_rules():
            assert xpaths.TEASER_DISCARD_XPATH[0] is changed
    finally:
        xpaths.TEASER_DISCARD_XPATH[0] = original


def test_html_to_text_loads_trafilatura_before_workers_fork(monkeypatch):
    from trafilatura import external

    from tests.clean.helpers import step

    monkeypatch.setattr(ft, "_SWAPS", None)
    monkeypatch.setattr(ft, "_STOP_WORDS", {})
    monkeypatch.setattr(external, "JT_STOPLIST", None)
    step({"step": "html_to_text"}).prepare()
    # forked workers inherit them instead of building their own
    assert ft._SWAPS and external.JT_STOPLIST and ft._STOP_WORDS["words"] == external.JT_STOPLIST


def test_stop_words_hash_once_and_only_inside_the_call():
    from trafilatura import external

    words = ft.stop_words()
    assert words == tuple(words) and hash(words) == hash(tuple(words))  # the same key for jusText's cache
    before = external.JT_STOPLIST
    with ft.fast_rules():
        assert external.JT_STOPLIST is words
    assert external.JT_STOPLIST is before
