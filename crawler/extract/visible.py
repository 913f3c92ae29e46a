"""Visible-page heuristics: the last stage of the cascade.

Everything is anchored on the page's main heading and searched from it outwards, one
ancestor at a time, stopping at the buy box (:mod:`.anchor`, which also says what is
never the main product: site chrome, related products, repeated cards, hidden parts),
so the price found is the one next to the title and the buy button.

Several prices near the title: struck-through ones (``del``/``s``, ``old-price``,
``compare-at`` ...) and "was"/"statt"/"RRP" amounts are dropped, as are shipping
thresholds, savings, instalments and unit prices; of the rest, an element marked as a
price wins, then the first in document order. More than three different amounts is
not one product's price (a listing or a price table): no price rather than a random one.
:func:`shows_amount_set_aside` tells the cascade whether an amount is shown set aside
(struck through, labelled "was").

Availability: :mod:`.stock` (a stock label or phrase near the title, else the buy
button). Identifiers: labelled values (:mod:`.identifiers`). Image: the first one near
the title.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from decimal import Decimal

import lxml.etree

from . import markup
from .anchor import _HEADINGS, _climb, _texts, is_excluded, main_heading_text
from .identifiers import labelled
from .page import Page, class_and_id, clean_text, page_cached, text_of, texts_containing
from .prices import current_price_segments, has_was_words, parse_display_price
from .product import Found
from .stock import main_availability

MAX_DISTINCT_PRICES = 3
MAX_PRICE_TEXT = 60

_STRUCK_TAGS = frozenset({"del", "s", "strike"})

_OLD_PRICE_CLASS_RE = re.compile(
    r"old|was-?price|price-?was|compare|strike|line-?through|crossed|before|original|rrp|uvp|msrp"
    r"|list-?price"
)
_PRICE_CLASS_RE = re.compile(r"price|amount|preis|prix|precio|prezzo|prijs|cost")
# a currency symbol or code somewhere in the text (a cheap filter before price-parser)
_CURRENCY_HINT_RE = re.compile(
    r"[£€$¥￥₹₩₽₺₪฿₫₱₴₦円元]"
    r"|(?<![A-Za-z])(?:[A-Z]{3}|kr|zł|zl|Kč|Ft|lei|Fr|fr|Rs|R|лв|руб)(?![A-Za-z])"
)
_BEFORE_TAX = (
    r"brez ddv|ohne mwst|(?:exkl|zzgl|exkl\.|zzgl\.)\s*mwst|excl(?:\.|uding)?\s*(?:vat|tax|btw|gst)|ex\.?\s*vat"
    r"|before tax|sans tva|hors tax|\bht\b|bez (?:dph|pvn|pvm|ddv|pdv|vat)|sin iva|senza iva|sem iva"
    r"|exkl\.?\s*moms|ekskl\.?\s*mva|без ндс|netto"
)
# matched on lower-cased text: sre's case-insensitive mode is ~3x slower on these many alternatives
_BEFORE_TAX_RE = re.compile(_BEFORE_TAX)
_NOT_PRICE_RE = re.compile(
    r"shipping|delivery|versand|livraison|envío|envio|spedizione|verzending|\bsave\b|spare"
    r"|économisez|ahorra|risparmi|bespaar|month|/mo\b|monat|mois|/mes\b|al mes|mese|maand"
    r"|instal+ments?|klarna|afterpay|ratenzahlung|每期|分期|期0?利率|滿額|满额|加購|加购|/\s*(?:kg|g|l|ml|m|100\s?g|100\s?ml)\b"
    r"|per (?:kg|unit|litre|liter)|pro (?:kg|stück|liter)|grundpreis|prix au (?:kilo|litre)"
    # the price before tax, shown beside the price a buyer pays
    rf"|{_BEFORE_TAX}"
    # free-delivery thresholds, auction estimates and opening bids
    r"|bezmaksas|free (?:shipping|delivery|returns)|kostenlos|gratuit|gratis"
    r"|estimate|schätz|estimation|stima|starting (?:price|bid)|opening bid|startpreis|mindestgebot"
    r"|prix de départ|precio de salida|prezzo di partenza"
)
_DIGIT_RE = re.compile(r"\d")
_XP_IMAGES = lxml.etree.XPath("descendant::img")


# --- price -----------------------------------------------------------------------------


@dataclass
class PriceCandidate:
    order: int
    amount: Decimal
    currency: str | None
    marked: bool  # the element (or a close ancestor) is marked as a price
    element: object


def _marked_as_price(element, levels: int = 3) -> bool:
    node = element
    for _ in range(levels):
        if node is None:
            return False
        if node.get("itemprop") == "price" or _PRICE_CLASS_RE.search(class_and_id(node)):
            return True
        node = node.getparent()
    return False


_NOT_STRUCK, _STRUCK_BY_CLASS, _STRUCK = 0, 1, 2


def _struck(element, scope, levels: int | None = None) -> int:
    """Whether the price is shown as a former one: by a ``del``/``s`` tag, else by a class (looking up to
    ``scope``, or ``levels`` ancestors)."""
    node = element
    found = _NOT_STRUCK
    while node is not None and node is not scope and levels != 0:
        levels = None if levels is None else levels - 1
        if node.tag in _STRUCK_TAGS:
            return _STRUCK
        if found == _NOT_STRUCK and _OLD_PRICE_CLASS_RE.search(class_and_id(node)):
            found = _STRUCK_BY_CLASS
        node = node.getparent()
    return found


def _label_before(element, limit: int = 40, levels: int = 2) -> str:
    """The text just before ``element`` in its parent ("Was", "Versand:"), at most ``limit`` chars;
    when that holds no word (``每期<span>$<span>98</span></span>``), the parent's label before it."""
    parts = []
    parent = None
    for sibling in element.itersiblings(preceding=True):
        parts.append(sibling.tail or "")
        if not isinstance(sibling.tag, str) or len(parts) > 2 or sibling.tag in _HEADINGS:
            break  # a heading before a price is the product's name, not a label ("... Before You Die")
        parts.append(sibling.text_content())
    else:  # reached the first child: the parent's own leading text comes first
        parent = element.getparent()
        if parent is not None:
            parts.append(parent.text or "")
    label = clean_text("".join(reversed(parts)))
    if parent is not None and levels > 1 and not any(ch.isalpha() for ch in label):
        label = f"{_label_before(parent, limit, levels - 1)} {label}".strip()
    return label[-limit:]


