"""The extraction cascade: the order of sources and the provenance of every field.

Order (first source to give a field wins, ``sources[field]`` names it):

0. ``selectors`` -- the website's own overrides, when configured. They win over
   everything for the fields they name (see :mod:`.selectors` for why).
1. ``jsonld``, 2. ``microdata``, 3. ``rdfa`` -- schema.org Product data;
4. ``opengraph`` (og:title/og:image on product pages) and ``meta`` (product:price:*,
   product:availability, ...);
5. the platform adapter, when the page is ``shopify``, ``woocommerce`` or ``magento``,
   or an ``amazon`` / ``ebay`` item page (:mod:`.marketplaces`);
6. ``heuristics`` -- visible text near the h1 and the buy button.

A stage runs only when the page carries its markers (each stage checks cheaply), and
the cascade stops as soon as name, price, currency and availability are all known.
Consistency rules: ``stock_quantity`` is only taken from the source that gave the
availability, ``list_price`` only from the source that gave the price; and when the
URL selects a variant (``?variant=``, ``?attribute_pa_size=``, ``?sku=``), a source
that cannot tell variants apart (a single Offer, an AggregateOffer, the price metas)
gives price, list price, availability, stock quantity and SKU only if no later source
resolves the selected variant.

Known absence: a source may vouch that the page has no value for a field
(``Found.absent``; e.g. the Amazon adapter when the buy box says the product is
unavailable and shows no price). Such a field counts as known (for the early stop),
and no later stage fills it -- the heuristics then cannot guess a price from the rest
of the page. A value an earlier source gave stands.

Structured data is checked against the page: when its price is shown next to the title
only as something other than the price a buyer pays -- struck through or labelled as a
former price (structured data carrying the list price while the page shows the sale
price), or labelled "Starting price", "Estimate", "excl. VAT" ... -- and a different
current price is shown there in the same currency, the shown price wins:
``sources["price"]`` says ``heuristics (microdata 219.99 is shown as a former price)``
and a former price becomes ``list_price``. Otherwise structured data stands.

Identifiers a person reads (:mod:`.identifiers`) are looked at after the stages, even
after an early stop: a structured ``sku`` the page never shows gives way to a shop code
the page labels and shows (``sources["sku"]`` then says so, e.g. ``heuristics (shown on
the page; jsonld sku DWFWKMMBM is not)``), unless the URL selects a variant or the
structured sku extends the shown code (a variant's sku); with no sku at all, a labelled code, else the
URL's product id when the markup repeats it (source ``url``).

``platform`` (detected from markup) and ``platform_id`` (the platform's product id)
are looked up whenever a platform is detected, even after an early stop: they are the
product's identity. On marketplaces (``platforms.ID_IS_SKU``: the ASIN, the eBay item
number) that id is also the SKU, unless an earlier source gave one.

Offers and list price (``offers``, ``list_price``; ``sources`` names who gave them):

* ``offers`` are the offers of the source that gave the price (see :mod:`.offers` and
  :mod:`.platforms` for what each source reads and which offer it reports). When that
  source lists no variants (a single Offer, an AggregateOffer, a visible price) another
  source that ran may give them if one of its offers *is* the product's -- same price
  and currency, and the same sku when both have one; that offer is then the selected
  one. Exactly one offer is ``selected``; a page with one plain offer has ``[]``.
* ``list_price`` (the price before a sale) comes from the price's source (above), else
  from the selected offer, else from another source that reports the same price (or has
  the product's offer, as above). It is kept only when above the price. ``highPrice`` is
  never one.
* On Shopify and WooCommerce pages the platform adapter also runs after an early stop
  when the offers or the list price are still missing: the platform's own variant data
  (Shopify's product JSON, WooCommerce's variations) knows sizes and sale prices that
  their structured data leaves out. Only offers and list price are taken from it then.
* A price that only summarizes the variants -- an AggregateOffer's ``lowPrice``, the
  price metas -- gives way to the platform's variants when it has them: the product then
  reports the platform's chosen variant (price, currency, availability, sku), as it does
  when the URL selects a variant.
* The product reports its selected offer: its availability is that offer's (unless the
  website's selectors name the availability), so one variant selling out never makes the
  product OutOfStock while the offer it reports is in stock.

This module runs the stages and the checks after them; the accumulator that applies the
rules above is :mod:`.merge`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from . import identifiers, jsonld, microdata, opengraph, platforms, rdfa, selectors, visible
from .merge import VARIANT_PLATFORMS, _Merge, _str
from .page import Page
from .prices import normalize_amount
from .product import ExtractedProduct, Found

logger = logging.getLogger(__name__)

Stage = tuple[str, Callable[[Page], "Found | None"]]

STRUCTURED_STAGES: tuple[Stage, ...] = (
    ("jsonld", jsonld.extract),
    ("microdata", microdata.extract),
    ("rdfa", rdfa.extract),
    ("opengraph", opengraph.extract_opengraph),
    ("meta", opengraph.extract_meta),
)
HEURISTICS_STAGE: Stage = ("heuristics", visible.extract)


def stages_for(page: Page, overrides: dict | None) -> list[Stage]:
    stages: list[Stage] = []
    if overrides:
        stages.append(("selectors", functools.partial(selectors.extract, selectors=overrides)))
    stages.extend(STRUCTURED_STAGES)
    platform = platforms.detect(page)
    if platform:
        stages.append((platform, platforms.ADAPTERS[platform]))
    stages.append(HEURISTICS_STAGE)
    return stages


def run(page: Page, overrides: dict | None = None) -> ExtractedProduct:
    merge = _Merge(page)
    ran = set()
    for source, stage in stages_for(page, overrides):
        if merge.complete():
            break
        merge.add(source, _run_stage(source, stage, page))
        ran.add(source)
    merge.finish()
    _check_price(merge, page)
    values = merge.values
    platform = platforms.detect(page)
    if platform and "platform_id" not in values:
        merge.add(platform, _run_stage(platform, functools.partial(_identity, platform), page))
    _identifiers(merge, page)
    values["price"] = normalize_amount(values.get("price"), values.get("currency"))
    if values["price"] is None:
        merge.sources.pop("price", None)
        values.pop("list_price", None)
    if platform in VARIANT_PLATFORMS and platform not in ran and _wants_variants(merge):
        merge.note(platform, _run_stage(platform, platforms.ADAPTERS[platform], page))
    merge.resolve_offers()
    list_price = normalize_amount(values.get("list_price"), values.get("currency"))
    if list_price is None or values.get("price") is None or list_price <= values["price"]:
        list_price = None
        merge.sources.pop("list_price", None)
    name = values.get("name")
    return ExtractedProduct(
        name=name,
        price=values["price"],
        currency=values.get("currency"),
        availability=values.get("availability"),
        sku=_str(values.get("sku")),
        gtin=_str(values.get("gtin")),
        brand=_str(values.get("brand")),
        image=values.get("image"),
        stock_quantity=values.get("stock_quantity"),
        canonical_url=page.canonical_url,
        platform=platform,
        platform_id=_str(values.get("platform_id")),
        list_price=list_price,
        offers=values.get("offers", []),
        sources=merge.sources,
        is_product=bool(name and any(values.get(f) is not None for f in ("price", "availability", "sku"))),
    )


def _wants_variants(merge: _Merge) -> bool:
    """The price's source listed no variants, or no list price (the platform's own data may have them)."""
    source = merge.sources.get("price")
    reported = merge.reported.get(source) if source else None
    if merge.values.get("price") is None or source == "selectors":
        return False
    if reported is None or len(reported.offers) < 2:
        return True
    return reported.list_price is None and not any(offer.list_price for offer in reported.offers)


_STRUCTURED_SOURCES = frozenset(source for source, _ in STRUCTURED_STAGES)


def _check_price(merge: _Merge, page: Page) -> None:
    """Structured data against what the page shows next to the title (see the module doc)."""
    values, sources = merge.values, merge.sources
    source, currency = sources.get("price"), values.get("currency")
    amount = normalize_amount(values.get("price"), currency)
    if source not in _STRUCTURED_SOURCES or amount is None or page.variant_params:
        return
    if not visible.shows_amount_set_aside(page, amount):
        return  # the amount is nowhere shown as former, a start or before tax (a cheap look first)
    shown, set_aside = visible.main_price_shown(page)
    if shown is None or shown.amount == amount or (shown.currency or currency) != currency:
        return
    why = set_aside.get(amount)
    if why is None:
        return  # the page does not show the structured amount as something else: keep it
    values["price"] = shown.amount
    sources["price"] = f"heuristics ({source} {amount} is shown as {why})"
    if why == "a former price" and "list_price" not in values:
        values["list_price"] = amount
        sources["list_price"] = source


def _identifiers(merge: _Merge, page: Page) -> None:
    """The identifier pass (see the module doc); the website's own selectors are not second-guessed."""
    values, sources = merge.values, merge.sources
    current, source = values.get("sku"), sources.get("sku")
    if source == "selectors":
        return
    doubt = current is not None and not page.variant_params and not identifiers.shown(page, _str(current))
    if current is not None and not doubt:
        return  # the page shows the sku it has (the usual case): no labels to read
    sku, gtin = identifiers.labelled(page)
    replaces = (
        doubt and sku and sku not in _str(current)  # "FT-PLANT" shown, "FT-PLANT-L" the variant: keep the variant's
    )
    if replaces:
        values["sku"] = sku
        sources["sku"] = f"heuristics (shown on the page; {source} sku {_str(current)} is not)"
    elif current is None:
        merge.add("heuristics", Found.of(sku=sku))
        merge.add("url", Found.of(sku=identifiers.url_id(page)))
    if "gtin" not in values:
        merge.add("heuristics", Found.of(gtin=gtin))


def _identity(platform: str, page: Page) -> Found | None:
    product_id = platforms.PRODUCT_IDS[platform](page)
    return Found.of(platform_id=product_id, sku=product_id if platform in platforms.ID_IS_SKU else None)


def _run_stage(source: str, stage: Callable[[Page], Found | None], page: Page) -> Found | None:
    """One stage; a failure (odd markup nobody foresaw) costs that stage, not the page."""
    try:
        return stage(page)
    except Exception:
        logger.exception("extraction stage %s failed on %s", source, page.url)
        return None
