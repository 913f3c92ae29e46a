"""Platform adapters: Shopify, WooCommerce, Magento 2 (here) and the Amazon / eBay
marketplaces (:mod:`.marketplaces`).

Each adapter runs only on pages carrying its platform's markers (:func:`detect`) and
reads the data the platform itself renders, so that it also works on themes with no
structured data.

Variant choice: the variant the URL selects (Shopify ``?variant=<id>``, WooCommerce
``?attribute_pa_size=large``); else the one the page pre-selects (Shopify's product
form ``id`` input / selected option; WooCommerce's default attributes); else Shopify's
first available variant, WooCommerce's lowest-priced in-stock variation (else the lowest).

Offers: with two or more variants, every variant is an offer (sku, price, currency,
availability, the variant's title -- WooCommerce: its attributes' option labels -- and its
URL: the product URL with ``?variant=<id>``, WooCommerce's with its
``attribute_*=`` parameters); the chosen one is ``selected``. A product with one variant
has no offers list. List price: Shopify's ``compare_at_price``, WooCommerce's regular
price (a variation's ``display_regular_price``; a simple product's struck-through
``<del>`` amount) -- each only when above the price.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Callable
from urllib.parse import urlencode, urlsplit, urlunsplit

import lxml.etree
from w3lib.html import remove_tags

from . import amazon, ebay, marketplaces
from .page import Page, class_and_id, page_cached, text_of
from .availability import (
    availability_from_classes,
    availability_from_text,
    normalize_availability,
    stock_quantity_from_text,
)
from .currencies import normalize_currency
from .prices import parse_display_price, parse_price
from .product import Found, Offer, normalize_gtin


def _has_class(name: str) -> str:
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {name} ')"


def _xp(expression: str) -> lxml.etree.XPath:
    return lxml.etree.XPath(expression)


def _first_text(xpath: lxml.etree.XPath, node) -> str | None:
    for element in xpath(node):
        text = element if isinstance(element, str) else text_of(element)
        text = text.strip()
        if text:
            return text
    return None


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


# --- detection -------------------------------------------------------------------------

# Markers a platform puts in the <head> or on the <body> tag (theme scripts, asset
# paths, body classes), so detection does not scan the whole page.
_MARKERS = (
    ("shopify", ("cdn.shopify.com", "Shopify.shop", "ShopifyAnalytics", "shopify-section")),
    ("woocommerce", ("woocommerce",)),
    ("magento", ("Magento_", "x-magento-init", "/mage/", "data-mage-init")),
)


@page_cached
def detect(page: Page) -> str | None:
    if not page.has_source:
        return None
    for platform, markers in _MARKERS:
        if page.head_contains(*markers):
            return platform
    body = page.json_body
    if isinstance(body, dict) and ("variants" in body or "variants" in (body.get("product") or {})):
        return "shopify"
    return marketplaces.detect(page)


# --- Shopify ---------------------------------------------------------------------------

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


def _dicts(value: Any) -> list[dict]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    """A JSON string or number as text; anything else (lists, objects, booleans) is None."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    return str(value).strip() or None


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


def _product_url(page: Page, path: Any = None) -> str:
    """The product's own URL (no query): the product JSON's ``url``, else the canonical or the page URL."""
    url = page.absolute(path) if isinstance(path, str) and path.strip() else None
    url = url or page.canonical_url or page.url
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _shopify_offers(product: dict, chosen: dict, currency: str | None, page: Page) -> list[Offer]:
    variants = _dicts(product.get("variants"))
    if len(variants) < 2:
        return []
    handle = _text(product.get("handle"))
    base = _product_url(page, product.get("url") or (f"/products/{handle}" if handle else None))
    offers = []
    for variant in variants:
        variant_id = _text(variant.get("id"))
        offers.append(Offer(
            price=_shopify_money(variant.get("price")),
            currency=currency,
            availability=_shopify_availability(variant),
            sku=_text(variant.get("sku")),
            name=_shopify_title(variant),
            url=f"{base}?variant={variant_id}" if variant_id else None,
            list_price=_shopify_list_price(variant),
            selected=variant is chosen,
        ))
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


# --- WooCommerce -----------------------------------------------------------------------

_XP_WOO_SUMMARY = _xp(f"//*[{_has_class('summary')} or {_has_class('entry-summary')}]")
_XP_WOO_PRODUCT = _xp(f"//*[starts-with(@id, 'product-') and {_has_class('product')}]")
_XP_WOO_TITLE = _xp(f".//*[{_has_class('product_title')}]")
_XP_WOO_PRICE = _xp(f".//*[{_has_class('price')}][1]")
# the first amount not struck through: the <ins> sale price, or the low end of a range
_XP_WOO_AMOUNT = _xp(f".//*[{_has_class('woocommerce-Price-amount')}][not(ancestor::del)]")
# the struck-through regular price of a product on sale
_XP_WOO_REGULAR = _xp(f".//del//*[{_has_class('woocommerce-Price-amount')}]")
_XP_WOO_STOCK = _xp(f".//*[{_has_class('stock')}]")
_XP_WOO_SKU = _xp(f"//*[{_has_class('product_meta')}]//*[{_has_class('sku')}]")
_XP_WOO_CART = _xp(f"//form[{_has_class('cart')}]")
_XP_WOO_IMAGE = _xp(f"//*[{_has_class('woocommerce-product-gallery__image')}]//img/@src")
_XP_WOO_ID = _xp(
    "//*[@name='add-to-cart']/@value | //form[@data-product_id]/@data-product_id"
)
_XP_WOO_VARIATIONS = _xp(f"//form[{_has_class('variations_form')}]/@data-product_variations")
_XP_WOO_DEFAULTS = _xp(f"//form[{_has_class('variations_form')}]//select[starts-with(@name, 'attribute_')]")
def _woo_variations(page: Page) -> list[dict]:
    for raw in _XP_WOO_VARIATIONS(page.root):
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        if isinstance(data, list):
            return _dicts(data)
    return []


