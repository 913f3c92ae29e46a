"""Product extraction: one product from one HTML page, with per-field provenance.

Usage::

    product = extract_product(response.text, response.url, status=response.status,
                              selectors=website.selector_overrides)
    product.to_json()  # {"name": ..., "price": "51.77", ..., "sources": {"price": "jsonld", ...}}
    product, page_class = analyze(html, url)  # discovery: extraction + classification, one parse

See :mod:`.cascade` for the order of sources, :mod:`.offers` and
:mod:`.platforms` for which offer/variant is taken, :mod:`.prices` for number and
decimal rules, :mod:`.currencies` (over :mod:`.currency_tables`, CLDR's) for currencies,
:mod:`.availability` for the stock vocabulary, :mod:`.blocked` for block pages and
:mod:`.classify` for page classification. :func:`analyze` parses once and returns both.
"""

from __future__ import annotations

from . import blocked, cascade
from .classify import PageClass, classify, classify_page
from .page import Page
from .product import ExtractedProduct

__all__ = [
    "ExtractedProduct",
    "Page",
    "PageClass",
    "analyze",
    "classify_page",
    "extract_from_page",
    "extract_product",
]


def extract_from_page(page: Page, selectors: dict | None = None) -> ExtractedProduct:
    """Run block detection and the cascade on an already parsed page."""
    reason = blocked.title_reason(page)
    if reason:
        return ExtractedProduct(blocked=reason)
    product = cascade.run(page, selectors)
    if product.price is None:
        reason = blocked.markup_reason(page) or blocked.weak_reason(page, page.status, product.is_product)
        if reason:
            return ExtractedProduct(blocked=reason)
    return product


def extract_product(
    html: str | bytes,
    url: str,
    *,
    selectors: dict | None = None,
    status: int = 200,
    headers: dict | None = None,
) -> ExtractedProduct:
    """Extract the page's product. Bytes are decoded with the Content-Type header/meta."""
    page = Page.from_html(html, url, status=status, headers=headers)
    return extract_from_page(page, selectors)


def analyze(
    html: str | bytes,
    url: str,
    selectors: dict | None = None,
    *,
    status: int = 200,
    headers: dict | None = None,
) -> tuple[ExtractedProduct, PageClass]:
    """Extraction and classification from a single parse."""
    page = Page.from_html(html, url, status=status, headers=headers)
    product = extract_from_page(page, selectors)
    if product.blocked:
        return product, PageClass("other", 1.0, [f"blocked: {product.blocked}"])
    return product, classify(page)
