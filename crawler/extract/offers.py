"""schema.org offers: one view of each Offer of a product, and which one the product reports.

The offers: every Offer of the product -- an ``offers`` array, the ``offers`` an
AggregateOffer lists, the offers of a ProductGroup's ``hasVariant`` products -- each with
its sku, name, URL, price, currency, availability and list price (the variant product's
sku/name/url when the offer has none). An AggregateOffer that lists no offers is one offer
of its own: price ``lowPrice``, ``high_price`` ``highPrice``, ``offer_count``
``offerCount``; when other offers are listed with prices, AggregateOffers (which only
summarize them) are left out. A single plain Offer gives no offers list (``[]``).

Which offer the product reports (its price, currency, availability, stock and sku; that
offer is ``selected``), among the offers with a price (all of them if none has one):

1. the offers the page URL selects, when that singles out some: the offer's sku is a
   variant parameter's value (``?sku=``, ``?variant=``, ``?pid=``), its URL is the page
   URL, or every query parameter its URL -- or its variant's ``size``/``color``/... --
   shares with the page URL has the page's value (``?variant=4102``,
   ``?attribute_pa_size=large``, ``?color=navy``); else, when the URL selects no variant,
   the offer whose URL is the page's canonical URL (a canonical per-variant URL);
2. a single offer as is (an AggregateOffer without offers gives ``lowPrice``);
3. the offer the page's cart form pre-selects (a Shopify theme's ``id`` field);
4. otherwise the page's default: the lowest-priced offer in stock (InStock,
   LimitedAvailability, OnlineOnly, InStoreOnly, or no availability stated), else the
   lowest buyable later (PreOrder, BackOrder), else the lowest of all. Among several
   offers 1. singles out, the same order decides.

So a product is InStock when the offer it reports is: one size sold out never makes it
OutOfStock, and the size the URL selects selling out always does.

An offer's price is ``price``, else ``lowPrice``, else its ``priceSpecification``
(list or single), ignoring strikethrough/list/MSRP price types, specs not valid today,
and unit prices (``referenceQuantity``) when another spec exists. Its list price is the
``priceSpecification`` of ``priceType`` StrikethroughPrice (else ListPrice) valid today,
in the offer's currency, and only when above the price; ``highPrice`` is never a list
price, nor are MSRP/SRP.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .availability import normalize_availability
from .currencies import normalize_currency
from .nodes import _resolve, _str_or_none, as_list, first, short_name, text_value, types_of, url_key
from .page import Page
from .prices import is_current, parse_price
from .product import Offer

_IGNORED_PRICE_TYPES = frozenset(
    {"ListPrice", "StrikethroughPrice", "SRP", "MSRP", "InvoicePrice", "MinimumAdvertisedPrice"}
)
#: price types that are a price before a sale, best first (MSRP/SRP are a manufacturer's suggestion, not
#: this shop's former price)
_LIST_PRICE_TYPES = ("StrikethroughPrice", "ListPrice")
#: the default offer comes from the first tier that has one: in stock, then buyable later
_BUYABLE_TIERS = (
    frozenset({None, "InStock", "LimitedAvailability"}),
    frozenset({"PreOrder", "BackOrder"}),
)
#: properties of a variant (ProductGroup ``hasVariant``) a URL may select it by (``?size=M&color=navy``)
_VARIANT_PROPERTIES = ("size", "color", "colour", "material", "pattern")
_PARAM_ALIASES = {"colour": "color"}


@dataclass
class OfferView:
    amount: Decimal | None
    currency: str | None
    availability: str | None
    quantity: int | None
    url: str | None
    sku: str | None
    name: str | None = None
    list_amount: Decimal | None = None
    #: an AggregateOffer listing no offers: ``amount`` is its lowPrice
    aggregate: bool = False
    high: Decimal | None = None
    count: int | None = None
    #: what the variant is, for matching a URL's ``?size=``/``?color=``: lower-cased values
    attributes: dict[str, str] = field(default_factory=dict)
    link: str | None = None

    def to_offer(self, *, selected: bool, currency: str | None) -> Offer:
        return Offer(
            price=self.amount,
            currency=self.currency or currency,
            availability=self.availability,
            sku=self.sku,
            name=self.name,
            url=self.link,
            list_price=self.list_amount,
            selected=selected,
            high_price=self.high,
            offer_count=self.count,
        )


def _spec_price(specs: Any, page: Page) -> tuple[Decimal | None, str | None]:
    usable = []
    for spec in as_list(specs):
        if not isinstance(spec, dict) or short_name(first(spec.get("priceType"))) in _IGNORED_PRICE_TYPES:
            continue
        if not is_current(text_value(spec.get("validFrom")), text_value(spec.get("validThrough"))):
            continue
        currency = normalize_currency(text_value(spec.get("priceCurrency")), page.currency_context)
        amount, parsed_currency = parse_price(first(spec.get("price")), page.money_context(currency), machine=True)
        if amount is not None:
            usable.append((bool(spec.get("referenceQuantity")), amount, currency or parsed_currency))
    if not usable:
        return None, None
    _unit, amount, currency = min(usable, key=lambda item: (item[0], item[1]))
    return amount, currency


def _spec_list_price(specs: Any, page: Page, currency: str | None) -> Decimal | None:
    """The StrikethroughPrice (else ListPrice) among the price specifications valid today."""
    found = []
    for spec in as_list(specs):
        if not isinstance(spec, dict):
            continue
        kind = short_name(text_value(spec.get("priceType")) or "")
        if kind not in _LIST_PRICE_TYPES:
            continue
        if not is_current(text_value(spec.get("validFrom")), text_value(spec.get("validThrough"))):
            continue
        spec_currency = normalize_currency(text_value(_currency_of(spec)), page.currency_context)
        if currency and spec_currency and spec_currency != currency:
            continue
        amount = parse_price(first(spec.get("price")), page.money_context(spec_currency or currency), machine=True)[0]
        if amount is not None:
            found.append((_LIST_PRICE_TYPES.index(kind), amount))
    return min(found)[1] if found else None


def _currency_of(node: dict) -> Any:
    """``priceCurrency`` (microdata in the wild also writes ``pricecurrency``)."""
    return node.get("priceCurrency") or node.get("pricecurrency")


def _quantity(value: Any) -> int | None:
    value = first(value)
    if isinstance(value, dict):
        value = first(value.get("value"))
    try:
        quantity = int(Decimal(str(value)))
    except (InvalidOperation, ValueError, TypeError, OverflowError):
        return None
    return quantity if 0 <= quantity < 10**7 else None


def _attributes(holder: dict) -> dict[str, str]:
    attributes = {}
    for key in _VARIANT_PROPERTIES:
        value = text_value(holder.get(key))
        if value:
            attributes[_PARAM_ALIASES.get(key.lower(), key.lower())] = value.lower()
    return attributes


def _link(value: Any, page: Page) -> str | None:
    """An offer's URL as a link (an ``@id`` only when it is a web address of its own, not ``#offer``)."""
    if not isinstance(value, str) or not value.strip() or value.strip().startswith("#"):
        return None
    return page.absolute(value.strip())


