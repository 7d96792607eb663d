"""trafilatura's extraction with the same output in less time: its pruning XPaths run as Python.

Why this is hand-written: on pages of tens of KB, nearly half of the time of
``trafilatura.bare_extraction`` (46% on `webtune.clean.synthetic.realistic_pages`, favour
precision) goes to nine XPath rules that prune boilerplate (`trafilatura.xpaths`). Most of them
call EXSLT ``re:test``, and lxml evaluates that by calling back into Python for every element it
tests, building a Python string for the attribute each time; libxml2 also allocates node-sets
for every predicate of every element. The same predicate written as a loop over lxml's
``iterdescendants`` with the same compiled regular expressions is about five times faster; the
whole extraction takes 0.56x the CPU on those pages, 0.64-0.67x on real pages (trafilatura's
evaluation set, the Scrapinghub benchmark) in precision mode, 0.85-0.95x in others. The jusText fallback also hashes trafilatura's 154,000
stop words on every page that reaches it (`StopWords` hashes them once). trafilatura has no
hook to replace a rule, and no library does this, hence this module.

How: `bare_extraction` runs ``trafilatura.bare_extraction`` while the rules below stand in the
lists of `trafilatura.xpaths` that trafilatura's functions read at call time (`fast_rules`);
the original XPath objects go back when it returns, so other callers of trafilatura in the
process (datatrove, in a benchmark) run trafilatura as it ships.

Same output: each rule returns the same elements, in document order, as the XPath it stands
for. It uses the regular expressions read out of that XPath's own text, compiled as lxml
compiles them (``re.UNICODE``, plus ``re.IGNORECASE`` for the ``'i'`` flag); it takes the string
value of ``@id|@class`` as XPath does (the attribute that comes first in the source) and a
missing attribute as the empty string; ``.//*`` means the descendants of the node, not the node.
A rule replaces an XPath only if the XPath's text hashes to the value the rule was written
against, and only under trafilatura `VERIFIED_VERSION`; with another version, extraction is
plain ``trafilatura.bare_extraction``. tests/clean/test_fast_trafilatura.py checks every rule
against its XPath on fuzzed trees and the whole extraction against plain trafilatura on varied
pages.
"""

from __future__ import annotations

import hashlib
import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator

VERIFIED_VERSION = "2.3.1"

# re:test(@id|@class, 'pattern') or re:test(@class, 'pattern', 'i') inside an XPath's text
_RE_TEST = re.compile(r"re:test\((@[\w-]+(?:\|@[\w-]+)*), '([^']*)'(?:, '([^']*)')?\)")
# the element kinds trafilatura's discard rules look at (after its tag conversion: item, list)
_BLOCKS = ("div", "item", "list", "p", "section", "span")


class _Test:
    """One ``re:test`` of an XPath: True where the regular expression is found in the value
    (a missing attribute is the empty string, as in XPath)."""

    __slots__ = ("search", "on_empty")

    def __init__(self, pattern: str, flags: str):
        compiled = re.compile(pattern, re.UNICODE | (re.IGNORECASE if "i" in flags else 0))
        self.search = compiled.search
        self.on_empty = compiled.search("") is not None

    def __call__(self, value: str | None) -> bool:
        return self.on_empty if not value else self.search(value) is not None


def _first(el: Any, a: str, va: str | None, b: str, vb: str | None) -> str | None:
    """XPath's string value of ``@a|@b`` (their values ``va``, ``vb``): the one of the two that
    comes first in the source; None when neither is there."""
    if va is None:
        return vb
    if vb is None:
        return va
    for key in el.keys():
        if key == a:
            return va
        if key == b:
            return vb
    return va  # pragma: no cover - both were found above


def _has(value: str | None, part: str) -> bool:
    """XPath ``contains(@x, part)``: False for a missing attribute (and a non-empty part)."""
    return value is not None and part in value


# Each rule: (root, its re:tests in the order they appear in the XPath's text) -> elements.

def _raw_tree_prune_0(root: Any, t: list[_Test]) -> list[Any]:
    # .//*[self::div or self::section or self::aside][re:test(@id, A) or re:test(@class, A)]
    #     [not(.//h1) or re:test(@id, B) or re:test(@class, B)]
    out = []
    for el in root.iterdescendants("div", "section", "aside"):
        i, c = el.get("id"), el.get("class")
        if (t[0](i) or t[1](c)) and (next(el.iterdescendants("h1"), None) is None or t[2](i) or t[3](c)):
            out.append(el)
    return out


def _raw_tree_prune_1(root: Any, t: list[_Test]) -> list[Any]:
    # .//*[self::div or self::section or self::aside][contains(@class, 'elementor-share-buttons')]
    return [el for el in root.iterdescendants("div", "section", "aside")
            if _has(el.get("class"), "elementor-share-buttons")]