def _woo_matches(variation: dict, wanted: dict[str, str]) -> bool:
    attributes = variation.get("attributes")
    if not isinstance(attributes, dict):
        return False
    return all(attributes.get(key) in ("", value) for key, value in wanted.items())


def _woo_defaults(page: Page) -> dict[str, str]:
    """The attributes the form pre-selects, when it pre-selects all of them."""
    selects = _XP_WOO_DEFAULTS(page.root)
    defaults = {}
    for select in selects:
        chosen = select.xpath("option[@selected]/@value")
        if chosen and chosen[0]:
            defaults[select.get("name")] = chosen[0]
    return defaults if len(defaults) == len(selects) else {}


def _woo_variation(page: Page, variations: list[dict]) -> dict | None:
    wanted = {k: v for k, v in page.variant_params.items() if k.startswith("attribute_")}
    wanted = wanted or _woo_defaults(page)
    for variation in variations if wanted else ():
        if _woo_matches(variation, wanted):
            return variation

    def price(variation: dict) -> Decimal | None:
        return parse_price(variation.get("display_price"))[0]

    priced = [variation for variation in variations if price(variation) is not None]
    pool = [variation for variation in priced if variation.get("is_in_stock") is not False] or priced
    return min(pool, key=price) if pool else None


def _woo_variation_fields(variation: dict, page: Page) -> dict[str, Any]:
    stock_html = variation.get("availability_html")
    stock_text = remove_tags(stock_html).strip() if isinstance(stock_html, str) else ""
    availability = availability_from_text(stock_text) or normalize_availability(
        variation.get("is_in_stock")
    )
    quantity = stock_quantity_from_text(stock_text)
    price = parse_price(variation.get("display_price"), page.currency_context)[0]
    regular = parse_price(variation.get("display_regular_price"), page.currency_context)[0]
    return {
        "price": price,
        "availability": availability,
        "stock_quantity": quantity,
        "sku": _text(variation.get("sku")),
        "list_price": regular if price is not None and regular is not None and regular > price else None,
    }


def _woo_option_labels(page: Page) -> dict[str, dict[str, str]]:
    """attribute name -> option value -> the label the form shows ("large" -> "Large")."""
    labels: dict[str, dict[str, str]] = {}
    for select in _XP_WOO_DEFAULTS(page.root):
        options = labels.setdefault(select.get("name") or "", {})
        for option in select.xpath("option[@value != '']"):
            options[option.get("value")] = text_of(option)
    return labels


def _woo_offers(page: Page, variations: list[dict], chosen: dict | None, currency: str | None) -> list[Offer]:
    if len(variations) < 2:
        return []
    labels = _woo_option_labels(page)
    base = _product_url(page)
    offers = []
    for variation in variations:
        fields = _woo_variation_fields(variation, page)
        attributes = variation.get("attributes") if isinstance(variation.get("attributes"), dict) else {}
        chosen_values = {k: v for k, v in attributes.items() if isinstance(v, str) and v}
        name = " / ".join(labels.get(k, {}).get(v) or v for k, v in chosen_values.items())
        offers.append(Offer(
            price=fields["price"],
            currency=currency,
            availability=fields["availability"],
            sku=fields["sku"],
            name=name or None,
            url=f"{base}?{urlencode(chosen_values)}" if chosen_values else None,
            list_price=fields["list_price"],
            selected=variation is chosen,
        ))
    return offers


def woocommerce_id(page: Page) -> str | None:
    ids = _XP_WOO_ID(page.root)
    if ids:
        return str(ids[0]).strip() or None
    product = _XP_WOO_PRODUCT(page.root)
    if not product:
        return None
    return product[0].get("id", "")[len("product-"):] or None