def _offer_view(offer: dict, variant: dict | None, page: Page) -> OfferView:
    """One offer; ``variant`` is the variant product holding it (for its url/sku/name)."""
    currency = normalize_currency(text_value(_currency_of(offer)), page.currency_context)
    context = page.money_context(currency)
    amount, parsed_currency = None, None
    for key in ("price", "lowPrice"):
        amount, parsed_currency = parse_price(first(offer.get(key)), context, machine=True)
        if amount is not None:
            break
    if amount is None:
        amount, parsed_currency = _spec_price(offer.get("priceSpecification"), page)
    currency = currency or parsed_currency
    holder = variant or {}
    aggregate = "AggregateOffer" in types_of(offer)
    list_amount = _spec_list_price(offer.get("priceSpecification"), page, currency)
    high = parse_price(first(offer.get("highPrice")), context, machine=True)[0] if aggregate else None
    url = _str_or_none(first(offer.get("url")) or first(holder.get("url")) or first(holder.get("@id")))
    return OfferView(
        amount=amount,
        currency=currency,
        availability=normalize_availability(first(offer.get("availability"))),
        quantity=_quantity(offer.get("inventoryLevel")),
        url=url,
        sku=text_value(offer.get("sku")) or text_value(holder.get("sku")),
        name=text_value(offer.get("name")) or text_value(holder.get("name")),
        list_amount=list_amount if list_amount is not None and amount is not None and list_amount > amount else None,
        aggregate=aggregate,
        high=high if high is not None and amount is not None and high > amount else None,
        count=_quantity(offer.get("offerCount")) if aggregate else None,
        attributes=_attributes(holder),
        link=_link(url, page),
    )


def _iter_offers(node: dict, index: dict, page: Page, depth: int = 0) -> Iterator[OfferView]:
    """The offers of a product, of its variants (ProductGroup), and inside AggregateOffers."""
    if depth > 3:
        return
    for variant in as_list(node.get("hasVariant")):
        variant = _resolve(variant, index)
        if isinstance(variant, dict):
            yield from _iter_offers(variant, index, page, depth + 1)
    for offer in as_list(node.get("offers")):
        offer = _resolve(offer, index)
        if not isinstance(offer, dict):
            continue
        children = [_resolve(child, index) for child in as_list(offer.get("offers"))]
        children = [child for child in children if isinstance(child, dict)]
        if not children:
            yield _offer_view(offer, node if depth else None, page)
            continue
        summary = _offer_view(offer, node if depth else None, page)
        views = [_offer_view(child, node if depth else None, page) for child in children]
        for view in views:
            view.currency = view.currency or summary.currency
            if view.amount is None and summary.amount is not None and summary.high is None:
                view.amount = summary.amount  # one price for all (lowPrice, no higher highPrice)
        yield from views
        if summary.amount is not None and all(view.amount is None for view in views):
            yield summary  # sizes listed for their stock only: the AggregateOffer gives the price


