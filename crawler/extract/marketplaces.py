"""Marketplace adapters: Amazon and eBay item pages (platforms ``amazon`` and ``ebay``).

Both are detected by markup, not by host, so every country site and mirror domains work.
A cheap gate looks at the first 20,000 characters only (Amazon's ``ue_*`` page metrics,
image CDN or AUI ``a-no-js`` class on ``<html>``; eBay's ``ebaystatic``/``ebayimg``
hosts), then the item markup decides:

* Amazon: a ``#dp`` / ``#ppd`` / ``#dp-container`` product container plus a product
  title (``#productTitle``, ...) or an ASIN (``input#ASIN``, ``data-asin`` of the
  reviews widget) -- a page that merely links to or embeds Amazon products is not one;
* eBay: an item id (``#descItemNumber``, a ``/itm/<id>`` canonical or URL) plus its
  item-page title or price markup (``#itemTitle`` / ``#prcIsum``, the newer
  ``x-item-title`` / ``x-price-primary``).

Element ids are looked up in one dict built by a single walk of the tree
(:func:`element_ids`), not by one XPath scan each: Amazon pages run to 1-2 MB.

Amazon. Name from ``#productTitle`` (books, music, Kindle: their own title blocks),
never a feature heading. Price: the buy box's price a buyer pays now, in this order --
the current core price block (``.priceToPay`` / ``.apexPriceToPay``), the older
``#priceblock_dealprice`` / ``_saleprice`` / ``_ourprice``, ``#price_inside_buybox``,
``#newBuyBoxPrice``, ``#kindle-price``, the digital buy button; without a buy box
winner, the offer listing's "New & used from ..." price. Struck amounts are never the
price; the struck "List Price" / "RRP" / "UVP" / "Prix conseillé" / "Prezzo
consigliato" is ``list_price`` (kept only when above the price). Currency: the
price's symbol, ambiguous ones ("$", "kr") resolved by the page's marketplace id
(``ue_mid``), which also stands in when the symbol is unknown. Availability: the
``#availability`` phrase (multilingual, see :func:`.availability.availability_from_text`),
else ``#outOfStock`` -> OutOfStock, else a buy control (add to cart, buy now, "See all
buying choices", a digital buy button) -> InStock. SKU and platform id: the ASIN.

When the page says the product is unavailable and its buy box shows no price, the
product has no price: the adapter vouches ``price``/``currency``/``list_price`` absent
(:attr:`.product.Found.absent`), so the heuristics stage does not guess one from the
rest of the page (sponsored products, "customers also bought", numbers in the title).

eBay. Name from the item title (without the hidden "Details about" prefix or the
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
from typing import Any

import lxml.etree

from .page import Page, clean_text, page_cached, text_of
from .availability import availability_from_text, stock_quantity_from_text
from .currencies import normalize_currency
from .prices import parse_display_price, parse_price
from .product import Found

UNAVAILABLE = frozenset({"OutOfStock", "Discontinued"})
#: what a source vouches absent when the product has no price
NO_PRICE = frozenset({"price", "currency", "list_price"})


def _has_class(name: str) -> str:
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {name} ')"


def _xp(expression: str) -> lxml.etree.XPath:
    return lxml.etree.XPath(expression)


_XP_WITH_ID = _xp("//*[@id]")
_XP_VISIBLE_TEXT = _xp(".//text()[not(ancestor::script) and not(ancestor::style) and not(ancestor::noscript)]")


@page_cached
def element_ids(page: Page) -> dict[str, Any]:
    """The first element carrying each ``id`` (one walk of the tree; ids looked up by dict)."""
    found: dict[str, Any] = {}
    for element in _XP_WITH_ID(page.root):
        found.setdefault(element.get("id"), element)
    return found


def _visible_text(element) -> str:
    """Text without script/style content (Amazon puts scripts inside ``#availability``)."""
    return clean_text(" ".join(_XP_VISIBLE_TEXT(element)))


def _is_hidden(element) -> bool:
    classes = f" {element.get('class') or ''} "
    return " aok-hidden " in classes or " a-hidden " in classes or "display:none" in (
        element.get("style") or ""
    ).replace(" ", "")


def _is_struck(element) -> bool:
    """Struck through (Amazon ``a-text-strike`` / ``data-a-strike``), itself or by an ancestor."""
    node = element
    for _ in range(4):
        if node is None:
            return False
        if node.tag in ("del", "s", "strike") or node.get("data-a-strike") == "true":
            return True
        if " a-text-strike " in f" {node.get('class') or ''} ":
            return True
        node = node.getparent()
    return False


# "More than 10 available" is a lower bound, not a stock quantity
_LOWER_BOUND_RE = re.compile(
    r"(?i)(?<!\w)(?:more than|over|plus de|mehr als|über|più di|oltre|más de|meer dan)\s+\d"
)


def _quantity(text: str, availability: str | None) -> int | None:
    """The stock quantity a buy box's stock line states ("Only 3 left"), if exact."""
    if not text or availability in UNAVAILABLE or _LOWER_BOUND_RE.search(text):
        return None
    return stock_quantity_from_text(text)


# --- Amazon ------------------------------------------------------------------------------

# Cheap gates, looked for in the first characters of the page only (the head's first
# scripts and links): Amazon's name (its image CDNs images-amazon.com / media-amazon.com
# and its ``ue_*`` page metrics' scripts carry it), the AUI ``a-no-js`` class on <html>;
# eBay's name (its static and image hosts). One substring each: every page pays for
# these. The product markup that follows decides.
_GATE_CHARS = 5000
_AMAZON_GATE = "amazon"
_AUI_CLASSES = frozenset({"a-no-js", "a-js"})
_AMAZON_CONTAINERS = ("dp", "ppd", "dp-container")
_AMAZON_TITLES = ("productTitle", "ebooksProductTitle", "btAsinTitle")
_AMAZON_TITLE_BLOCKS = ("dmusicProductTitle_feature_div", "title_feature_div")
_ASIN_RE = re.compile(r"^[A-Z0-9]{10}$")
_ASIN_PATH_RE = re.compile(r"/(?:dp|gp/product|gp/aw/d)/([A-Z0-9]{10})(?:[/?#]|$)")
_XP_ASIN_INPUT = _xp("//input[@id='ASIN' or @name='ASIN' or @name='ASIN.0']/@value")
_ASIN_CARRIERS = ("averageCustomerReviews", "all-offers-display-params", "detailBullets_averageCustomerReviews")

#: Amazon marketplace id (``ue_mid`` in every page) -> the marketplace's currency
#: (ids: https://developer-docs.amazon.com/sp-api/docs/marketplace-ids)
AMAZON_MARKETPLACE_CURRENCIES = {
    "ATVPDKIKX0DER": "USD", "A2EUQ1WTGCTBG2": "CAD", "A1AM78C64UM0Y8": "MXN", "A2Q3Y263D00KWC": "BRL",
    "A1F83G8C2ARO7P": "GBP", "A28R8C7NBKEWEA": "EUR", "A1PA6795UKMFR9": "EUR", "A13V1IB3VIYZZH": "EUR",
    "APJ6JRA9NG5V4": "EUR", "A1RKKUPIHCS9HS": "EUR", "A1805IZSGTT6HS": "EUR", "AMEN7PMS3EDWL": "EUR",
    "A2NODRKZP88ZB9": "SEK", "A1C3SOZRARQ6R3": "PLN", "A33AVAJ2PDY3EV": "TRY", "ARBP9OOSHTCHU": "EGP",
    "A17E79C6D8DWNP": "SAR", "A2VIGQ35RCS4UG": "AED", "A21TJRUUN4KGV": "INR", "AE08WJ6YKNBMC": "ZAR",
    "A19VAU5U5O7RUS": "SGD", "A39IBJ37TRP1C6": "AUD", "A1VC38T7YXB528": "JPY",
}
_MARKETPLACE_ID_RE = re.compile(r"""\s*[=:]\s*["']([A-Z0-9]{9,16})["']""")

# Price blocks by element id, the buy box's first (see _amazon_buybox_price for the order).
_OFFSCREEN = f"descendant-or-self::span[{_has_class('a-offscreen')}]"
_XP_CORE_TO_PAY = _xp(
    f".//span[{_has_class('priceToPay')} or {_has_class('apexPriceToPay')}]"
)
_XP_CORE_ANY = _xp(
    f".//span[{_has_class('a-price')} and not({_has_class('a-text-price')}) and not(@data-a-strike='true')]"
)
_XP_CORE_LIST = _xp(
    f".//span[{_has_class('basisPrice')}]//span[{_has_class('a-price')}]"
    " | .//span[@data-a-strike='true']"
)
_XP_OFFSCREEN = _xp(_OFFSCREEN)
_CORE_PRICE_BLOCKS = (
    "corePriceDisplay_desktop_feature_div",
    "corePrice_desktop",
    "corePrice_feature_div",
    "apex_desktop",
)
_OLD_PRICE_IDS = (
    "priceblock_dealprice",
    "priceblock_saleprice",
    "priceblock_ourprice",
    "price_inside_buybox",
    "newBuyBoxPrice",
    "kindle-price",
    "price",
)
_XP_OLD_LIST = _xp(
    f".//*[{_has_class('priceBlockStrikePriceString')} or {_has_class('a-text-strike')}]"
)
_XP_DIGITAL_BUY = _xp(
    f".//*[{_has_class('a-text-bold')} or {_has_class('a-color-price')} or {_has_class('a-offscreen')}]"
)
_XP_OFFER_LISTING = _xp(
    f".//span[{_has_class('a-color-price')}] | .//span[{_has_class('a-price')}]//span[{_has_class('a-offscreen')}]"
)
_DIGITAL_BUY_BOXES = ("dmusic_buy_box",)
_OFFER_LISTING_BOXES = ("olp-upd-new-used", "olp-upd-new", "olp_feature_div", "olp-new")
_PRICE_TABLE_IDS = ("price", "corePrice_desktop", "apex_desktop")
_AMAZON_BUY_CONTROLS = (
    "add-to-cart-button",
    "buy-now-button",
    "buybox-see-all-buying-choices",
    "buybox-see-all-buying-choices-announce",
    "one-click-button",
    "rcx-subscribe-submit-button-announce",
)
_AMAZON_IMAGES = ("landingImage", "imgBlkFront", "ebooksImgBlkFront", "main-image")
_AMAZON_IMAGE_BLOCKS = ("digitalMusicProductImage_feature_div",)


@page_cached
def _page_start(page: Page) -> str:
    return page.source[:_GATE_CHARS]


def _amazon_page(page: Page) -> bool:
    start = _page_start(page)
    if _AMAZON_GATE not in start and not _AUI_CLASSES.intersection(
        (page.root.get("class") or "").split()
    ):
        return False
    ids = element_ids(page)
    if not any(container in ids for container in _AMAZON_CONTAINERS):
        return False
    return any(title in ids for title in _AMAZON_TITLES) or amazon_asin(page) is not None


def _asin(value: object) -> str | None:
    text = str(value or "").strip().upper()
    return text if _ASIN_RE.match(text) else None


def amazon_asin(page: Page) -> str | None:
    """The ASIN: the buy form's ``ASIN`` input (the variant shown), else the page's own
    widgets' ``data-asin``, else the ``/dp/<ASIN>`` of the canonical URL or the URL."""
    for value in _XP_ASIN_INPUT(page.root):
        if _asin(value):
            return _asin(value)
    ids = element_ids(page)
    for carrier in _ASIN_CARRIERS:
        element = ids.get(carrier)
        if element is not None and _asin(element.get("data-asin")):
            return _asin(element.get("data-asin"))
    for url in (page.canonical_url, page.url):
        match = _ASIN_PATH_RE.search(url or "")
        if match:
            return match.group(1)
    return None


@page_cached
def amazon_currency(page: Page) -> str | None:
    """The marketplace's currency, from the marketplace id every Amazon page embeds."""
    source = page.source
    for marker in ("ue_mid", "obfuscatedMarketplaceId"):
        index = source.find(marker)
        if index >= 0:
            match = _MARKETPLACE_ID_RE.match(source, index + len(marker))
            if match and match.group(1) in AMAZON_MARKETPLACE_CURRENCIES:
                return AMAZON_MARKETPLACE_CURRENCIES[match.group(1)]
    return None


def _amount_text(element) -> str:
    """An Amazon price element's amount: its off-screen copy (the visible one is split
    into symbol/whole/fraction spans), else its own visible text."""
    for offscreen in _XP_OFFSCREEN(element):
        text = text_of(offscreen)
        if text:
            return text
    return _visible_text(element)


def _money(element, page: Page, currency: str | None) -> tuple[Decimal | None, str | None]:
    if element is None or _is_hidden(element) or _is_struck(element):
        return None, None
    text = _amount_text(element)
    if not text or len(text) > 80:
        return None, None
    amount, found = parse_display_price(text, page.money_context(currency))
    if amount is None:
        return None, None
    return amount, found or currency


def _first_money(elements, page: Page, currency: str | None) -> tuple[Decimal | None, str | None]:
    for element in elements:
        amount, found = _money(element, page, currency)
        if amount is not None:
            return amount, found
    return None, None


def _amazon_list_price(ids: dict, page: Page, currency: str | None) -> Decimal | None:
    for block in _PRICE_TABLE_IDS + _CORE_PRICE_BLOCKS:
        element = ids.get(block)
        if element is None:
            continue
        xpath = _XP_CORE_LIST if block in _CORE_PRICE_BLOCKS else _XP_OLD_LIST
        for struck in xpath(element):
            amount, _currency = parse_display_price(_amount_text(struck), page.money_context(currency))
            if amount is not None:
                return amount
    return None


def _amazon_buybox_price(ids: dict, page: Page, currency: str | None) -> tuple[Decimal | None, str | None]:
    for block in _CORE_PRICE_BLOCKS:
        element = ids.get(block)
        if element is not None and not _is_hidden(element):
            amount, found = _first_money(_XP_CORE_TO_PAY(element), page, currency)
            if amount is None:
                amount, found = _first_money(_XP_CORE_ANY(element), page, currency)
            if amount is not None:
                return amount, found
    for price_id in _OLD_PRICE_IDS:
        element = ids.get(price_id)
        if element is not None and element.tag not in ("div", "table", "tr", "input", "script"):
            amount, found = _money(element, page, currency)
            if amount is not None:
                return amount, found
    for box in _DIGITAL_BUY_BOXES:
        element = ids.get(box)
        if element is not None:
            amount, found = _first_money(_XP_DIGITAL_BUY(element), page, currency)
            if amount is not None:
                return amount, found
    return None, None


def _amazon_offer_listing_price(ids: dict, page: Page, currency: str | None):
    """No buy box winner: the lowest offer the listing announces ("New & used (7) from 99,12 €")."""
    for box in _OFFER_LISTING_BOXES:
        element = ids.get(box)
        if element is not None:
            amount, found = _first_money(_XP_OFFER_LISTING(element), page, currency)
            if amount is not None:
                return amount, found
    return None, None


def _amazon_availability(ids: dict) -> tuple[str | None, int | None]:
    element = ids.get("availability")
    text = _visible_text(element) if element is not None else ""
    availability = availability_from_text(text)
    quantity = _quantity(text, availability)
    if availability is None:
        if "outOfStock" in ids:
            availability = "OutOfStock"
        elif any(control in ids for control in _AMAZON_BUY_CONTROLS) or any(
            box in ids for box in _DIGITAL_BUY_BOXES
        ):
            availability = "InStock"
    return availability, quantity if availability not in UNAVAILABLE else None


def _amazon_name(ids: dict) -> str | None:
    for title in _AMAZON_TITLES:
        element = ids.get(title)
        if element is not None:
            text = _visible_text(element)
            if text:
                return text
    for block in _AMAZON_TITLE_BLOCKS:
        element = ids.get(block)
        if element is not None:
            for heading in element.iter("h1"):
                text = _visible_text(heading)
                if text:
                    return text
    return None


def _amazon_image(ids: dict, page: Page) -> str | None:
    images = [ids[image_id] for image_id in _AMAZON_IMAGES if image_id in ids]
    for block in _AMAZON_IMAGE_BLOCKS:
        if block in ids:
            images.extend(ids[block].iter("img"))
    for image in images:
        for attribute in ("data-old-hires", "src"):
            url = page.absolute(image.get(attribute))
            if url:
                return url
    return None


def extract_amazon(page: Page) -> Found | None:
    ids = element_ids(page)
    currency = amazon_currency(page)
    price, shown_currency = _amazon_buybox_price(ids, page, currency)
    availability, quantity = _amazon_availability(ids)
    absent: frozenset[str] = frozenset()
    if price is None and availability in UNAVAILABLE:
        absent = NO_PRICE
    elif price is None:
        price, shown_currency = _amazon_offer_listing_price(ids, page, currency)
    list_price = _amazon_list_price(ids, page, shown_currency) if price is not None else None
    asin = amazon_asin(page)
    return Found.of(
        absent=absent,
        name=_amazon_name(ids),
        price=price,
        currency=shown_currency if price is not None else None,
        list_price=list_price if list_price is not None and price is not None and list_price > price else None,
        availability=availability,
        stock_quantity=quantity,
        sku=asin,
        image=_amazon_image(ids, page),
        platform_id=asin,
    )


# --- eBay --------------------------------------------------------------------------------

_EBAY_GATE = "ebay"
_ITEM_ID_RE = re.compile(r"/itm/(?:[^/?#]*/)?(\d{9,15})(?:[/?#]|$)")
_XP_EBAY_TITLE_TEXT = _xp("//h1[@id='itemTitle']/text()")
_XP_EBAY_TITLE = _xp(
    f"//h1[{_has_class('x-item-title__mainTitle')}] | //*[{_has_class('x-item-title__mainTitle')}]"
    f" | //h1[{_has_class('x-item-title')}]"
)
_XP_EBAY_PRICE_NEW = _xp(
    f"//*[{_has_class('x-price-primary')} or @data-testid='x-price-primary']"
)
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
    f"//*[{_has_class('ux-layout-section__textual-display--itemId')}]"
    f"//span[{_has_class('ux-textspans--BOLD')}]"
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
    return "itemTitle" in ids or "prcIsum" in ids or "prcIsum_bidPrice" in ids or bool(
        _XP_EBAY_TITLE(page.root) or _XP_EBAY_PRICE_NEW(page.root)
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


@page_cached
def detect(page: Page) -> str | None:
    """``amazon`` / ``ebay`` when the page is one of their product pages, else None."""
    if _amazon_page(page):
        return "amazon"
    if _ebay_page(page):
        return "ebay"
    return None
