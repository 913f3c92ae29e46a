"""The WooCommerce adapter: the summary's markup and the variations form's JSON.

Variant choice: the variation the URL selects (``?attribute_pa_size=large``); else the
form's default attributes; else the lowest-priced in-stock variation (else the lowest).
With two or more variations every one is an offer (its attributes' option labels, its
URL with its ``attribute_*=`` parameters). List price: a variation's
``display_regular_price``, a simple product's struck-through ``<del>`` amount -- only
when above the price.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from w3lib.html import remove_tags

from .adapter_markup import _dicts, _first_text, _has_class, _product_url, _text, _xp
from .availability import (
    availability_from_classes,
    availability_from_text,
    normalize_availability,
    stock_quantity_from_text,
)
from .page import Page, class_and_id, text_of
from .prices import parse_display_price, parse_price
from .product import Found, Offer

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
_XP_WOO_ID = _xp("//*[@name='add-to-cart']/@value | //form[@data-product_id]/@data-product_id")
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
    availability = availability_from_text(stock_text) or normalize_availability(variation.get("is_in_stock"))
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
        offers.append(
            Offer(
                price=fields["price"],
                currency=currency,
                availability=fields["availability"],
                sku=fields["sku"],
                name=name or None,
                url=f"{base}?{urlencode(chosen_values)}" if chosen_values else None,
                list_price=fields["list_price"],
                selected=variation is chosen,
            )
        )
    return offers


def woocommerce_id(page: Page) -> str | None:
    ids = _XP_WOO_ID(page.root)
    if ids:
        return str(ids[0]).strip() or None
    product = _XP_WOO_PRODUCT(page.root)
    if not product:
        return None
    return product[0].get("id", "")[len("product-") :] or None


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
        fields["availability"] = availability_from_text(text) or availability_from_classes(class_and_id(stock))
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
