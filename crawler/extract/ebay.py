"""eBay item pages (platform ``ebay``).

Name from the item title (without the hidden "Details about" prefix or the
"show original title" link), price from the sale / Buy It Now / current bid price (in
that order; converted "Approximately ..." amounts are ignored), the struck original
price as ``list_price``, availability from the quantity line ("More than 10
available", "Plus de 10 disponibles") or a status message ("This item is out of
stock"), else a buy or bid button -> InStock; an ended listing ("Bidding has ended")
is not read either way. SKU and platform id: the item id. On item pages with the
item's own microdata, that comes first in the cascade (its name keeps the hidden
"Details about" prefix); the item id is the SKU all the same (``platforms.ID_IS_SKU``).
"""

from __future__ import annotations

import re
from decimal import Decimal

from .adapter_markup import (
    UNAVAILABLE,
    _has_class,
    _is_struck,
    _page_start,
    _quantity,
    _visible_text,
    _xp,
    element_ids,
)
from .availability import availability_from_text
from .currencies import normalize_currency
from .page import Page, clean_text, text_of
from .prices import parse_display_price, parse_price
from .product import Found

_EBAY_GATE = "ebay"
_ITEM_ID_RE = re.compile(r"/itm/(?:[^/?#]*/)?(\d{9,15})(?:[/?#]|$)")
_XP_EBAY_TITLE_TEXT = _xp("//h1[@id='itemTitle']/text()")
_XP_EBAY_TITLE = _xp(
    f"//h1[{_has_class('x-item-title__mainTitle')}] | //*[{_has_class('x-item-title__mainTitle')}]"
    f" | //h1[{_has_class('x-item-title')}]"
)
_XP_EBAY_PRICE_NEW = _xp(f"//*[{_has_class('x-price-primary')} or @data-testid='x-price-primary']")
_XP_EBAY_LIST_NEW = _xp(
    f"//*[{_has_class('x-price-section')} or {_has_class('x-additional-info')}]"
    f"//*[{_has_class('ux-textspans--STRIKETHROUGH')}]"
)
_XP_EBAY_QUANTITY_NEW = _xp(
    f"//*[@id='qtyAvailability' or {_has_class('d-quantity__availability')} or {_has_class('x-quantity__availability')}]"
)
_XP_EBAY_STATUS = _xp(
    f"//*[{_has_class('msgTextAlign')} or @id='vi-sold-out' or {_has_class('d-statusmessage')}"
    f" or {_has_class('ux-message__title')}]"
)
_XP_EBAY_BUY_NEW = _xp(
    "//*[@data-testid='x-bin-action' or @data-testid='x-atc-action' or @data-testid='x-bid-action'"
    " or starts-with(@id, 'binBtn_btn') or starts-with(@id, 'atcBtn_btn') or starts-with(@id, 'bidBtn_btn')]"
)
_XP_EBAY_ITEM_NUMBER_NEW = _xp(
    f"//*[{_has_class('ux-layout-section__textual-display--itemId')}]//span[{_has_class('ux-textspans--BOLD')}]"
)
_XP_EBAY_IMAGE_NEW = _xp(f"//*[{_has_class('ux-image-carousel-item')}]//img")
_XP_ITEMPROP_CURRENCY = _xp(".//*[@itemprop='priceCurrency']/@content")
_EBAY_PRICE_IDS = ("mm-saleDscPrc", "prcIsum", "prcIsum_bidPrice")
_EBAY_LIST_IDS = ("mm-saleOrgPrc", "orgPrc")
_EBAY_BUY_CONTROLS = ("binBtn_btn", "isCartBtn_btn", "bidBtn_btn")


def _ebay_page(page: Page) -> bool:
    start = _page_start(page)
    if _EBAY_GATE not in start:
        return False
    if ebay_item_id(page) is None:
        return False
    ids = element_ids(page)
    return (
        "itemTitle" in ids
        or "prcIsum" in ids
        or "prcIsum_bidPrice" in ids
        or bool(_XP_EBAY_TITLE(page.root) or _XP_EBAY_PRICE_NEW(page.root))
    )