def extract_woocommerce(page: Page) -> Found | None:
    summaries = _XP_WOO_SUMMARY(page.root)
    if not summaries:
        return None
    summary = summaries[0]
    fields: dict[str, Any] = {"name": _first_text(_XP_WOO_TITLE, summary)}
    price_boxes = _XP_WOO_PRICE(summary)
    if price_boxes:
        amounts = _XP_WOO_AMOUNT(price_boxes[0])
        text = text_of(amounts[0] if amounts else price_boxes[0])
        fields["price"], fields["currency"] = parse_display_price(text, page.currency_context)
        regular = _XP_WOO_REGULAR(price_boxes[0])
        if regular and fields["price"] is not None:
            amount = parse_display_price(text_of(regular[0]), page.currency_context)[0]
            fields["list_price"] = amount if amount is not None and amount > fields["price"] else None
    product = _XP_WOO_PRODUCT(page.root)
    for stock in _XP_WOO_STOCK(summary):
        text = text_of(stock)
        fields["availability"] = availability_from_text(text) or availability_from_classes(
            class_and_id(stock)
        )
        fields["stock_quantity"] = stock_quantity_from_text(text)
        break
    if not fields.get("availability") and product:
        fields["availability"] = availability_from_classes(class_and_id(product[0]))
    if not fields.get("availability") and _XP_WOO_CART(page.root):
        fields["availability"] = "InStock"  # a cart form is only rendered when purchasable
    variations = _woo_variations(page)
    variation = _woo_variation(page, variations) if variations else None
    if variation:
        fields.update({k: v for k, v in _woo_variation_fields(variation, page).items() if v is not None})
        chosen = _woo_variation_fields(variation, page)
        fields["list_price"] = chosen["list_price"]
    currency = fields.get("currency") or page.currency_context.currency
    fields["offers"] = _woo_offers(page, variations, variation, currency)
    sku = _first_text(_XP_WOO_SKU, page.root)
    fields.setdefault("sku", sku if sku and sku.upper() != "N/A" else None)
    images = _XP_WOO_IMAGE(page.root)
    fields["image"] = page.absolute(images[0]) if images else None
    return Found.of(platform_id=woocommerce_id(page), **fields)


# --- Magento 2 ---------------------------------------------------------------------------

_XP_MAGENTO_MAIN = _xp(f"//*[{_has_class('product-info-main')}]")
_XP_MAGENTO_FINAL = _xp(
    ".//*[@data-price-type='finalPrice']/@data-price-amount"
    " | .//*[@data-price-type='finalPrice']//*[@data-price-amount]/@data-price-amount"
)
_XP_MAGENTO_PRICE_TEXT = _xp(f".//*[@data-price-type='finalPrice']//*[{_has_class('price')}]")
_XP_MAGENTO_CURRENCY = _xp(".//meta[@itemprop='priceCurrency']/@content")
_XP_MAGENTO_TITLE = _xp(
    f"//*[{_has_class('page-title')}]//*[{_has_class('base')}] | //h1[{_has_class('page-title')}]"
)
_XP_MAGENTO_STOCK = _xp(
    f".//*[{_has_class('stock')} and ({_has_class('available')} or {_has_class('unavailable')})]"
)
_XP_MAGENTO_SKU = _xp(
    f".//*[{_has_class('sku')}]//*[{_has_class('value')}] | .//*[@itemprop='sku']"
)
_XP_MAGENTO_ID = _xp(
    ".//*[@data-product-id]/@data-product-id"
    " | //form[@id='product_addtocart_form']//input[@name='product']/@value"
)


def magento_id(page: Page) -> str | None:
    mains = _XP_MAGENTO_MAIN(page.root)
    return _first_text(_XP_MAGENTO_ID, mains[0]) if mains else None


def extract_magento(page: Page) -> Found | None:
    mains = _XP_MAGENTO_MAIN(page.root)
    if not mains:
        return None
    main = mains[0]
    currency = normalize_currency(_first_text(_XP_MAGENTO_CURRENCY, main), page.currency_context)
    price_text = _first_text(_XP_MAGENTO_PRICE_TEXT, main)
    shown_amount, shown_currency = parse_display_price(price_text or "", page.currency_context)
    amount = parse_price(_first_text(_XP_MAGENTO_FINAL, main), machine=True)[0] or shown_amount
    availability = None
    for stock in _XP_MAGENTO_STOCK(main):
        availability = availability_from_text(text_of(stock)) or availability_from_classes(
            class_and_id(stock)
        )
        break
    return Found.of(
        name=_first_text(_XP_MAGENTO_TITLE, page.root),
        price=amount,
        currency=(currency or shown_currency) if amount is not None else None,
        availability=availability,
        sku=_first_text(_XP_MAGENTO_SKU, main),
        platform_id=magento_id(page),
    )


#: platform name -> adapter
ADAPTERS: dict[str, Callable[[Page], Found | None]] = {
    "shopify": extract_shopify,
    "woocommerce": extract_woocommerce,
    "magento": extract_magento,
    "amazon": amazon.extract_amazon,
    "ebay": ebay.extract_ebay,
}
#: platform name -> the platform's product id (cheap; identity even after an early stop)
PRODUCT_IDS: dict[str, Callable[[Page], str | None]] = {
    "shopify": shopify_id,
    "woocommerce": woocommerce_id,
    "magento": magento_id,
    "amazon": amazon.amazon_asin,
    "ebay": ebay.ebay_item_id,
}
#: platforms whose product id is also the listing's SKU (the ASIN, the eBay item number)
ID_IS_SKU = frozenset({"amazon", "ebay"})
