"""Structured records from web pages: schema.org JSON-LD, microdata, RDFa and OpenGraph.

The embedded data is read with extruct (microdata, RDFa, OpenGraph as extruct gives them;
JSON-LD script by script, so one broken block does not hide the others) and mapped to the
field names of a Bright Data products snapshot: title, brand, description, features,
final_price, initial_price, currency, rating, reviews_count, sku, gtin, asin, images,
image_url, categories, url. A pipeline template written for snapshots then runs unchanged
on crawled pages.

The mapping is hand-written: extruct only parses, and no well-kept library maps schema.org
to a flat product record (the ``@graph`` nesting, arrays where one value is expected,
``Offer`` vs ``AggregateOffer``, ``PropertyValue`` lists and the many spellings of a price
are what it deals with).
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable

PAGE_TYPES = ("product", "article", "listing", "forum", "other")
ARTICLE_TYPES = {"article", "newsarticle", "blogposting", "report", "scholarlyarticle", "techarticle",
                 "reviewnewsarticle", "analysisnewsarticle", "liveblogposting"}
LISTING_TYPES = {"itemlist", "collectionpage", "offercatalog", "searchresultspage", "productcollection"}
FORUM_TYPES = {"discussionforumposting", "qapage", "question", "socialmediaposting", "comment"}
PRODUCT_TYPES = {"product", "productgroup", "individualproduct", "productmodel", "vehicle", "book"}
_GTIN_KEYS = ("gtin", "gtin13", "gtin12", "gtin14", "gtin8", "isbn")
_PRICE = re.compile(r"-?\d[\d.,\s]*")
_CURRENCY_SIGNS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}


# ------------------------------------------------------------------ reading the page


class Embedded:
    """What a page carries: schema.org items, OpenGraph properties, feature bullets, broken blocks."""

    def __init__(self, items: list[dict[str, Any]], og: dict[str, Any], bullets: list[str], broken: int):
        self.items, self.og, self.bullets, self.broken = items, og, bullets, broken


def read_page(html: str, url: str | None, syntaxes: Iterable[str]) -> Embedded:
    """Parse the page once and read its embedded data (see `Embedded`)."""
    import extruct
    from extruct.utils import parse_html

    syntaxes = list(syntaxes)
    try:
        tree = parse_html(html.encode("utf-8", errors="replace"), encoding="utf-8")
    except Exception:  # noqa: BLE001 - lxml refuses empty or odd documents
        return Embedded([], {}, [], 0)
    items: list[dict[str, Any]] = []
    broken = 0
    if "json-ld" in syntaxes:
        blocks, broken = jsonld_blocks(tree)
        items.extend(blocks)
    others = [s for s in ("microdata", "opengraph") if s in syntaxes]
    found: dict[str, Any] = {}
    if others:
        found = extruct.extract(tree, base_url=url, syntaxes=others, errors="ignore", uniform=True,
                                with_og_array=True)
    # RDFa (pyRdfa) is the slow one and needs the page as text: only where RDFa typing appears.
    if "rdfa" in syntaxes and re.search(r"\stypeof=|\svocab=", html):
        found["rdfa"] = extruct.extract(html, base_url=url, syntaxes=["rdfa"], errors="ignore",
                                        uniform=True).get("rdfa", [])
    items.extend(found.get("microdata", []))
    items.extend(compact_rdfa(found.get("rdfa", [])))
    og: dict[str, Any] = {}
    for block in found.get("opengraph", []):
        og.update({k: v for k, v in block.items() if not k.startswith("@")})
        if block.get("@type"):  # extruct's uniform form moves og:type there
            og.setdefault("og:type", block["@type"])
    return Embedded(list(flatten(items)), og, feature_bullets(tree), broken)


def feature_bullets(tree: Any) -> list[str]:
    """The items of the first list inside an element whose id or class names features
    (``#feature-bullets``, ``.product-features``): where shops put the bullets that
    schema.org has no property for."""
    lists = tree.xpath('//*[contains(translate(@id,"FEATURS","featurs"),"feature") or '
                       'contains(translate(@class,"FEATURS","featurs"),"feature")]/descendant-or-self::ul[1]')
    for ul in lists:
        bullets = [" ".join(li.text_content().split()) for li in ul.xpath("./li")]
        bullets = [b for b in bullets if b]
        if bullets:
            return bullets
    return []


def compact_rdfa(nodes: list[Any]) -> list[dict[str, Any]]:
    """extruct's RDFa (expanded JSON-LD: IRIs as keys, ``[{"@value": ...}]`` values, blank-node
    references) in the compact shape JSON-LD pages use, typed nodes only."""
    ids = {n["@id"]: n for n in nodes if isinstance(n, dict) and "@id" in n and len(n) > 1}

    def short(key: str) -> str:
        return key if key.startswith("@") else re.split(r"[/#]", key.rstrip("/#"))[-1]

    def compact(value: Any, depth: int) -> Any:
        if isinstance(value, list):
            return [compact(v, depth) for v in value]
        if not isinstance(value, dict):
            return value
        if "@value" in value:
            return value["@value"]
        if set(value) == {"@id"}:
            # Blank nodes are the nested items; a named IRI (a url, an image) stays a string.
            target = ids.get(value["@id"]) if str(value["@id"]).startswith("_:") else None
            return compact(target, depth + 1) if target is not None and depth < 4 else value["@id"]
        return {short(k): ([short(t) for t in as_list(v)] if k == "@type" else compact(v, depth))
                for k, v in value.items()}

    return [compact(n, 0) for n in nodes if isinstance(n, dict) and n.get("@type")]


def jsonld_blocks(tree: Any) -> tuple[list[Any], int]:
    """The JSON-LD items of every ``<script type="application/ld+json">``; broken blocks counted."""
    items: list[Any] = []
    broken = 0
    for script in tree.xpath('//script[translate(@type,"APLICTONDJS+","aplictondjs+")="application/ld+json"]'):
        data = parse_jsonld(script.xpath("string()"))
        if data is None:
            broken += 1
            continue
        items.extend(data if isinstance(data, list) else [data])
    return items, broken


def parse_jsonld(script: str) -> Any:
    """One JSON-LD block, tolerating what pages get wrong (comments, trailing commas, raw
    newlines in strings, a CDATA wrapper); None when it is not JSON at all."""
    import jstyleson

    text = script.strip()
    text = re.sub(r"^\s*(<!--|/\*<!\[CDATA\[\*/|//<!\[CDATA\[)", "", text)
    text = re.sub(r"(-->|/\*\]\]>\*/|//\]\]>)\s*$", "", text).strip()
    for attempt in (lambda t: json.loads(t, strict=False), lambda t: jstyleson.loads(t, strict=False)):
        try:
            return attempt(text)
        except Exception:  # noqa: BLE001 - json and jstyleson raise several kinds
            continue
    return None


def flatten(items: Iterable[Any]) -> Iterable[dict[str, Any]]:
    """Every typed item, with ``@graph`` containers opened and nested main entities reached."""
    for item in items:
        if isinstance(item, list):
            yield from flatten(item)
            continue
        if not isinstance(item, dict):
            continue
        if "@graph" in item:
            yield from flatten(as_list(item["@graph"]))
        if item.get("@type"):
            yield item
        for key in ("mainEntity", "mainEntityOfPage", "itemListElement"):
            nested = item.get(key)
            if isinstance(nested, (dict, list)):
                yield from flatten(n.get("item", n) if isinstance(n, dict) else n for n in as_list(nested))


# ------------------------------------------------------------------ mapping


def types_of(item: dict[str, Any]) -> set[str]:
    """The lower-case schema.org type names of an item (``https://schema.org/Product`` -> product)."""
    return {str(t).rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1].lower() for t in as_list(item.get("@type"))}


