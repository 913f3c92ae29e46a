"""The anchor of the visible-page heuristics: the main heading, and what is not the main product.

:func:`main_heading` is the page's main product title: the first ``<h1>`` outside site
chrome, else an element classed as the product's title, else the first element whose
text is the name the page's ``<title>`` gives. :func:`_climb` searches from it one
ancestor at a time (at most :data:`MAX_CLIMB` levels) and stops at the first level
that yields a result -- or at the first level that holds a form or button (the buy
box) without one. :func:`is_excluded` says what is never the main product:

* site chrome and side content: ``aside``, ``footer``, ``nav``, the site ``header``,
  hidden elements, and containers whose class/id says related / recommended /
  upsell / cross-sell / recently viewed / carousel / mini-cart ...;
* containers introduced by a heading such as "You may also like" (six languages);
* repeated cards: an element with two or more same-tag, same-class siblings that,
  together with it, contain links (product grids, carousels, listing pages) -- but
  not the one block of such a group that holds an ``h1`` (a table layout's row).
"""

from __future__ import annotations

import re

import lxml.etree

from .page import XP_BODY, Page, class_and_id, clean_text, page_cached, text_of

MAX_CLIMB = 6

_SITE_CHROME_TAGS = frozenset({"aside", "footer", "nav", "template", "dialog"})
_SKIP_TEXT_TAGS = frozenset({"script", "style", "noscript", "option", "select", "textarea", "title", "head"})
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
_XP_H1 = lxml.etree.XPath("//h1")
_XP_TITLE_FALLBACK = lxml.etree.XPath(
    "//*[contains(@class, 'product_title') or contains(@class, 'product-title')"
    " or contains(@class, 'product-name') or contains(@class, 'product__title')]"
)
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