def _price_candidates(page: Page, scope, dropped: dict | None = None) -> list[PriceCandidate]:
    """The current prices in ``scope``; when there are none, the one amount a class calls
    "old"/"original" (``price-old-live``: shops name classes oddly, and a former price
    never stands alone). ``dropped`` collects the amounts set aside: ``{amount: why}``."""
    dropped = {} if dropped is None else dropped
    context = page.currency_context
    seen = set()
    found = []
    former = []
    for order, (raw, element) in enumerate(_texts(scope)):
        if len(raw) > 2 * MAX_PRICE_TEXT or element in seen or not _DIGIT_RE.search(raw):
            continue
        text = clean_text(raw)
        if not _CURRENCY_HINT_RE.search(text) and not _marked_as_price(element):
            text = _with_neighbour_currency(raw, element)
            if text is None:
                continue  # "(22 available)", "4.5 out of 5": no currency, not marked as a price
        amount, currency = parse_display_price(text, context)
        # the currency symbol often sits in a sibling span: retry on short ancestors
        node = element
        for _ in range(2):
            if currency is not None or amount is None or node.getparent() is None:
                break
            wider = text_of(node.getparent())
            if len(wider) > MAX_PRICE_TEXT:
                break
            node = node.getparent()
            amount, currency = parse_display_price(wider, context)
            text = wider
        seen.add(node)
        struck = _STRUCK if amount is None else max(_struck(element, scope), _struck(node, scope))
        if is_excluded(page, node):
            continue
        if struck == _STRUCK:
            if amount is not None:
                dropped.setdefault(amount, "a former price")
            continue
        marked = _marked_as_price(node)
        if currency is None and not marked:
            continue
        labelled = f"{_label_before(node)} {_text_before(raw, node)} {text}"
        not_price = _NOT_PRICE_RE.search(labelled.lower())
        if not_price:
            dropped.setdefault(amount, f"{not_price.group(0).lower()!r}")
            continue
        if has_was_words(labelled) and _is_former_amount(amount, labelled, page):
            dropped.setdefault(amount, "a former price")
            continue
        (former if struck == _STRUCK_BY_CLASS else found).append(PriceCandidate(order, amount, currency, marked, node))
        if len(found) > MAX_DISTINCT_PRICES and len({c.amount for c in found}) > MAX_DISTINCT_PRICES:
            return found  # a price table or a listing: no price here (see _choose_price); stop early
    if not found and len({candidate.amount for candidate in former}) == 1:
        return former
    for candidate in former:
        dropped.setdefault(candidate.amount, "a former price")
    return found