def ebay_item_id(page: Page) -> str | None:
    """The item number: the listing's own "eBay item number" field, else ``/itm/<id>``
    in the canonical URL, ``og:url`` or the URL."""
    number = element_ids(page).get("descItemNumber")
    text = text_of(number) if number is not None else ""
    if not text:
        spans = _XP_EBAY_ITEM_NUMBER_NEW(page.root)
        text = text_of(spans[0]) if spans else ""
    if text.isdigit() and 9 <= len(text) <= 15:
        return text
    for url in (page.canonical_url, page.metas.get("og:url"), page.url):
        match = _ITEM_ID_RE.search(url or "")
        if match:
            return match.group(1)
    return None


def _ebay_name(page: Page) -> str | None:
    # the old title h1 starts with a hidden "Details about" span and may end with a
    # "show original title" link: its own text nodes are the title
    direct = clean_text(" ".join(_XP_EBAY_TITLE_TEXT(page.root)))
    if direct:
        return direct
    for element in _XP_EBAY_TITLE(page.root):
        text = _visible_text(element)
        if text:
            return text
    return None


def _ebay_money(element, page: Page) -> tuple[Decimal | None, str | None]:
    if element is None or _is_struck(element):
        return None, None
    text = _visible_text(element)
    amount, currency = parse_display_price(text, page.currency_context)
    machine = parse_price(element.get("content"), machine=True)[0]
    if machine is not None:
        amount = machine
    if amount is not None and currency is None:
        parent = element.getparent()
        declared = _XP_ITEMPROP_CURRENCY(parent) if parent is not None else []
        currency = normalize_currency(declared[0] if declared else None, page.currency_context)
    return amount, currency


def _ebay_price(page: Page, ids: dict) -> tuple[Decimal | None, str | None]:
    for price_id in _EBAY_PRICE_IDS:
        amount, currency = _ebay_money(ids.get(price_id), page)
        if amount is not None:
            return amount, currency
    for element in _XP_EBAY_PRICE_NEW(page.root):
        amount, currency = _ebay_money(element, page)
        if amount is not None:
            return amount, currency
    return None, None


def _ebay_list_price(page: Page, ids: dict) -> Decimal | None:
    elements = [ids[list_id] for list_id in _EBAY_LIST_IDS if list_id in ids]
    for element in elements + list(_XP_EBAY_LIST_NEW(page.root)):
        amount = parse_display_price(_visible_text(element), page.currency_context)[0]
        if amount is not None:
            return amount
    return None


def _ebay_availability(page: Page, ids: dict) -> tuple[str | None, int | None]:
    quantity_elements = [ids["qtySubTxt"]] if "qtySubTxt" in ids else []
    for element in _XP_EBAY_STATUS(page.root):
        availability = availability_from_text(_visible_text(element)[:200])
        if availability in UNAVAILABLE:
            return availability, None
    for element in quantity_elements + list(_XP_EBAY_QUANTITY_NEW(page.root)):
        text = _visible_text(element)
        availability = availability_from_text(text)
        if availability:
            return availability, _quantity(text, availability)
    if any(control in ids for control in _EBAY_BUY_CONTROLS) or _XP_EBAY_BUY_NEW(page.root):
        return "InStock", None
    return None, None


def _ebay_image(page: Page, ids: dict) -> str | None:
    element = ids.get("icImg")
    candidates = [element] if element is not None else []
    candidates += list(_XP_EBAY_IMAGE_NEW(page.root)[:1])
    for image in candidates:
        for attribute in ("src", "data-src", "data-zoom-src"):
            url = page.absolute(image.get(attribute))
            if url:
                return url
    return None


def extract_ebay(page: Page) -> Found | None:
    ids = element_ids(page)
    price, currency = _ebay_price(page, ids)
    list_price = _ebay_list_price(page, ids) if price is not None else None
    availability, quantity = _ebay_availability(page, ids)
    item_id = ebay_item_id(page)
    return Found.of(
        name=_ebay_name(page),
        price=price,
        currency=currency if price is not None else None,
        list_price=list_price if list_price is not None and list_price > price else None,
        availability=availability,
        stock_quantity=quantity,
        sku=item_id,
        image=_ebay_image(page, ids),
        platform_id=item_id,
    )
