"""Platform adapters: detection and the registry; Shopify (:mod:`.shopify`), WooCommerce
(:mod:`.woocommerce`), Magento 2 (here) and the Amazon / eBay marketplaces (:mod:`.marketplaces`).

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

from collections.abc import Callable

from . import amazon, ebay, marketplaces, shopify, woocommerce
from .adapter_markup import _first_text, _has_class, _xp
from .availability import availability_from_classes, availability_from_text
from .currencies import normalize_currency
from .page import Page, class_and_id, page_cached, text_of
from .prices import parse_display_price, parse_price
from .product import Found

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


# --- Magento 2 ---------------------------------------------------------------------------

_XP_MAGENTO_MAIN = _xp(f"//*[{_has_class('product-info-main')}]")
_XP_MAGENTO_FINAL = _xp(
    ".//*[@data-price-type='finalPrice']/@data-price-amount"
    " | .//*[@data-price-type='finalPrice']//*[@data-price-amount]/@data-price-amount"
)
_XP_MAGENTO_PRICE_TEXT = _xp(f".//*[@data-price-type='finalPrice']//*[{_has_class('price')}]")
_XP_MAGENTO_CURRENCY = _xp(".//meta[@itemprop='priceCurrency']/@content")
_XP_MAGENTO_TITLE = _xp(f"//*[{_has_class('page-title')}]//*[{_has_class('base')}] | //h1[{_has_class('page-title')}]")
_XP_MAGENTO_STOCK = _xp(f".//*[{_has_class('stock')} and ({_has_class('available')} or {_has_class('unavailable')})]")
_XP_MAGENTO_SKU = _xp(f".//*[{_has_class('sku')}]//*[{_has_class('value')}] | .//*[@itemprop='sku']")
_XP_MAGENTO_ID = _xp(
    ".//*[@data-product-id]/@data-product-id | //form[@id='product_addtocart_form']//input[@name='product']/@value"
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
        availability = availability_from_text(text_of(stock)) or availability_from_classes(class_and_id(stock))
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
    "shopify": shopify.extract_shopify,
    "woocommerce": woocommerce.extract_woocommerce,
    "magento": extract_magento,
    "amazon": amazon.extract_amazon,
    "ebay": ebay.extract_ebay,
}
#: platform name -> the platform's product id (cheap; identity even after an early stop)
PRODUCT_IDS: dict[str, Callable[[Page], str | None]] = {
    "shopify": shopify.shopify_id,
    "woocommerce": woocommerce.woocommerce_id,
    "magento": magento_id,
    "amazon": amazon.amazon_asin,
    "ebay": ebay.ebay_item_id,
}
#: platforms whose product id is also the listing's SKU (the ASIN, the eBay item number)
ID_IS_SKU = frozenset({"amazon", "ebay"})
