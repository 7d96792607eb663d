"""Product pages with known values, in the styles shops write them (for tests, benchmarks, examples).

`render(record, style)` turns a snapshot-shaped product record (title, brand, description,
features, final_price, currency, rating, reviews_count, sku, gtin, images, url) into an HTML
page that carries it the way one kind of site does:

* ``jsonld``: one JSON-LD ``Product`` with an ``Offer``, ``AggregateRating`` and ``additionalProperty``;
* ``graph``: a JSON-LD ``@graph`` (WebSite, WebPage, BreadcrumbList, Product, Organization brand);
* ``arrays``: a top-level JSON-LD array, values wrapped in lists, ``AggregateOffer``, ImageObjects;
* ``sloppy``: JSON-LD in an HTML comment with a trailing comma and a raw newline, bullets in the page;
* ``broken``: a cut JSON-LD block; OpenGraph / ``product:`` tags and page bullets are what is left;
* ``microdata``: schema.org microdata only;
* ``rdfa``: schema.org RDFa Lite only.

`sample_records` makes seeded records; `STYLE_FIELDS` says which fields each style can carry.
"""

from __future__ import annotations

import html as htmllib
import json
import random
from typing import Any

STYLES = ("jsonld", "graph", "arrays", "sloppy", "broken", "microdata", "rdfa")
FIELDS = ("title", "brand", "description", "features", "final_price", "currency", "rating", "reviews_count",
          "sku", "gtin", "images", "url")
# What a style's page carries at all (the broken style lost its JSON-LD).
STYLE_FIELDS = {style: FIELDS for style in STYLES}
STYLE_FIELDS["broken"] = ("title", "brand", "description", "features", "final_price", "currency", "images", "url")

_BRANDS = ["Inkwell & Co.", "Scribera", "Penrose", "Paperleaf", "Deskline", "Clipworth", "Stacksmart"]
_THINGS = [("Gel Pens", "gel pens"), ("Spiral Notebook", "notebook"), ("Stapler", "stapler"),
           ("Desk Organizer", "desk organizer"), ("Sticky Notes", "sticky notes"), ("Binder Clips", "binder clips")]
_FEATURES = ["Smooth, skip-free writing", "Acid-free paper that will not yellow", "Soft-touch grip for comfort",
             "Refillable and reusable", "Compact design fits any desk", "Heavy-duty steel construction",
             "Bright, fade-resistant colours", "Value pack for home and office"]
_NAV = '<nav><a href="/">Home</a> | <a href="/c/office">Office</a> | <a href="/cart">Cart</a></nav>'
_FOOT = "<footer>© 2026 Example Shop. Free shipping over $35. <a href='/help'>Help</a></footer>"


def sample_records(n: int, seed: int = 0, base_url: str = "https://shop.example") -> list[dict[str, Any]]:
    """``n`` seeded product records with every field of `FIELDS`."""
    rng = random.Random(seed)
    records = []
    for i in range(n):
        brand = rng.choice(_BRANDS)
        thing, noun = rng.choice(_THINGS)
        features = rng.sample(_FEATURES, 3)
        records.append({
            "title": f"{brand} {thing}, Pack of {rng.choice([2, 6, 12])} (Model {100 + i})",
            "brand": brand,
            "description": f"These {noun} from {brand} offer {features[0].lower()} and {features[1].lower()}. "
                           f"{features[2]}, made for everyday use at work or school.",
            "features": features,
            "final_price": round(rng.uniform(3, 80), 2),
            "currency": rng.choice(["USD", "EUR"]),
            "rating": round(rng.uniform(2.5, 5.0), 1),
            "reviews_count": rng.randint(1, 5000),
            "sku": f"SKU-{i:05d}",
            "gtin": f"{rng.randrange(10**12, 10**13)}",
            "images": [f"{base_url}/img/{i}-{k}.jpg" for k in range(rng.randint(1, 3))],
            "url": f"{base_url}/p/{i}",
        })
    return records


def render(record: dict[str, Any], style: str) -> str:
    """The HTML page of ``record`` in ``style`` (one of `STYLES`)."""
    body, head = _BODIES[style](record)
    title = htmllib.escape(record["title"])
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title} | Example Shop</title>"
            f"{head}</head><body>{_NAV}<main>{body}</main>{_FOOT}</body></html>")