def _remove_comments_and_lists(root: Any, t: list[_Test]) -> list[Any]:
    # .//*[self::div or self::list or self::section or self::details or self::ol or self::ul]
    #     [re:test(@id, A) or re:test(@class, B)][not(self::ol or self::ul) or re:test(@id, C) or re:test(@class, B)]
    out = []
    for el in root.iterdescendants("div", "list", "section", "details", "ol", "ul"):
        i, c = el.get("id"), el.get("class")
        if (t[0](i) or t[1](c)) and (el.tag not in ("ol", "ul") or t[2](i) or t[3](c)):
            out.append(el)
    return out


def _remove_comments(root: Any, t: list[_Test]) -> list[Any]:
    # .//*[self::div or self::list or self::section or self::details][re:test(@id, A) or re:test(@class, B)]
    return [el for el in root.iterdescendants("div", "list", "section", "details")
            if t[0](el.get("id")) or t[1](el.get("class"))]


def _overall_discard_0(root: Any, t: list[_Test]) -> list[Any]:
    # .//*[self::div or self::item or self::list or self::p or self::section or self::span][
    #     @data-lp-replacement-content or contains(translate(@role, 'N', 'n'), 'nav') or
    #     contains(@data-component, 'MostPopularStories') or re:test(@id|@class, 'cookie') or
    #     re:test(@id, IDS) or re:test(@class, CLASSES)]
    out = []
    for el in root.iterdescendants(*_BLOCKS):
        get = el.get
        i, c, role = get("id"), get("class"), get("role")
        if (get("data-lp-replacement-content") is not None
                or (role is not None and "nav" in role.replace("N", "n"))
                or _has(get("data-component"), "MostPopularStories")
                or t[0](_first(el, "id", i, "class", c)) or t[1](i) or t[2](c)):
            out.append(el)
    return out


def _overall_discard_1(root: Any, t: list[_Test]) -> list[Any]:
    # .//*[@class='comments-title' or starts-with(@id|@class, 'reply-') or re:test(@id|@style, 'hidden') or
    #     contains(@style, 'display:none') or contains(@style, 'display: none') or re:test(@id, IDS) or
    #     re:test(@class, CLASSES) or @aria-hidden='true']
    from lxml.etree import Element

    # without id, class and style, only @aria-hidden (or a pattern matching "") can match
    bare_match = any(test.on_empty for test in t)
    out = []
    for el in root.iterdescendants(Element):
        get = el.get
        i, c, style = get("id"), get("class"), get("style")
        if i is None and c is None and style is None:
            if bare_match or get("aria-hidden") == "true":
                out.append(el)
            continue
        first = _first(el, "id", i, "class", c)
        if (c == "comments-title" or (first is not None and first.startswith("reply-"))
                or t[0](_first(el, "id", i, "style", style))
                or (style is not None and ("display:none" in style or "display: none" in style))
                or t[1](i) or t[2](c) or get("aria-hidden") == "true"):
            out.append(el)
    return out


def _teaser_discard(root: Any, t: list[_Test]) -> list[Any]:
    # .//*[blocks][contains(translate(@id, 'T', 't'), 'teaser') or contains(translate(@class, 'T', 't'), 'teaser')]
    out = []
    for el in root.iterdescendants(*_BLOCKS):
        i, c = el.get("id"), el.get("class")
        if (i is not None and "teaser" in i.replace("T", "t")) or (c is not None and "teaser" in c.replace("T", "t")):
            out.append(el)
    return out


def _precision_discard_1(root: Any, t: list[_Test]) -> list[Any]:
    # .//*[blocks][re:test(@id|@class, BOTTOM) or re:test(@id|@class, LINK) or contains(@style, 'border')]
    out = []
    for el in root.iterdescendants(*_BLOCKS):
        first = _first(el, "id", el.get("id"), "class", el.get("class"))
        if t[0](first) or t[1](first) or _has(el.get("style"), "border"):
            out.append(el)
    return out


def _discard_image(root: Any, t: list[_Test]) -> list[Any]:
    # .//*[blocks][contains(@id, 'caption') or contains(@class, 'caption')]
    return [el for el in root.iterdescendants(*_BLOCKS)
            if _has(el.get("id"), "caption") or _has(el.get("class"), "caption")]


# (list in trafilatura.xpaths, index): (SHA-256 prefix of the XPath's text it was written against, rule)
RULES: dict[tuple[str, int], tuple[str, Callable[[Any, list[_Test]], list[Any]]]] = {
    ("RAW_TREE_PRUNE_XPATH", 0): ("01e7c660fd6406f2", _raw_tree_prune_0),
    ("RAW_TREE_PRUNE_XPATH", 1): ("3c7afe92279543d5", _raw_tree_prune_1),
    ("REMOVE_COMMENTS_AND_LISTS_XPATH", 0): ("9cc18d34e6e2d258", _remove_comments_and_lists),
    ("REMOVE_COMMENTS_XPATH", 0): ("5d97216ca15d0558", _remove_comments),
    ("OVERALL_DISCARD_XPATH", 0): ("a837e58a1b1ea116", _overall_discard_0),
    ("OVERALL_DISCARD_XPATH", 1): ("c1d5b70b8cd03783", _overall_discard_1),
    ("TEASER_DISCARD_XPATH", 0): ("ebb02f066626551d", _teaser_discard),
    ("PRECISION_DISCARD_XPATH", 1): ("53d31ea1df47920a", _precision_discard_1),
    ("DISCARD_IMAGE_ELEMENTS", 0): ("cb1ab981e44913f7", _discard_image),
}


