"""The structured step: product pages in every site style become snapshot-shaped records."""

from __future__ import annotations

import pytest

from tests.clean.helpers import apply, doc
from webtune.clean.product_pages import STYLE_FIELDS, STYLES, recovered, render, sample_records
from webtune.clean.structured import number

RECORDS = sample_records(3, seed=5)


@pytest.mark.parametrize("style", STYLES)
def test_each_site_style_gives_back_the_fields_it_carries(style):
    for record in RECORDS:
        d = doc(html=render(record, style), uri=record["url"])
        drop, stats = apply({"step": "structured"}, d)
        assert drop is None and d.meta["page_type"] == "product" and stats["page_product"] == 1
        ok = recovered(record, d.fields)
        assert [f for f in STYLE_FIELDS[style] if not ok[f]] == [], style
        assert d.html  # the page stays for html_to_text
    if style == "broken":
        assert stats["broken_json_ld"] == 1


def test_fields_have_the_snapshot_names_and_types():
    record = RECORDS[0]
    d = doc(html=render(record, "graph"), uri=record["url"])
    apply({"step": "structured"}, d)
    assert isinstance(d.fields["final_price"], float) and isinstance(d.fields["reviews_count"], int)
    assert d.fields["image_url"] == record["images"][0] and d.fields["categories"] == ["Office"]
    assert d.fields["features"] == record["features"]  # list of strings, as the demo's template loops over


def test_page_types_and_filters():
    article = ('<html><head><script type="application/ld+json">{"@type": "NewsArticle", "headline": "x"}</script>'
               "</head><body><p>News.</p></body></html>")
    listing = "<html><body>" + "".join(
        f'<div itemscope itemtype="https://schema.org/Product"><span itemprop="name">P{i}</span></div>'
        for i in range(3)) + "</body></html>"
    forum = ('<html><head><script type="application/ld+json">{"@type": "DiscussionForumPosting"}</script></head>'
             "<body>Hi</body></html>")
    og_article = '<html><head><meta property="og:type" content="article"></head><body>x</body></html>'
    kinds = {}
    for name, html in {"article": article, "listing": listing, "forum": forum, "og": og_article,
                       "plain": "<html><body><p>Nothing here</p></body></html>"}.items():
        d = doc(html=html)
        apply({"step": "structured"}, d)
        kinds[name] = d.meta["page_type"]
    assert kinds == {"article": "article", "listing": "listing", "forum": "forum", "og": "article", "plain": "other"}
    drop, _ = apply({"step": "structured", "keep_types": ["product"]}, doc(html=article))
    assert drop.reason == "page_type" and drop.value == "article"
    half = dict(RECORDS[0])
    d = doc(html=render(half, "broken"))
    drop, _ = apply({"step": "structured", "require": ["title", "rating"]}, d)
    assert drop.reason == "missing_fields" and drop.value == ["rating"]


def test_prices_in_the_spellings_shops_use():
    assert number("1,299.00") == 1299.0 and number("$12.99") == 12.99 and number("12,99 €") == 12.99
    assert number("1.299,50") == 1299.5 and number(12) == 12.0 and number("1,299") == 1299.0
    assert number("call us") is None and number(True) is None and number([{"@value": "3.5"}]) == 3.5