def page_type(items: list[dict[str, Any]], og: dict[str, Any]) -> str:
    """product, article, listing, forum or other, from the embedded types (and og:type)."""
    types = [types_of(i) for i in items]
    products = sum(1 for t in types if t & PRODUCT_TYPES)
    if any(t & LISTING_TYPES for t in types) or products > 1:
        return "listing"
    if products == 1:
        return "product"
    if any(t & FORUM_TYPES for t in types):
        return "forum"
    if any(t & ARTICLE_TYPES for t in types):
        return "article"
    og_type = str(first(og.get("og:type")) or "").lower()
    if og_type in ("product", "og:product", "product.item"):
        return "product"
    if og_type == "article":
        return "article"
    return "other"


def product_record(page: Embedded, url: str | None) -> dict[str, Any]:
    """The page's product as a snapshot-shaped record (empty fields left out)."""
    items, og = page.items, page.og
    product = next((i for i in items if types_of(i) & PRODUCT_TYPES), None)
    record: dict[str, Any] = {}
    if product is not None:
        ids = {i["@id"]: i for i in items if isinstance(i.get("@id"), str) and len(i) > 1}
        product = {k: resolve_refs(v, ids) for k, v in product.items()}
        record.update(from_product(product))
        breadcrumb = next((i for i in items if "breadcrumblist" in types_of(i)), None)
        if breadcrumb is not None and not record.get("categories"):
            record["categories"] = breadcrumb_names(breadcrumb)
    fill_from_opengraph(record, og)
    if not record.get("features") and page.bullets:
        record["features"] = page.bullets
    if url and "url" not in record:
        record["url"] = url
    return {k: v for k, v in record.items() if v not in (None, "", [], {})}


