"""Visible-page heuristics: the last stage of the cascade.

Everything is anchored on the page's main heading (the first ``<h1>`` outside site
chrome, else an element classed as the product's title, else the first element whose
text is the name the page's ``<title>`` gives). Starting at the heading, the search climbs one ancestor at a time (at most
:data:`MAX_CLIMB` levels) and stops at the first level that yields a result -- or at
the first level that holds a form or button (the buy box) without one -- so the price
found is the one next to the title and the buy button. Never considered:

* site chrome and side content: ``aside``, ``footer``, ``nav``, the site ``header``,
  hidden elements, and containers whose class/id says related / recommended /
  upsell / cross-sell / recently viewed / carousel / mini-cart ...;
* containers introduced by a heading such as "You may also like" (six languages);
* repeated cards: an element with two or more same-tag, same-class siblings that,
  together with it, contain links (product grids, carousels, listing pages) -- but
  not the one block of such a group that holds an ``h1`` (a table layout's row).

Several prices near the title: struck-through ones (``del``/``s``, ``old-price``,
``compare-at`` ...) and "was"/"statt"/"RRP" amounts are dropped, as are shipping
thresholds, savings, instalments and unit prices; of the rest, an element marked as a
price wins, then the first in document order. More than three different amounts is
not one product's price (a listing or a price table): no price rather than a random one.

Availability: a stock-marked element's phrase or class (``in-stock``), else a short
stock phrase near the title (en/de/fr/es/it/nl), else the buy button (disabled or
"Sold out" -> OutOfStock, enabled -> InStock). Identifiers: labelled values
(:mod:`.identifiers`).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from decimal import Decimal

import lxml.etree

from . import markup
from .page import XP_BODY, Page, class_and_id, clean_text, page_cached, text_of, texts_containing
from .availability import availability_from_classes, availability_from_text, stock_quantity_from_text
from .prices import current_price_segments, has_was_words, parse_display_price
from .identifiers import labelled
from .product import Found

MAX_CLIMB = 6
MAX_DISTINCT_PRICES = 3
MAX_PRICE_TEXT = 60
MAX_PHRASE_TEXT = 100  # text of an element marked as stock/availability
MAX_FREE_PHRASE_TEXT = 50  # any other text: a label, not a sentence that mentions stock

_SITE_CHROME_TAGS = frozenset({"aside", "footer", "nav", "template", "dialog"})
_SKIP_TEXT_TAGS = frozenset(
    {"script", "style", "noscript", "option", "select", "textarea", "title", "head"}
)
_STRUCK_TAGS = frozenset({"del", "s", "strike"})
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_BLOCK_TAGS = frozenset({"div", "section", "ul", "ol", "table", "aside", "dl"})

_EXCLUDED_CLASS_RE = re.compile(
    r"related|recommend|upsell|up-sell|cross-?sell|also-?(?:like|bought|viewed)|you-?may"
    r"|similar|recently|recent-?view|suggest|bestseller|trending|mini-?cart|cart-?drawer"
    r"|site-?header|masthead|navbar|menu|breadcrumb|footer|sidebar|newsletter|modal|popup"
    r"|wishlist|compare-products"
)
# carousels hold related products' prices, but also the main product's image gallery
_CAROUSEL_CLASS_RE = re.compile(r"carousel|slider|swiper|slick")
_DISPLAY_NONE_RE = re.compile(r"display\s*:\s*none")
_RELATED_HEADING_RE = re.compile(
    r"(?i)also like|might like|may like|related|recommended|recommendations|customers (?:also|who)"
    r"|frequently bought|recently (?:viewed|sold)|similar|more from|also bought|you may also"
    r"|complete the look|shop the look|best ?sellers|top sellers|popular|trending|featured"
    r"|ähnliche|das könnte|auch gefallen|kunden kauften|zuletzt angesehen|zubehör"
    r"|vous aimerez|vous pourriez|produits similaires|produits associés|récemment consultés"
    r"|te puede interesar|productos relacionados|también te|vistos recientemente"
    r"|potrebbe interessarti|prodotti correlati|prodotti simili|visti di recente"
    r"|gerelateerde|misschien ook|vergelijkbare|recent bekeken|bekijk ook"
)
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
_STOCK_CLASS_RE = re.compile(r"stock|availab|lager|disponib|voorraad|inventory")
ADD_TO_CART_RE = re.compile(
    r"(?i)add to (?:cart|basket|bag|trolley)|buy now|buy it now|in den (?:warenkorb|einkaufswagen)"
    r"|jetzt kaufen|ajouter au panier|acheter|añadir al carrito|agregar al carrito|comprar"
    r"|aggiungi al carrello|acquista|in (?:de )?winkel(?:wagen|mand)|bestellen"
)
_XP_H1 = lxml.etree.XPath("//h1")
_XP_TITLE_FALLBACK = lxml.etree.XPath(
    "//*[contains(@class, 'product_title') or contains(@class, 'product-title')"
    " or contains(@class, 'product-name') or contains(@class, 'product__title')]"
)
_DIGIT_RE = re.compile(r"\d")
_XP_BUY_CONTROLS = lxml.etree.XPath(
    "descendant::button | descendant::input[@type='submit' or @type='button']"
    " | descendant::a[contains(@class, 'cart') or contains(@class, 'buy')]"
)
_XP_IMAGES = lxml.etree.XPath("descendant::img")
_XP_FORM_OR_BUTTON = lxml.etree.XPath("descendant::form[1] | descendant::button[1]")


def _texts(scope):
    """(text, element whose content it is) for the text nodes inside ``scope``, in
    (nearly) document order. A Python walk: libxml2's text() XPaths with predicates
    cost several times more, mostly in building "smart" strings."""
    for element in scope.iter():
        tag = element.tag
        if isinstance(tag, str) and element.text and tag not in _SKIP_TEXT_TAGS:
            yield element.text, element
        if element.tail and element is not scope:
            parent = element.getparent()
            if parent.tag not in _SKIP_TEXT_TAGS:
                yield element.tail, parent


# --- what is not the main product --------------------------------------------------


def _sibling_groups(page: Page, parent) -> dict:
    """``{(tag, class): (count, has links, elements holding an h1)}`` for ``parent``'s
    children, computed once per parent: linear in the page however many siblings."""
    memo = page.cache.setdefault("visible.groups", {})
    try:
        return memo[parent]
    except KeyError:
        pass
    members: dict = {}
    for child in parent:
        if isinstance(child.tag, str):
            members.setdefault((child.tag, child.get("class")), []).append(child)
    groups = {}
    for key, same in members.items():
        if len(same) < 3:
            continue
        with_links = sum(1 for sib in same[:6] if sib.find(".//a[@href]") is not None or sib.tag == "a")
        h1_holders = [sib for sib in same if sib.find(".//h1") is not None] if with_links >= 3 else []
        groups[key] = (len(same), with_links >= 3, h1_holders)
    memo[parent] = groups
    return groups


def _is_repeated_card(page: Page, element) -> bool:
    """One of >= 3 same-tag, same-class siblings that contain links (a product grid) --
    except the one block of such a group holding the page's h1 (a table layout's row)."""
    parent = element.getparent()
    if parent is None or element.tag == "tr":  # (no len(parent) here: lxml counts children one by one)
        return False  # a table's rows are its layout; in table grids the cards are the cells
    group = _sibling_groups(page, parent).get((element.tag, element.get("class")))
    if group is None or not group[1]:
        return False
    h1_holders = group[2]
    return not (len(h1_holders) == 1 and h1_holders[0] is element)


def _is_heading_like(node) -> bool:
    """A heading, or a small wrapper around one (``<div class="sub-header"><h2>``)."""
    if node.tag in _HEADINGS:
        return True
    return 0 < len(node) <= 2 and any(child.tag in _HEADINGS for child in node)


def _introduced_by_related_heading(element) -> bool:
    """A block whose heading (first child or previous sibling) announces other products."""
    if element.tag not in _BLOCK_TAGS:
        return False
    previous = element.getprevious()
    for node in (previous, element[0] if len(element) else None):
        if node is not None and isinstance(node.tag, str) and _is_heading_like(node):
            text = text_of(node)
            if len(text) < 80 and _RELATED_HEADING_RE.search(text):
                return True
    return False


_OK, _CAROUSEL, _EXCLUDED = 0, 1, 2


def _node_category(page: Page, element) -> int:
    """Whether this element itself (not its ancestors) starts excluded content."""
    memo = page.cache.setdefault("visible.category", {})
    try:
        return memo[element]
    except KeyError:
        pass
    category = _OK
    if not isinstance(element.tag, str) or element.tag in _SITE_CHROME_TAGS:
        category = _EXCLUDED
    elif element.tag in ("html", "body"):
        pass  # their classes describe the page layout ("right-sidebar"), not a region
    else:
        tokens = class_and_id(element)
        style = element.get("style") or ""
        if (
            element.get("hidden") is not None
            or ("none" in style and _DISPLAY_NONE_RE.search(style))
            or (tokens and _EXCLUDED_CLASS_RE.search(tokens))
            or _introduced_by_related_heading(element)
            or _is_repeated_card(page, element)
        ):
            category = _EXCLUDED
        elif tokens and _CAROUSEL_CLASS_RE.search(tokens):
            category = _CAROUSEL
    memo[element] = category
    return category


_ROOT_STATE = (False, False, False)  # (excluded, excluded counting carousels, inside <main>)


def _state(page: Page, element) -> tuple[bool, bool, bool]:
    memo = page.cache.setdefault("visible.state", {})
    chain = []
    node = element
    while node is not None and node not in memo:
        chain.append(node)
        node = node.getparent()
    state = memo[node] if node is not None else _ROOT_STATE
    for node in reversed(chain):
        excluded, excluded_carousels, inside_main = state
        if not excluded:
            if node.tag == "header" and not inside_main:
                category = _EXCLUDED  # the site header; <header> inside <main>/<article> is content
            else:
                category = _node_category(page, node)
            excluded = category == _EXCLUDED
            excluded_carousels = excluded or excluded_carousels or category == _CAROUSEL
        state = (excluded, excluded_carousels, inside_main or node.tag in ("main", "article"))
        memo[node] = state
    return state


def is_excluded(page: Page, element, *, carousels: bool = True) -> bool:
    """Whether ``element`` sits in site chrome, related products, cards or hidden parts.

    With ``carousels=False`` carousels/sliders are allowed (image galleries).
    """
    state = _state(page, element)
    return state[1] if carousels else state[0]


# --- the anchor ---------------------------------------------------------------------


@page_cached
def main_heading(page: Page):
    """The main product title element: first visible h1 outside chrome and cards."""
    for heading in _XP_H1(page.root):
        if text_of(heading) and not is_excluded(page, heading):
            return heading
    for heading in _XP_TITLE_FALLBACK(page.root):
        text = text_of(heading)
        if text and len(text) < 200 and not is_excluded(page, heading):
            return heading
    return _element_titled(page)


_TITLE_SEPARATORS_RE = re.compile(r"\s+[-|–—:]\s+|\s*[|｜]\s*")


def _element_titled(page: Page):
    """No h1: the first element of the body whose whole text is the product's name as the
    page's ``<title>`` / ``og:title`` give it ("Name - Shop", "Shop | Name")."""
    names = set()
    for title in (page.title, page.metas.get("og:title")):
        for part in _TITLE_SEPARATORS_RE.split(clean_text(title)):
            if len(part) >= 4:
                names.add(part)
    body = XP_BODY(page.root)
    if not names or not body:
        return None
    for raw, element in _texts(body[0]):
        if element.tag not in ("a", "option", "button", "label") and len(raw) < 200:
            if clean_text(raw) in names and not is_excluded(page, element):
                return element
    return None


@page_cached
def main_heading_text(page: Page) -> str | None:
    heading = main_heading(page)
    return text_of(heading) if heading is not None else None


def _climb(page: Page, finder, max_levels: int = MAX_CLIMB, *, stop_at_form: bool = True):
    """Apply ``finder(scope)`` to the heading's ancestors, nearest first.

    The climb ends at the first ancestor that holds a form or button (the product's
    buy box): what belongs to the product sits inside it, next to the title, and
    whatever lies further out belongs to other content.
    """
    node = main_heading(page)
    if node is None:
        return None
    for _ in range(max_levels):
        node = node.getparent()
        if node is None or node.tag == "html":
            return None
        found = finder(node)
        if found:
            return found
        if stop_at_form and _XP_FORM_OR_BUTTON(node):
            return None
    return None


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
    labelled = f"{_label_before(element)} {text_of(element)[:2 * MAX_PRICE_TEXT]}"
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


# --- availability ----------------------------------------------------------------------


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
            ADD_TO_CART_RE.search(label)
            or "add-to-cart" in name
            or "addtocart" in name
            or control.get("name") == "add"
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

