"""What the platform and marketplace adapters share.

XPath helpers; the first text an XPath finds; a JSON value's dicts and text; the product's URL.
The marketplaces (:mod:`.amazon`, :mod:`.ebay`) also share:

Element ids looked up in one dict built by a single walk of the tree
(:func:`element_ids`), not by one XPath scan each: Amazon pages run to 1-2 MB; text
without script/style content; struck-through and hidden price elements; the stock
quantity a buy box's stock line states; the start of the page the cheap gates look at.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import lxml.etree

from .availability import stock_quantity_from_text
from .page import Page, clean_text, page_cached, text_of

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
    return (
        " aok-hidden " in classes
        or " a-hidden " in classes
        or "display:none" in (element.get("style") or "").replace(" ", "")
    )


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
_LOWER_BOUND_RE = re.compile(r"(?i)(?<!\w)(?:more than|over|plus de|mehr als|über|più di|oltre|más de|meer dan)\s+\d")


def _quantity(text: str, availability: str | None) -> int | None:
    """The stock quantity a buy box's stock line states ("Only 3 left"), if exact."""
    if not text or availability in UNAVAILABLE or _LOWER_BOUND_RE.search(text):
        return None
    return stock_quantity_from_text(text)


# Cheap gates, looked for in the first characters of the page only (the head's first
# scripts and links): Amazon's name (its image CDNs images-amazon.com / media-amazon.com
# and its ``ue_*`` page metrics' scripts carry it), the AUI ``a-no-js`` class on <html>;
# eBay's name (its static and image hosts). One substring each: every page pays for
# these. The product markup that follows decides.
_GATE_CHARS = 5000


@page_cached
def _page_start(page: Page) -> str:
    return page.source[:_GATE_CHARS]


def _first_text(xpath: lxml.etree.XPath, node) -> str | None:
    for element in xpath(node):
        text = element if isinstance(element, str) else text_of(element)
        text = text.strip()
        if text:
            return text
    return None


def _dicts(value: Any) -> list[dict]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    """A JSON string or number as text; anything else (lists, objects, booleans) is None."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    return str(value).strip() or None


def _product_url(page: Page, path: Any = None) -> str:
    """The product's own URL (no query): the product JSON's ``url``, else the canonical or the page URL."""
    url = page.absolute(path) if isinstance(path, str) and path.strip() else None
    url = url or page.canonical_url or page.url
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