def _visible(record: dict[str, Any], bullets: bool = True) -> str:
    """The human-visible part of a product page (no markup of any syntax)."""
    e = htmllib.escape
    items = "".join(f"<li>{e(f)}</li>" for f in record["features"])
    price = f"<p class='price'>{record['final_price']:.2f} {record['currency']}</p>"
    return (f"<h1>{e(record['title'])}</h1>{price}"
            + (f"<div id='feature-bullets'><ul>{items}</ul></div>" if bullets else "")
            + f"<div class='desc'><p>{e(record['description'])}</p></div>")


def _product_jsonld(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "@type": "Product", "name": record["title"], "description": record["description"],
        "brand": {"@type": "Brand", "name": record["brand"]}, "sku": record["sku"], "gtin13": record["gtin"],
        "image": record["images"], "url": record["url"],
        "additionalProperty": [{"@type": "PropertyValue", "value": f} for f in record["features"]],
        "offers": {"@type": "Offer", "price": f"{record['final_price']:.2f}", "priceCurrency": record["currency"],
                   "availability": "https://schema.org/InStock"},
        "aggregateRating": {"@type": "AggregateRating", "ratingValue": str(record["rating"]),
                            "reviewCount": record["reviews_count"]},
        **({"category": " > ".join(record["categories"])} if record.get("categories") else {}),
    }


def _script(data: Any, raw: str | None = None) -> str:
    text = raw if raw is not None else json.dumps(data, ensure_ascii=False)
    text = text.replace("</", "<\\/")
    return f'<script type="application/ld+json">{text}</script>'


def _jsonld(record):
    return _visible(record, bullets=False), _script({"@context": "https://schema.org", **_product_jsonld(record)})


def _graph(record):
    product = _product_jsonld(record)
    product["@id"] = record["url"] + "#product"
    product["brand"] = {"@id": "#brand"}
    brand = {"@type": "Organization", "@id": "#brand", "name": record["brand"]}
    graph = {"@context": "https://schema.org", "@graph": [
        {"@type": "WebSite", "name": "Example Shop", "url": "https://shop.example/"},
        {"@type": "WebPage", "@id": record["url"], "name": record["title"], "mainEntity": {"@id": product["@id"]}},
        {"@type": "BreadcrumbList", "itemListElement": [
            {"@type": "ListItem", "position": 1, "item": {"@id": "/c/office", "name": "Office"}}]},
        product, brand]}
    return _visible(record, bullets=False), _script(graph)


def _arrays(record):
    product = _product_jsonld(record)
    product.update({
        "@type": ["Product"], "name": [record["title"]], "brand": [record["brand"]],
        "image": [{"@type": "ImageObject", "url": u} for u in record["images"]],
        "offers": [{"@type": "AggregateOffer", "lowPrice": record["final_price"], "highPrice": record["final_price"],
                    "priceCurrency": record["currency"], "offerCount": 2}],
        "aggregateRating": [{"@type": "AggregateRating", "ratingValue": record["rating"],
                             "ratingCount": str(record["reviews_count"])}],
    })
    return _visible(record, bullets=False), _script([{"@context": "https://schema.org", **product},
                                                     {"@context": "https://schema.org", "@type": "Organization",
                                                      "name": "Example Shop"}])


