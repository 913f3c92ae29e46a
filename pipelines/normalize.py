"""NormalizePipeline: canonical URL, Decimal price, ISO currency, availability enum, product identity.

Offers (variants, sellers) come out as plain dicts, each in the product's vocabulary: ``price``,
``list_price`` and ``high_price`` sane positive Decimals (a list or high price only above the price),
``currency`` ISO 4217, ``availability`` one of AVAILABILITY, ``url`` canonical like the product's,
``sku``/``name`` trimmed, ``offer_count`` a count, and exactly one ``selected`` (the offer the product
reports). At most MAX_OFFERS are kept, the selected one always. The product's ``list_price`` is kept
only above its price.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from core.urls import canonical_url, is_http_url
from core.vocabulary import AVAILABILITY, MAX_PRICE
from crawler.items import CandidateItem, ProductFields

CURRENCY_RE = re.compile(r"[A-Z]{3}")
GTIN_RE = re.compile(r"\d{8}|\d{12,14}")
MAX_OFFERS = 100  # a product page with more variants keeps its first hundred (and the reported one)


def clean_price(value) -> Decimal | None:
    """A sane, positive Decimal, or None (garbage prices are dropped, never guessed)."""
    if value is None or isinstance(value, float):
        return None if value is None else clean_price(str(value))
    try:
        price = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    if not price.is_finite() or price <= 0 or price >= MAX_PRICE:
        return None
    return price


def clean_text(value, limit: int = 500) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text[:limit] or None


def clean_currency(value) -> str | None:
    currency = (value or "").strip().upper() if isinstance(value, str) else ""
    return currency if CURRENCY_RE.fullmatch(currency) else None


def above(value, price: Decimal | None) -> Decimal | None:
    """A list/high price: a clean price above ``price``, else None."""
    value = clean_price(value)
    return value if value is not None and price is not None and value > price else None


def clean_url(value) -> str | None:
    if not isinstance(value, str) or not is_http_url(value):
        return None
    try:
        return canonical_url(value)
    except ValueError:
        return None


def clean_offer(offer) -> dict:
    """One offer (an extracted Offer or a dict) in the product's vocabulary."""
    get = offer.get if isinstance(offer, dict) else lambda key: getattr(offer, key, None)
    price = clean_price(get("price"))
    count = get("offer_count")
    return {
        "sku": clean_text(get("sku"), 100),
        "name": clean_text(get("name"), 200),
        "url": clean_url(get("url")),
        "price": price,
        "list_price": above(get("list_price"), price),
        "currency": clean_currency(get("currency")),
        "availability": get("availability") if get("availability") in AVAILABILITY else None,
        "selected": get("selected") is True,
        "high_price": above(get("high_price"), price),
        "offer_count": count if isinstance(count, int) and not isinstance(count, bool) and count >= 0 else None,
    }


def clean_offers(offers) -> list[dict]:
    """The offers, exactly one selected (the first marked one, else the first), at most MAX_OFFERS."""
    cleaned = [clean_offer(offer) for offer in offers or []]
    if not cleaned:
        return []
    chosen = next((i for i, offer in enumerate(cleaned) if offer["selected"]), 0)
    for i, offer in enumerate(cleaned):
        offer["selected"] = i == chosen
    if len(cleaned) > MAX_OFFERS:
        kept = cleaned[:MAX_OFFERS]
        if chosen >= MAX_OFFERS:
            kept[-1] = cleaned[chosen]
        cleaned = kept
    return cleaned


def identity(item: ProductFields) -> str:
    """How a product is recognised across URLs: GTIN, then SKU, then platform id, then canonical URL."""
    if item.gtin:
        return f"gtin:{item.gtin}"
    if item.sku:
        return f"sku:{item.sku}"
    if item.platform_id:
        return f"platform:{item.platform_id}"
    return f"url:{item.url}"


class NormalizePipeline:
    def process_item(self, item, spider=None):
        if not isinstance(item, ProductFields):
            return item
        if isinstance(item, CandidateItem):
            # a candidate is known by its canonical URL; an observed product keeps the URL it was approved with
            item.url = canonical_url(item.url)
        item.canonical_url = canonical_url(item.canonical_url) if item.canonical_url else None
        item.price = clean_price(item.price)
        item.currency = clean_currency(item.currency)
        if item.price is None:
            item.currency = None
        item.list_price = above(item.list_price, item.price)
        item.offers = clean_offers(item.offers)
        if item.availability not in AVAILABILITY:
            item.availability = None
        item.name = clean_text(item.name)
        item.brand = clean_text(item.brand, 200)
        item.sku = clean_text(item.sku, 100)
        gtin = re.sub(r"\D", "", item.gtin or "")
        item.gtin = gtin if GTIN_RE.fullmatch(gtin) else None
        item.platform_id = clean_text(item.platform_id, 100)
        item.sources = {k: v for k, v in (item.sources or {}).items() if getattr(item, k, None) not in (None, [])}
        item.identity = identity(item)
        return item
