"""The Shopify adapter: the product JSON the theme renders (``/products/<handle>.js`` shape).

Variant choice: the variant the URL selects (``?variant=<id>``); else the one the page
pre-selects (the product form's ``id`` input / selected option); else the first
available variant. With two or more variants every variant is an offer (the variant's
title, its URL: the product URL with ``?variant=<id>``). List price: ``compare_at_price``,
only when above the price.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from .adapter_markup import _dicts, _product_url, _text, _xp
from .availability import normalize_availability
from .currencies import normalize_currency
from .page import Page, page_cached
from .prices import parse_price
from .product import Found, Offer, normalize_gtin

_DECODER = json.JSONDecoder()


def _json_after(source: str, marker: str) -> Any:
    """The first JSON value that follows ``marker`` in a script (``var meta = {...};``)."""
    index = source.find(marker)
    while index >= 0:
        start = index + len(marker)
        while start < len(source) and source[start] in " \t\r\n=:":
            start += 1
        try:
            return _DECODER.raw_decode(source, start)[0]
        except ValueError:
            index = source.find(marker, start)
    return None


_XP_SHOPIFY_JSON = _xp(
    "//script[@type='application/json' and (starts-with(@id, 'ProductJson')"
    " or @data-product-json or contains(@id, 'product-json') or contains(@id, 'ProductJSON'))]"
)


def _shopify_money(value: Any) -> Decimal | None:
    """Product JSON (``.js``, ``| json``, ``var meta``) has integer cents; ``.json`` has "19.99"."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return Decimal(value) / 100
    if isinstance(value, float):
        return Decimal(str(value)) / 100 if value == int(value) else Decimal(str(value))
    return parse_price(value, machine=True)[0]


@page_cached
def shopify_product(page: Page) -> dict | None:
    """The product object: JSON response, embedded product JSON, or ``meta.product``."""
    body = page.json_body
    if isinstance(body, dict):
        product = body.get("product", body)
        if isinstance(product, dict) and "variants" in product:
            return product
    for script in _XP_SHOPIFY_JSON(page.root):
        try:
            data = json.loads(script.text or "")
        except ValueError:
            continue
        data = data.get("product", data) if isinstance(data, dict) else None
        if isinstance(data, dict) and "variants" in data:
            return data
    for marker in ("var meta =", "ShopifyAnalytics.meta =", "window.ShopifyAnalytics.meta ="):
        meta = _json_after(page.source, marker)
        if isinstance(meta, dict) and isinstance(meta.get("product"), dict):
            return meta["product"]
    return None


def _shopify_currency(page: Page) -> str | None:
    active = _json_after(page.source, "Shopify.currency =")
    if isinstance(active, dict):
        return normalize_currency(active.get("active"))
    meta = _json_after(page.source, "ShopifyAnalytics.meta =")
    if isinstance(meta, dict):
        return normalize_currency(meta.get("currency"))
    return page.currency_context.currency


def _shopify_variant(product: dict, page: Page) -> dict | None:
    variants = _dicts(product.get("variants"))
    if not variants:
        return None
    by_id = {str(v.get("id")): v for v in variants}
    wanted = page.variant_params.get("variant") or page.variant_params.get("variant_id")
    if wanted in by_id:
        return by_id[wanted]
    for selected in page.preselected_variant_ids:
        if selected in by_id:
            return by_id[selected]
    available = [v for v in variants if v.get("available") is not False]
    return available[0] if available else variants[0]


def _shopify_availability(variant: dict) -> str | None:
    if not isinstance(variant.get("available"), bool):
        return None
    quantity = variant.get("inventory_quantity")
    oversold = isinstance(quantity, int) and quantity <= 0 and variant.get("inventory_management")
    if variant["available"] is True and variant.get("inventory_policy") == "continue" and oversold:
        return "BackOrder"  # sells on although none is left
    return normalize_availability(bool(variant["available"]))


def _shopify_image(product: dict, variant: dict, page: Page) -> str | None:
    images = product.get("images") if isinstance(product.get("images"), list) else []
    for image in (variant.get("featured_image"), product.get("featured_image"), product.get("image"), *images[:1]):
        if isinstance(image, dict):
            image = image.get("src")
        if isinstance(image, str) and image.strip():
            return page.absolute(image)
    return None


def _shopify_list_price(variant: dict) -> Decimal | None:
    """``compare_at_price``: the price before a sale, when above the price."""
    price = _shopify_money(variant.get("price"))
    compare = _shopify_money(variant.get("compare_at_price"))
    return compare if price is not None and compare is not None and compare > price else None


def _shopify_title(variant: dict) -> str | None:
    title = _text(variant.get("public_title")) or _text(variant.get("title"))
    if title and title != "Default Title":
        return title
    return _text(variant.get("name"))


def _shopify_offers(product: dict, chosen: dict, currency: str | None, page: Page) -> list[Offer]:
    variants = _dicts(product.get("variants"))
    if len(variants) < 2:
        return []
    handle = _text(product.get("handle"))
    base = _product_url(page, product.get("url") or (f"/products/{handle}" if handle else None))
    offers = []
    for variant in variants:
        variant_id = _text(variant.get("id"))
        offers.append(
            Offer(
                price=_shopify_money(variant.get("price")),
                currency=currency,
                availability=_shopify_availability(variant),
                sku=_text(variant.get("sku")),
                name=_shopify_title(variant),
                url=f"{base}?variant={variant_id}" if variant_id else None,
                list_price=_shopify_list_price(variant),
                selected=variant is chosen,
            )
        )
    return offers


def shopify_id(page: Page) -> str | None:
    product = shopify_product(page)
    return _text(product.get("id")) if product else None


def extract_shopify(page: Page) -> Found | None:
    product = shopify_product(page)
    if product is None:
        return None
    variant = _shopify_variant(product, page) or {}
    quantity = variant.get("inventory_quantity")
    currency = _shopify_currency(page)
    return Found.of(
        name=_text(product.get("title")),
        price=_shopify_money(variant.get("price", product.get("price"))),
        currency=currency,
        list_price=_shopify_list_price(variant) if variant else None,
        offers=_shopify_offers(product, variant, currency, page),
        availability=_shopify_availability(variant),
        stock_quantity=quantity if isinstance(quantity, int) and quantity > 0 else None,
        sku=_text(variant.get("sku")),
        gtin=normalize_gtin(_text(variant.get("barcode"))),
        brand=_text(product.get("vendor")),
        image=_shopify_image(product, variant, page),
        platform_id=shopify_id(page),
    )
