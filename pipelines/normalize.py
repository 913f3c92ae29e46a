"""NormalizePipeline: canonical URL, Decimal price, ISO currency, availability enum, product identity."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from crawler.items import CandidateItem, ProductFields
from db.urls import canonical_url

AVAILABILITY = {"InStock", "OutOfStock", "PreOrder", "BackOrder", "LimitedAvailability", "Discontinued"}
CURRENCY_RE = re.compile(r"[A-Z]{3}")
MAX_PRICE = Decimal("1e12")
GTIN_RE = re.compile(r"\d{8}|\d{12,14}")


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
        currency = (item.currency or "").strip().upper()
        item.currency = currency if CURRENCY_RE.fullmatch(currency) else None
        if item.price is None:
            item.currency = None
        if item.availability not in AVAILABILITY:
            item.availability = None
        item.name = clean_text(item.name)
        item.brand = clean_text(item.brand, 200)
        item.sku = clean_text(item.sku, 100)
        gtin = re.sub(r"\D", "", item.gtin or "")
        item.gtin = gtin if GTIN_RE.fullmatch(gtin) else None
        item.platform_id = clean_text(item.platform_id, 100)
        item.sources = {k: v for k, v in (item.sources or {}).items() if getattr(item, k, None) is not None}
        item.identity = identity(item)
        return item