def _text_before(raw: str, node, limit: int = 40) -> str:
    """The element's own text before this piece of it ("Estimate <!-- -->$300": "Estimate")."""
    full = text_of(node)
    index = full.find(clean_text(raw))
    return full[max(0, index - limit) : index] if index > 0 else ""


_BARE_AMOUNT_RE = re.compile(r"\s*\d[\d.,\s]*")


def _with_neighbour_currency(raw: str, element) -> str | None:
    """A bare number styled on its own with its currency in the text around it
    (``$<span>29</span>元起``, ``<span>294</span><span>元</span>``): the number with
    those neighbours, when they carry a currency; else None."""
    if raw != element.text or not _BARE_AMOUNT_RE.fullmatch(raw):
        return None
    previous, parent = element.getprevious(), element.getparent()
    before = (previous.tail if previous is not None else parent.text if parent is not None else "") or ""
    after = element.tail or ""
    if not after.strip() and element.getnext() is not None:
        after = element.getnext().text or ""
    text = f"{before.strip()[-6:]} {raw.strip()} {after.strip()[:6]}".strip()
    return text if _CURRENCY_HINT_RE.search(text) else None


def _is_former_amount(amount: Decimal, text: str, page: Page) -> bool:
    """The amount appears only after "was"/"statt"/"RRP" words in ``text``."""

    def amounts(segments: list[str]) -> set:
        return {parse_display_price(segment, page.currency_context)[0] for segment in segments}

    current, former = current_price_segments(text)
    return amount in amounts(former) and amount not in amounts(current)


def _choose_price(candidates: list[PriceCandidate]) -> PriceCandidate | None:
    if not candidates or len({c.amount for c in candidates}) > MAX_DISTINCT_PRICES:
        return None
    return max(candidates, key=lambda c: (c.marked, -c.order))


def shows_amount_set_aside(page: Page, amount: Decimal) -> bool:
    """A cheap look before :func:`main_price_shown`: does the page show ``amount`` only struck through,
    in an "old"-like element or after a label that says it is not the price (never plainly)?"""
    whole = str(int(amount))
    if _plain_in_markup(page, whole):
        return False  # the raw markup shows it plainly and nowhere set aside: no walk of the tree
    strong, before_tax, plain = False, False, []
    for raw in texts_containing(page, whole):
        element = raw.getparent()
        if element is None or len(raw) > 2 * MAX_PRICE_TEXT:
            continue
        if raw.is_tail and element.getparent() is not None:
            element = element.getparent()
        why = _set_aside(element)
        if why == "before tax":
            before_tax = True
        elif why:
            strong = True
        else:
            plain.append(element)
    if before_tax and not strong:
        return not plain  # shown both before and with tax at one amount ("excl. tax £26.08 / incl. tax £26.08")
    # shown plainly in the page's own content: a price the page shows (exclusion is the dear part: last)
    return strong and not any(not is_excluded(page, element) for element in plain)


#: how far before an amount, in the raw markup, what sets it aside would be (a del/s tag, an "old"
#: class on the element or its parents, a label)
_MARKUP_WINDOW = 400
_MARKUP_STRUCK_RE = re.compile(r"<(?:del|s|strike)[\s>/]", re.IGNORECASE)
#: a class or id (of the lower-cased markup) that says "old price" (:data:`_OLD_PRICE_CLASS_RE`'s words)
_MARKUP_OLD_CLASS_RE = re.compile(rf"""(?:class|id)\s*=\s*["']?[^"'<>]*?(?:{_OLD_PRICE_CLASS_RE.pattern})""")
_MARKUP_TAG_RE = re.compile(r"<[^>]*>")
_MARKUP_HEADING_END_RE = re.compile(r"</h[1-6]\s*>", re.IGNORECASE)
#: where an element's own text ends, near enough: the next block's start or end
_MARKUP_BLOCK_RE = re.compile(
    r"</?(?:p|div|li|tr|td|th|h[1-6]|dd|dt|dl|section|article|ul|ol|table|br)\b", re.IGNORECASE
)