def resolve_refs(value: Any, ids: dict[str, dict[str, Any]]) -> Any:
    """``{"@id": "#brand"}`` replaced by the item of that id elsewhere on the page (one level)."""
    if isinstance(value, list):
        return [resolve_refs(v, ids) for v in value]
    if isinstance(value, dict) and set(value) == {"@id"} and value["@id"] in ids:
        return ids[value["@id"]]
    return value


def from_product(product: dict[str, Any]) -> dict[str, Any]:
    """Snapshot fields of one schema.org Product."""
    offer = best_offer(product.get("offers"))
    rating = first(product.get("aggregateRating"))
    rating = rating if isinstance(rating, dict) else {}
    images = [u for u in (image_url(i) for i in as_list(product.get("image"))) if u]
    record = {
        "title": text_of(product.get("name")),
        "brand": name_of(product.get("brand")) or name_of(product.get("manufacturer")),
        "description": text_of(product.get("description")),
        "features": features_of(product),
        "final_price": number(offer.get("price") or offer.get("lowPrice")),
        "initial_price": number(offer.get("highPrice")) if offer.get("@type") == "AggregateOffer" else None,
        "currency": text_of(offer.get("priceCurrency")) or currency_sign(offer.get("price")),
        "availability": availability(offer.get("availability")),
        "rating": number(rating.get("ratingValue")),
        "reviews_count": integer(rating.get("reviewCount") or rating.get("ratingCount")),
        "sku": text_of(product.get("sku")),
        "gtin": next((text_of(product[k]) for k in _GTIN_KEYS if product.get(k)), None),
        "asin": text_of(product.get("asin")),
        "images": images,
        "image_url": images[0] if images else None,
        "categories": categories_of(product.get("category")),
        "url": text_of(product.get("url")) or text_of(offer.get("url")),
    }
    if record["initial_price"] is None:
        record["initial_price"] = record["final_price"]
    return record


def fill_from_opengraph(record: dict[str, Any], og: dict[str, Any]) -> None:
    """OpenGraph (and product:* tags) for what schema.org left empty."""
    pairs = {"title": "og:title", "description": "og:description", "url": "og:url",
             "final_price": "product:price:amount", "currency": "product:price:currency",
             "brand": "product:brand"}
    for field, key in pairs.items():
        value = first(og.get(key))
        if value and not record.get(field):
            record[field] = number(value) if field == "final_price" else str(value).strip()
    images = [str(i) for i in as_list(og.get("og:image")) if i]
    if images and not record.get("images"):
        record["images"] = images
        record["image_url"] = images[0]


