"""Availability near the main heading: stock labels, short stock phrases, the buy button.

A stock-marked element's phrase or class (``in-stock``), else a short stock phrase
near the title (en/de/fr/es/it/nl), else the buy button (disabled or "Sold out" ->
OutOfStock, enabled -> InStock). :func:`main_buy_controls` are the add-to-cart
controls next to the title (page classification reads them too).
"""

from __future__ import annotations

import re

import lxml.etree

from .anchor import _climb, _texts, is_excluded
from .availability import availability_from_classes, availability_from_text, stock_quantity_from_text
from .page import Page, class_and_id, clean_text, page_cached, text_of

MAX_PHRASE_TEXT = 100  # text of an element marked as stock/availability
MAX_FREE_PHRASE_TEXT = 50  # any other text: a label, not a sentence that mentions stock
_STOCK_CLASS_RE = re.compile(r"stock|availab|lager|disponib|voorraad|inventory")
ADD_TO_CART_RE = re.compile(
    r"(?i)add to (?:cart|basket|bag|trolley)|buy now|buy it now|in den (?:warenkorb|einkaufswagen)"
    r"|jetzt kaufen|ajouter au panier|acheter|añadir al carrito|agregar al carrito|comprar"
    r"|aggiungi al carrello|acquista|in (?:de )?winkel(?:wagen|mand)|bestellen"
)
_XP_BUY_CONTROLS = lxml.etree.XPath(
    "descendant::button | descendant::input[@type='submit' or @type='button']"
    " | descendant::a[contains(@class, 'cart') or contains(@class, 'buy')]"
)


def _availability_of(element) -> tuple[str, int | None] | None:
    text = text_of(element)
    if len(text) <= MAX_PHRASE_TEXT:
        availability = availability_from_text(text)
        if availability:
            return availability, stock_quantity_from_text(text)
    availability = availability_from_classes(class_and_id(element))
    return (availability, stock_quantity_from_text(text)) if availability else None


def _availability_in(page: Page, scope):
    for element in scope.iter():
        if isinstance(element.tag, str) and _STOCK_CLASS_RE.search(class_and_id(element)):
            found = _availability_of(element)
            if found and not is_excluded(page, element):
                return found
    for raw, element in _texts(scope):
        if len(raw) > 3 * MAX_FREE_PHRASE_TEXT:
            continue
        text = clean_text(raw)
        availability = len(text) <= MAX_FREE_PHRASE_TEXT and availability_from_text(text)
        if availability and not is_excluded(page, element):
            return availability, stock_quantity_from_text(text)
    return None


def buy_controls(page: Page, scope) -> list:
    """Add-to-cart buttons in ``scope`` that are not in cards or related blocks."""
    found = []
    for control in _XP_BUY_CONTROLS(scope):
        label = text_of(control) or control.get("value") or control.get("aria-label") or ""
        name = (control.get("name") or "") + " " + class_and_id(control)
        if (
            ADD_TO_CART_RE.search(label) or "add-to-cart" in name or "addtocart" in name or control.get("name") == "add"
        ) and not is_excluded(page, control):
            found.append(control)
    return found


@page_cached
def main_buy_controls(page: Page) -> list:
    """The add-to-cart controls next to the main heading (empty when none)."""
    return _climb(page, lambda scope: buy_controls(page, scope), max_levels=4) or []


def _availability_from_button(page: Page, scope):
    for control in buy_controls(page, scope):
        label = text_of(control) or control.get("value") or ""
        said = availability_from_text(label)
        if said:
            return said, None
        disabled = control.get("disabled") is not None or control.get("aria-disabled") == "true"
        return ("OutOfStock" if disabled else "InStock"), None
    return None


@page_cached
def main_availability(page: Page) -> tuple[str, int | None] | None:
    return _climb(page, lambda scope: _availability_in(page, scope)) or _climb(
        page, lambda scope: _availability_from_button(page, scope)
    )
