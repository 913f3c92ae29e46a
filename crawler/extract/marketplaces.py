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

Each one's own reading is in :mod:`.amazon` and :mod:`.ebay`; what they share in
:mod:`.adapter_markup`.
"""

from __future__ import annotations

from .amazon import _amazon_page
from .ebay import _ebay_page
from .page import Page, page_cached


@page_cached
def detect(page: Page) -> str | None:
    """``amazon`` / ``ebay`` when the page is one of their product pages, else None."""
    if _amazon_page(page):
        return "amazon"
    if _ebay_page(page):
        return "ebay"
    return None