def features_of(product: dict[str, Any]) -> list[str]:
    """Feature bullets: ``additionalProperty`` name/value pairs, else a list-valued ``features``
    / ``keywords`` the site put there."""
    features = []
    for prop in as_list(product.get("additionalProperty")):
        if isinstance(prop, dict) and prop.get("value") not in (None, ""):
            name, value = text_of(prop.get("name")), text_of(prop.get("value"))
            features.append(f"{name}: {value}" if name else value)
        elif isinstance(prop, str) and prop.strip():
            features.append(prop.strip())
    if not features:
        for key in ("features", "feature", "featureList"):
            values = product.get(key)
            if values:
                features = [text_of(v) for v in as_list(values) if text_of(v)]
                break
    return features


def best_offer(offers: Any) -> dict[str, Any]:
    """The first offer with a price (offers may be one dict, a list or an AggregateOffer)."""
    candidates = [o for o in as_list(offers) if isinstance(o, dict)]
    for offer in candidates:
        if offer.get("price") not in (None, "") or offer.get("lowPrice") not in (None, ""):
            return offer
        nested = [o for o in as_list(offer.get("offers")) if isinstance(o, dict)]
        if nested:
            return best_offer(nested)
        spec = first(offer.get("priceSpecification"))
        if isinstance(spec, dict) and spec.get("price") not in (None, ""):
            return {**offer, **spec}
    return candidates[0] if candidates else {}


def breadcrumb_names(breadcrumb: dict[str, Any]) -> list[str]:
    elements = sorted((e for e in as_list(breadcrumb.get("itemListElement")) if isinstance(e, dict)),
                      key=lambda e: integer(e.get("position")) or 0)
    return [n for n in (name_of(e.get("item")) or text_of(e.get("name")) for e in elements) if n]


def categories_of(value: Any) -> list[str]:
    names = [name_of(v) for v in as_list(value)]
    out = [n for n in names if n]
    if len(out) == 1 and ">" in out[0]:
        out = [part.strip() for part in out[0].split(">") if part.strip()]
    return out


# ------------------------------------------------------------------ value helpers


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def first(value: Any) -> Any:
    values = as_list(value)
    return values[0] if values else None


def text_of(value: Any) -> str | None:
    """A plain string from a value that may be a list, a ``{"@value": ...}`` or a number."""
    value = first(value)
    if isinstance(value, dict):
        value = value.get("@value") or value.get("name")
    if value is None or isinstance(value, (dict, list)):
        return None
    text = " ".join(str(value).split())
    return text or None


def name_of(value: Any) -> str | None:
    """The name of a Brand / Organization / Thing, or the string itself."""
    value = first(value)
    if isinstance(value, dict):
        return text_of(value.get("name")) or text_of(value.get("@id"))
    return text_of(value)


def image_url(value: Any) -> str | None:
    if isinstance(value, dict):
        return text_of(value.get("url") or value.get("contentUrl") or value.get("@id"))
    return text_of(value)


def number(value: Any) -> float | None:
    """A price or rating as a number: ``"1,299.00"``, ``"$12.99"``, ``"12,99 €"`` and ``12`` all work."""
    value = first(value)
    if isinstance(value, dict):
        value = value.get("@value")
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    match = _PRICE.search(str(value))
    if not match:
        return None
    digits = match.group(0).replace(" ", "").strip(".,")
    if "," in digits and "." in digits:
        digits = digits.replace(",", "") if digits.rfind(".") > digits.rfind(",") else digits.replace(".", "").replace(",", ".")
    elif "," in digits:
        whole, _, frac = digits.rpartition(",")
        digits = f"{whole.replace(',', '')}.{frac}" if len(frac) != 3 else digits.replace(",", "")
    try:
        return float(digits)
    except ValueError:
        return None


def integer(value: Any) -> int | None:
    n = number(value)
    return int(n) if n is not None else None


def currency_sign(value: Any) -> str | None:
    text = str(first(value) or "")
    return next((code for sign, code in _CURRENCY_SIGNS.items() if sign in text), None)


def availability(value: Any) -> str | None:
    text = text_of(value)
    if not text:
        return None
    name = text.rstrip("/").rsplit("/", 1)[-1]
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name)