def _plain_in_markup(page: Page, whole: str) -> bool:
    """:func:`shows_amount_set_aside`'s own cheap look, on the raw markup: the body's text shows ``whole``
    somewhere with nothing near it that could set it aside, and nowhere more than after a before-tax
    label. Near is :data:`_MARKUP_WINDOW` characters of markup before the amount (any del/s tag or
    "old" class there, not only the ancestors'), the text back to the last heading (40 characters, or
    160 for the tail of a child, whose element's text starts earlier) and the amount's own text. So
    "plainly" here is plainly for the tree too, but for an element whose start or label lies further
    back; anything unclear is False (the tree decides)."""
    try:
        occurrences = list(markup.text_occurrences(page, whole))
    except markup.Unsure:
        return False
    source = page.source
    body = markup.body_start(page)
    plain = False
    for position, text_start, text_end, first in occurrences:
        if text_end - text_start > 2 * MAX_PRICE_TEXT:
            if "&" in source[text_start:text_end]:
                return False  # entities: the tree's text may be short enough to be looked at
            continue  # a sentence, not a price (the tree's look skips it too)
        before = source[max(body, position - _MARKUP_WINDOW) : position]
        if _MARKUP_STRUCK_RE.search(before) or _MARKUP_OLD_CLASS_RE.search(before.lower()):
            return False
        cut = len(before) - (position - text_start)
        leading = before[:cut] if cut > 0 else ""
        headings = [match.end() for match in _MARKUP_HEADING_END_RE.finditer(leading)]
        label = clean_text(_MARKUP_TAG_RE.sub(" ", leading[headings[-1] if headings else 0 :]))
        label = label[-40:] if first else label[-(40 + 2 * MAX_PRICE_TEXT) :]
        after = source[text_start : text_start + 2 * MAX_PRICE_TEXT]
        block = _MARKUP_BLOCK_RE.search(after)
        own = clean_text(_MARKUP_TAG_RE.sub(" ", after[: block.start()] if block else after))
        labelled = f"{label} {own}"
        if "&" in labelled:
            labelled = html.unescape(labelled)
        lowered = labelled.lower()
        if _BEFORE_TAX_RE.search(lowered):
            continue  # before tax: neither plain nor set aside for good
        if _NOT_PRICE_RE.search(lowered) or has_was_words(labelled):
            return False
        plain = True
    return plain


def _set_aside(element) -> str | None:
    """Why the amount in ``element`` is not the price a buyer pays ("former", "before tax", "labelled"), if so."""
    if _struck(element, None, levels=3):
        return "former"
    labelled = f"{_label_before(element)} {text_of(element)[: 2 * MAX_PRICE_TEXT]}"
    lowered = labelled.lower()
    if _BEFORE_TAX_RE.search(lowered):
        return "before tax"
    return "labelled" if _NOT_PRICE_RE.search(lowered) or has_was_words(labelled) else None


@page_cached
def main_price(page: Page) -> PriceCandidate | None:
    """The price shown next to the main heading, or None."""
    return main_price_shown(page)[0]


@page_cached
def main_price_shown(page: Page) -> tuple[PriceCandidate | None, dict]:
    """The price next to the main heading, and the amounts shown beside it that are not
    the price a buyer pays (``{amount: "a former price" | the label that says so}``)."""
    dropped: dict = {}

    def finder(scope):
        dropped.clear()
        return _choose_price(_price_candidates(page, scope, dropped))

    chosen = _climb(page, finder)
    return chosen, (dict(dropped) if chosen is not None else {})


# --- image ---------------------------------------------------------------


def _image_in(page: Page, scope) -> str | None:
    for image in _XP_IMAGES(scope):
        src = image.get("src") or image.get("data-src") or image.get("data-original")
        if src and not src.strip().startswith("data:") and ".svg" not in src:
            if not is_excluded(page, image, carousels=False):
                return page.absolute(src)
    return None


# --- the stage -------------------------------------------------------------------------


def extract(page: Page) -> Found | None:
    name = main_heading_text(page)
    if not name:
        return None
    price = main_price(page)
    availability = main_availability(page)
    sku, gtin = labelled(page)
    return Found.of(
        name=name,
        price=price.amount if price else None,
        currency=price.currency if price else None,
        availability=availability[0] if availability else None,
        stock_quantity=availability[1] if availability else None,
        sku=sku,
        gtin=gtin,
        image=_climb(page, lambda scope: _image_in(page, scope), max_levels=3, stop_at_form=False),
    )