def _sloppy(record):
    product = _product_jsonld(record)
    del product["additionalProperty"]
    text = json.dumps({"@context": "https://schema.org", **product}, ensure_ascii=False, indent=1)
    text = text.replace('"description": ', '"description":\n ', 1)
    text = text[:-1].rstrip() + ",\n}"  # a trailing comma
    desc = json.dumps(record["description"], ensure_ascii=False)
    cut = desc.find(" ", len(desc) // 2)
    if cut > 0:
        text = text.replace(desc, desc[:cut] + "\n" + desc[cut + 1:])  # a raw newline inside a string
    return _visible(record), _script(None, raw=f"<!--\n{text}\n-->")


def _broken(record):
    text = json.dumps({"@context": "https://schema.org", **_product_jsonld(record)}, ensure_ascii=False)
    e = htmllib.escape
    og = (f'<meta property="og:type" content="product"><meta property="og:title" content="{e(record["title"])}">'
          f'<meta property="og:description" content="{e(record["description"])}">'
          f'<meta property="og:url" content="{e(record["url"])}">'
          + "".join(f'<meta property="og:image" content="{e(u)}">' for u in record["images"])
          + f'<meta property="product:brand" content="{e(record["brand"])}">'
          f'<meta property="product:price:amount" content="{record["final_price"]:.2f}">'
          f'<meta property="product:price:currency" content="{record["currency"]}">')
    return _visible(record), og + _script(None, raw=text[: len(text) // 2])


def _microdata(record):
    e = htmllib.escape
    feats = "".join(f'<li itemprop="additionalProperty" itemscope itemtype="https://schema.org/PropertyValue">'
                    f'<span itemprop="value">{e(f)}</span></li>' for f in record["features"])
    imgs = "".join(f'<img itemprop="image" src="{e(u)}" alt="">' for u in record["images"])
    body = (f'<div itemscope itemtype="https://schema.org/Product"><link itemprop="url" href="{e(record["url"])}">'
            f'<h1 itemprop="name">{e(record["title"])}</h1>{imgs}'
            f'<p>by <span itemprop="brand" itemscope itemtype="https://schema.org/Brand">'
            f'<span itemprop="name">{e(record["brand"])}</span></span></p>'
            f'<meta itemprop="sku" content="{record["sku"]}"><meta itemprop="gtin13" content="{record["gtin"]}">'
            f'<div itemprop="offers" itemscope itemtype="https://schema.org/Offer">'
            f'<span itemprop="price" content="{record["final_price"]:.2f}">{record["final_price"]:.2f}</span> '
            f'<meta itemprop="priceCurrency" content="{record["currency"]}">{record["currency"]}</div>'
            f'<div itemprop="aggregateRating" itemscope itemtype="https://schema.org/AggregateRating">'
            f'<span itemprop="ratingValue">{record["rating"]}</span> stars from '
            f'<span itemprop="reviewCount">{record["reviews_count"]}</span> reviews</div>'
            f'<ul>{feats}</ul><div itemprop="description"><p>{e(record["description"])}</p></div></div>')
    return body, ""


def _rdfa(record):
    e = htmllib.escape
    feats = "".join(f'<li property="additionalProperty" typeof="PropertyValue"><span property="value">{e(f)}</span></li>'
                    for f in record["features"])
    imgs = "".join(f'<img property="image" src="{e(u)}" alt="">' for u in record["images"])
    body = (f'<div vocab="https://schema.org/" typeof="Product" resource="{e(record["url"])}">'
            f'<h1 property="name">{e(record["title"])}</h1>{imgs}<link property="url" href="{e(record["url"])}">'
            f'<p>by <span property="brand" typeof="Brand"><span property="name">{e(record["brand"])}</span></span></p>'
            f'<meta property="sku" content="{record["sku"]}"><meta property="gtin13" content="{record["gtin"]}">'
            f'<div property="offers" typeof="Offer"><span property="price">{record["final_price"]:.2f}</span> '
            f'<span property="priceCurrency">{record["currency"]}</span></div>'
            f'<div property="aggregateRating" typeof="AggregateRating"><span property="ratingValue">'
            f'{record["rating"]}</span> from <span property="reviewCount">{record["reviews_count"]}</span></div>'
            f'<ul>{feats}</ul><p property="description">{e(record["description"])}</p></div>')
    return body, ""


_BODIES = {"jsonld": _jsonld, "graph": _graph, "arrays": _arrays, "sloppy": _sloppy, "broken": _broken,
           "microdata": _microdata, "rdfa": _rdfa}


def recovered(expected: dict[str, Any], got: dict[str, Any]) -> dict[str, bool]:
    """Per field of `FIELDS`: did ``got`` recover ``expected``'s value (numbers to the cent)?"""
    out = {}
    for field in FIELDS:
        want, have = expected.get(field), got.get(field)
        if isinstance(want, float) or isinstance(want, int) and field != "gtin":
            out[field] = isinstance(have, (int, float)) and abs(float(have) - float(want)) < 0.005
        elif field in ("features", "images") and isinstance(have, list):
            out[field] = sorted(have) == sorted(want)  # RDFa does not keep the order of repeated properties
        else:
            out[field] = have == want
    return out
