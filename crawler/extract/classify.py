"""Page classification for the discovery crawler: product page, listing, or other.

Signals, with weights (product side / listing side):

* schema.org Product data for one main product (+3); og:type product (+1.5);
  product:price metas (+1.5); the platform's own product data (+2); a product-shaped URL (``/products/x``,
  ``/product/x``, ``/dp/x``, ``/p/x``, ``/item/x``, ``/catalogue/<slug>_<id>/``) (+1.5);
  one price next to the h1 (+1.5); a buy button outside product cards (+1);
* an ItemList/CollectionPage (+2.5); four or more priced product cards while no
  price sits next to the h1 (+2); pagination (+1.5); a listing-shaped URL
  (``/category/``, ``/collections/x`` without a product handle, ``?page=``) (+1.5).

``kind`` is "product" when the product side has at least 2.5 and outweighs the
listing side, "listing" when the listing side has at least 2 and is not outweighed,
otherwise "other" (also a site's home page ``/`` without strong product data).
``score`` is the confidence in that kind, in [0, 1].
Classification reuses everything the extraction computed on the same :class:`Page`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import lxml.etree

from . import anchor, jsonld, opengraph, platforms, rdfa, stock, visible
from .page import Page
from .schemaorg import has_listing, product_nodes

_PRODUCT_URL_RE = re.compile(
    r"/(?:products?|dp|gp/product|p|item|items|produkt|produit|producto|prodotto|artikel)/[^/?#]+"
    r"|/catalogue/(?!category/)[^/?#]+_\d+(?:/|$)",
    re.IGNORECASE,
)
_LISTING_URL_RE = re.compile(
    r"/(?:category|categories|kategorie|categorie|categoria|c|search|suche|recherche"
    r"|catalogue/category)(?:/|$|\?)|/collections/[^/?#]+/?(?:$|\?)|/shop/?(?:$|\?)"
    r"|[?&](?:page|p|q|s)=|/page/\d+",
    re.IGNORECASE,
)


def product_shaped_url(url: str) -> bool:
    """Whether a URL has a product page's shape (``/products/x``, ``/dp/X``, ``/catalogue/x_12/``)."""
    return bool(_PRODUCT_URL_RE.search(urlsplit(url).path))


_XP_PAGINATION = lxml.etree.XPath(
    "//link[@rel='next'] | //a[@rel='next'] | //*[contains(@class, 'pagination')"
    " or contains(@class, 'pager') or contains(@class, 'page-numbers')][1]"
)
_XP_PRICE_ELEMENTS = lxml.etree.XPath("//*[contains(@class, 'price')][not(ancestor::*[contains(@class, 'price')])]")
_XP_TOP_MICRODATA_PRODUCTS = lxml.etree.XPath(
    "//*[@itemscope and contains(@itemtype, 'Product') and not(ancestor::*[@itemscope])]"
)
_XP_LISTING_MICRODATA = lxml.etree.XPath("//*[@itemscope and contains(@itemtype, 'ItemList')][1]")

MIN_CARDS = 4


@dataclass
class PageClass:
    kind: str  # "product" | "listing" | "other"
    score: float
    reasons: list[str] = field(default_factory=list)


def _structured_products(page: Page) -> int:
    """Top-level schema.org products (microdata ones in related/card blocks not counted)."""
    count = len(product_nodes(jsonld.items(page)))
    if page.contains("itemscope"):
        count += sum(1 for node in _XP_TOP_MICRODATA_PRODUCTS(page.root) if not anchor.is_excluded(page, node))
    if page.has_rdfa():
        count += len(product_nodes(rdfa.items(page)))
    return count


def _has_listing_data(page: Page) -> bool:
    if has_listing(jsonld.items(page)):
        return True
    return page.contains("itemscope") and bool(_XP_LISTING_MICRODATA(page.root))


def _has_pagination(page: Page) -> bool:
    return page.contains('rel="next"', "rel='next'", "pagination", "pager", "page-numbers") and bool(
        _XP_PAGINATION(page.root)
    )


def _card_prices(page: Page) -> int:
    return sum(1 for element in _XP_PRICE_ELEMENTS(page.root) if anchor.is_excluded(page, element))


def _platform_product(page: Page) -> bool:
    platform = platforms.detect(page)
    return bool(platform and platforms.PRODUCT_IDS[platform](page))


def classify(page: Page) -> PageClass:
    product, listing, reasons = 0.0, 0.0, []

    def signal(product_points: float, listing_points: float, reason: str) -> None:
        nonlocal product, listing
        product += product_points
        listing += listing_points
        reasons.append(reason)

    structured = _structured_products(page)
    if structured == 1 or (structured and page.contains("ProductGroup", "hasVariant")):
        signal(3, 0, "structured data: one Product")
    elif structured > 1:
        signal(0, 1, f"structured data: {structured} Products")
    if _has_listing_data(page):
        signal(0, 2.5, "structured data: ItemList")
    props = opengraph.properties(page)
    if "product" in props.get("og:type", "").lower():
        signal(1.5, 0, "og:type product")
    if opengraph.has_price_metas(props):
        signal(1.5, 0, "product price metas")
    if _platform_product(page):
        signal(2, 0, f"{platforms.detect(page)} product data")
    path = page.url.split("#", 1)[0]
    if _PRODUCT_URL_RE.search(path):
        signal(1.5, 0, "product-shaped URL")
    elif _LISTING_URL_RE.search(path):
        signal(0, 1.5, "listing-shaped URL")
    main_price = visible.main_price(page)
    if main_price is not None:
        signal(1.5, 0, "one price next to the h1")
        if stock.main_buy_controls(page):
            signal(1, 0, "buy button next to the product")
    else:
        cards = _card_prices(page)
        if cards >= MIN_CARDS:
            signal(0, 2, f"{cards} prices in product cards or side content")
    if _has_pagination(page):
        signal(0, 1.5, "pagination")

    if page.url_parts.path in ("", "/") and product < 3:
        reasons.append("home page URL")
        return PageClass("other", round(1 / (1 + product), 3), reasons)
    if product >= 2.5 and product > listing:
        return PageClass("product", round(product / (product + listing + 1), 3), reasons)
    if listing >= 2 and listing >= product:
        return PageClass("listing", round(listing / (product + listing + 1), 3), reasons)
    return PageClass("other", round(1 / (1 + max(product, listing)), 3), reasons)


def classify_page(html_or_tree, url: str) -> PageClass:
    """Classify HTML text/bytes, an lxml tree, a parsel Selector, or a parsed Page."""
    return classify(Page.from_any(html_or_tree, url))
