"""Amazon item pages (platform ``amazon``).

Name from ``#productTitle`` (books, music, Kindle: their own title blocks),
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
"""

from __future__ import annotations

import re
from decimal import Decimal

from .adapter_markup import (
    NO_PRICE,
    UNAVAILABLE,
    _has_class,
    _is_hidden,
    _is_struck,
    _page_start,
    _quantity,
    _visible_text,
    _xp,
    element_ids,
)
from .availability import availability_from_text
from .page import Page, page_cached, text_of
from .prices import parse_display_price
from .product import Found

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
    "ATVPDKIKX0DER": "USD",
    "A2EUQ1WTGCTBG2": "CAD",
    "A1AM78C64UM0Y8": "MXN",
    "A2Q3Y263D00KWC": "BRL",
    "A1F83G8C2ARO7P": "GBP",
    "A28R8C7NBKEWEA": "EUR",
    "A1PA6795UKMFR9": "EUR",
    "A13V1IB3VIYZZH": "EUR",
    "APJ6JRA9NG5V4": "EUR",
    "A1RKKUPIHCS9HS": "EUR",
    "A1805IZSGTT6HS": "EUR",
    "AMEN7PMS3EDWL": "EUR",
    "A2NODRKZP88ZB9": "SEK",
    "A1C3SOZRARQ6R3": "PLN",
    "A33AVAJ2PDY3EV": "TRY",
    "ARBP9OOSHTCHU": "EGP",
    "A17E79C6D8DWNP": "SAR",
    "A2VIGQ35RCS4UG": "AED",
    "A21TJRUUN4KGV": "INR",
    "AE08WJ6YKNBMC": "ZAR",
    "A19VAU5U5O7RUS": "SGD",
    "A39IBJ37TRP1C6": "AUD",
    "A1VC38T7YXB528": "JPY",
}
_MARKETPLACE_ID_RE = re.compile(r"""\s*[=:]\s*["']([A-Z0-9]{9,16})["']""")

# Price blocks by element id, the buy box's first (see _amazon_buybox_price for the order).
_OFFSCREEN = f"descendant-or-self::span[{_has_class('a-offscreen')}]"
_XP_CORE_TO_PAY = _xp(f".//span[{_has_class('priceToPay')} or {_has_class('apexPriceToPay')}]")
_XP_CORE_ANY = _xp(
    f".//span[{_has_class('a-price')} and not({_has_class('a-text-price')}) and not(@data-a-strike='true')]"
)
_XP_CORE_LIST = _xp(
    f".//span[{_has_class('basisPrice')}]//span[{_has_class('a-price')}] | .//span[@data-a-strike='true']"
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
_XP_OLD_LIST = _xp(f".//*[{_has_class('priceBlockStrikePriceString')} or {_has_class('a-text-strike')}]")
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


def _amazon_page(page: Page) -> bool:
    start = _page_start(page)
    if _AMAZON_GATE not in start and not _AUI_CLASSES.intersection((page.root.get("class") or "").split()):
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
        elif any(control in ids for control in _AMAZON_BUY_CONTROLS) or any(box in ids for box in _DIGITAL_BUY_BOXES):
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