def page_offers(node: dict, index: dict, page: Page) -> list[OfferView]:
    """The product's offers; AggregateOffers only when no listed offer has a price (they summarize them)."""
    offers = list(_iter_offers(node, index, page))
    if any(o.amount is not None and not o.aggregate for o in offers):
        offers = [o for o in offers if not o.aggregate]
    return offers


def _url_params(url: str | None) -> dict[str, str]:
    if not url or "?" not in url:
        return {}
    try:
        pairs = parse_qsl(urlsplit(url).query)
    except ValueError:
        return {}
    return {_PARAM_ALIASES.get(k.lower(), k.lower()): v.lower() for k, v in pairs}


def _matches_url(offer: OfferView, page: Page) -> bool:
    """The offer is the one the page URL's query selects: its sku or variant id is a variant
    parameter's value, its URL is the page URL, or every query parameter its URL (or its variant's
    size/colour/...) shares with the page URL has the page's value."""
    if not page.query:
        return False
    wanted = page.variant_params
    if offer.sku and offer.sku in wanted.values():
        return True
    if offer.url and url_key(page.absolute(offer.url)) == url_key(page.url):
        return True
    page_params = _url_params(page.url)
    params = {**offer.attributes, **_url_params(offer.url)}
    shared = set(params) & set(page_params)
    return bool(shared) and all(params[key] == page_params[key] for key in shared)


def _variant_urls(offers: list[OfferView], page: Page) -> set[str]:
    """The offers' URLs, when they give variants URLs of their own (two or more distinct ones)."""
    keys = {url_key(page.absolute(offer.url)) for offer in offers if offer.url}
    keys.discard(None)
    return keys if len(keys) >= 2 else set()


def _matches_path(offers: list[OfferView], page: Page) -> list[OfferView]:
    """Per-variant URLs without a query (``/p/shirt-red``): the offer whose URL is the page's, else the
    page's canonical URL. Only when the offers have URLs of their own -- one seller's offer carrying the
    product's URL beside others without one selects nothing."""
    if not _variant_urls(offers, page):
        return []
    for key in (url_key(page.url), url_key(page.canonical_url)):
        matched = [offer for offer in offers if offer.url and key and url_key(page.absolute(offer.url)) == key]
        if matched and len(matched) < len(offers):
            return matched
    return []


def _singled_out(offers: list[OfferView], page: Page) -> list[OfferView]:
    matched = [offer for offer in offers if _matches_url(offer, page)]
    return matched if matched and (len(matched) < len(offers) or len(offers) == 1) else []


def _preselected(offers: list[OfferView], page: Page) -> OfferView | None:
    """The offer the page's own cart form pre-selects (a Shopify theme's ``id`` field)."""
    ids = page.preselected_variant_ids
    if not ids:
        return None
    chosen = [o for o in offers if _url_params(o.url).get("variant") in ids or (o.sku and o.sku in ids)]
    return chosen[0] if len(chosen) == 1 else None


def _default(offers: list[OfferView]) -> OfferView:
    """In stock before buyable later (PreOrder, BackOrder) before the rest; then the lowest price."""
    for tier in _BUYABLE_TIERS:
        pool = [offer for offer in offers if offer.availability in tier]
        if pool:
            break
    else:
        pool = offers
    priced = [offer for offer in pool if offer.amount is not None]
    return min(priced, key=lambda offer: offer.amount) if priced else pool[0]


def choose_offer(offers: list[OfferView], page: Page) -> tuple[OfferView | None, bool]:
    """The offer the product reports, and whether that choice ignored a variant in the URL."""
    if not offers:
        return None, bool(page.variant_params)
    pool = [offer for offer in offers if offer.amount is not None] or offers
    if len(pool) == 1:  # one offer: it is the product's; blind to a variant in the URL unless it is that one
        return pool[0], bool(page.variant_params) and not _matches_url(pool[0], page)
    matched = _singled_out(pool, page)
    if not matched and not page.variant_params:
        matched = _matches_path(pool, page)
    if matched:
        return _default(matched), False
    blind = bool(page.variant_params)
    if len(pool) == 1:
        return pool[0], blind
    return _preselected(pool, page) or _default(pool), blind


def offers_of(views: list[OfferView], chosen: OfferView | None) -> list[Offer]:
    """The offers as the product keeps them: none for a single plain offer."""
    if chosen is None or (len(views) == 1 and not chosen.aggregate):
        return []
    currency = chosen.currency or next((view.currency for view in views if view.currency), None)
    return [view.to_offer(selected=view is chosen, currency=currency) for view in views]