def path_hash(path: str) -> str:
    """The short SHA-256 of an XPath's text that `RULES` pins."""
    return hashlib.sha256(path.encode("utf-8")).hexdigest()[:16]


@dataclass
class FastRule:
    """A stand-in for one trafilatura XPath: called like it, returns the same elements."""

    xpath: Any
    rule: Callable[[Any, list[_Test]], list[Any]]
    tests: list[_Test]

    @property
    def path(self) -> str:
        return self.xpath.path

    def __call__(self, tree: Any, **variables: Any) -> list[Any]:
        from lxml.etree import _Element

        if variables or not isinstance(tree, _Element):  # an ElementTree or XPath variables: the XPath itself
            return self.xpath(tree, **variables)
        return self.rule(tree, self.tests)


_SWAPS: list[tuple[list, int, Any, FastRule]] | None = None
_LOCK = threading.Lock()
_ACTIVE = 0


def swaps() -> list[tuple[list, int, Any, FastRule]]:
    """(trafilatura's list, index, its XPath, the rule) for every rule verified against the
    installed trafilatura; empty under another trafilatura version."""
    global _SWAPS
    if _SWAPS is None:
        import trafilatura
        from trafilatura import xpaths

        found = []
        if trafilatura.__version__ == VERIFIED_VERSION:
            for (name, index), (digest, rule) in RULES.items():
                rules = getattr(xpaths, name, None)
                if not isinstance(rules, list) or index >= len(rules) or isinstance(rules[index], FastRule):
                    continue
                xpath = rules[index]
                if path_hash(getattr(xpath, "path", "")) != digest:
                    continue  # the rule changed upstream: keep trafilatura's own
                tests = [_Test(pattern, flags) for _, pattern, flags in _RE_TEST.findall(xpath.path)]
                if len(tests) != xpath.path.count("re:test("):  # pragma: no cover - pinned by the hash
                    continue
                found.append((rules, index, xpath, FastRule(xpath, rule, tests)))
        _SWAPS = found
    return _SWAPS


class StopWords(tuple):
    """trafilatura's jusText stop words (all languages, 154,000 words) with their hash computed
    once. jusText caches the set it builds from the stop words (``define_stoplist``, an
    ``lru_cache``) under the tuple itself, so a plain tuple is hashed word by word on every
    page that reaches jusText: 3 ms, half of jusText's time on such a page. Same words, same
    hash, same set."""

    def __new__(cls, words: tuple[str, ...]) -> "StopWords":
        obj = super().__new__(cls, words)
        obj._hash = tuple.__hash__(obj)
        return obj

    def __hash__(self) -> int:
        return self._hash


_STOP_WORDS: dict[str, Any] = {}  # "words": the StopWords; "saved": trafilatura's while swapped


def stop_words() -> StopWords:
    """trafilatura's jusText stop words as `StopWords` (loaded on the first call)."""
    from trafilatura import external

    if "words" not in _STOP_WORDS:
        _STOP_WORDS["words"] = StopWords(external.JT_STOPLIST or external.jt_stoplist_init())
    return _STOP_WORDS["words"]


@contextmanager
def fast_rules() -> Iterator[None]:
    """trafilatura runs with the Python rules (and hashed-once stop words) while inside; its
    own XPaths and stop words are back after."""
    global _ACTIVE
    from trafilatura import external

    with _LOCK:
        if _ACTIVE == 0:
            for rules, index, _, fast in swaps():
                rules[index] = fast
            if swaps():  # a verified trafilatura: its stop words are where 2.3.1 keeps them
                _STOP_WORDS["saved"] = external.JT_STOPLIST
                external.JT_STOPLIST = stop_words()
        _ACTIVE += 1
    try:
        yield
    finally:
        with _LOCK:
            _ACTIVE -= 1
            if _ACTIVE == 0:
                for rules, index, xpath, _ in swaps():
                    rules[index] = xpath
                if "saved" in _STOP_WORDS:
                    external.JT_STOPLIST = _STOP_WORDS.pop("saved")


def bare_extraction(html: Any, **options: Any) -> Any:
    """``trafilatura.bare_extraction(html, **options)``, the same result, with the fast rules
    where they are verified for the installed trafilatura (see the module docstring)."""
    import trafilatura

    if not swaps():
        return trafilatura.bare_extraction(html, **options)
    with fast_rules():
        return trafilatura.bare_extraction(html, **options)
