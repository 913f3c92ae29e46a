"""The website's own selector overrides: ``{"price"|"name"|"availability"|"sku": selector}``.

A selector is XPath when it starts with ``/`` or ``(``, otherwise CSS (parsel's dialect,
so ``::text`` and ``::attr(name)`` work). For the fields it names and matches, an
override wins over every other source, structured data included: a user configures
one because the page's own data is wrong or incomplete. A selector that is invalid or
matches nothing is ignored and the cascade fills the field as usual.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import lxml.etree
from cssselect import SelectorError
from parsel.csstranslator import HTMLTranslator

from .availability import normalize_availability, stock_quantity_from_text
from .identifiers import strip_id_label
from .page import Page, clean_text, text_of
from .prices import parse_display_price
from .product import Found

logger = logging.getLogger(__name__)

FIELDS = ("price", "name", "availability", "sku")
_TRANSLATOR = HTMLTranslator()


def is_xpath(selector: str) -> bool:
    return selector.lstrip().startswith(("/", "("))


@functools.lru_cache(maxsize=1024)
def compile_selector(selector: str) -> lxml.etree.XPath | None:
    selector = selector.strip()
    try:
        expression = selector if is_xpath(selector) else _TRANSLATOR.css_to_xpath(selector)
        return lxml.etree.XPath(expression)
    except (SelectorError, lxml.etree.XPathError, ValueError) as error:
        logger.warning("ignoring invalid selector %r: %s", selector, error)
        return None


def _value(match: Any) -> str:
    """Text of an XPath result: a string, a number, or an element (its content/value or text)."""
    if isinstance(match, str):
        return clean_text(match)
    if isinstance(match, float):
        return format(match, "g")
    if not isinstance(getattr(match, "tag", None), str):
        return ""
    if match.tag in ("meta", "input", "data"):
        return clean_text(match.get("content") or match.get("value"))
    return clean_text(match.get("content")) or text_of(match)


def select_text(page: Page, selector: str) -> str | None:
    """The first non-empty value the selector yields on the page."""
    xpath = compile_selector(selector) if isinstance(selector, str) and selector.strip() else None
    if xpath is None:
        return None
    try:
        result = xpath(page.root)
    except lxml.etree.XPathError:
        return None
    for match in result if isinstance(result, list) else [result]:
        value = _value(match)
        if value:
            return value
    return None


def extract(page: Page, selectors: dict | None) -> Found | None:
    if not selectors:
        return None
    texts = {field: select_text(page, selectors.get(field)) for field in FIELDS if selectors.get(field)}
    fields: dict[str, Any] = {"name": texts.get("name")}
    if texts.get("price"):
        fields["price"], fields["currency"] = parse_display_price(texts["price"], page.currency_context)
    if texts.get("availability"):
        fields["availability"] = normalize_availability(texts["availability"])
        fields["stock_quantity"] = stock_quantity_from_text(texts["availability"])
    if texts.get("sku"):
        fields["sku"] = strip_id_label(texts["sku"])
    return Found.of(**fields)
