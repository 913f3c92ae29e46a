"""schema.org Product interpretation shared by the JSON-LD, microdata and RDFa stages.

Each syntax module turns its extruct output into plain JSON-LD-like dicts (short type
names, property names as keys) and calls :func:`product_found`.

Which product: top-level nodes (also inside ``@graph`` and a page's ``mainEntity``) of
a product type, or with ``offers``; nothing inside an ItemList/OfferCatalog (that is a
listing). With several: the one whose ``url``/``@id`` is the page (or canonical) URL,
else the one named like the page's h1, else several variants of one product group are
read as one product, else the first -- but three or more unrelated products with none
matching the page is a listing, and gives nothing.

Which offer (the price a buyer pays now):

1. the offer or variant whose ``url``/``sku`` matches what the page URL selects
   (``?variant=…``, ``?sku=…``, or the exact URL) when that singles out a subset;
2. a single Offer as is; an AggregateOffer without offers gives ``lowPrice``;
3. otherwise the lowest-priced offer that is in stock (InStock, LimitedAvailability,
   OnlineOnly, InStoreOnly, or no availability stated); if none is, the lowest one.

An offer's price is ``price``, else ``lowPrice``, else its ``priceSpecification``
(list or single), ignoring strikethrough/list/MSRP price types, specs not valid today,
and unit prices (``referenceQuantity``) when another spec exists.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from decimal import Decimal
from decimal import InvalidOperation
from typing import Any, Iterable, Iterator
from urllib.parse import parse_qsl, urlsplit

from w3lib.url import canonicalize_url

from .page import Page, clean_text
from .prices import is_current, normalize_availability, normalize_currency, parse_price
from .product import Found, normalize_gtin
from .visible import main_heading_text

PRODUCT_TYPES = frozenset(
    {
        "Product",
        "ProductGroup",
        "ProductModel",
        "IndividualProduct",
        "SomeProducts",
        "Vehicle",
        "Car",
        "Motorcycle",
    }
)
LISTING_TYPES = frozenset(
    {"ItemList", "OfferCatalog", "CollectionPage", "SearchResultsPage", "BreadcrumbList"}
)
_NOT_PRODUCT_TYPES = LISTING_TYPES | {"Organization", "WebSite", "Event", "Offer", "AggregateOffer"}
_IGNORED_PRICE_TYPES = frozenset(
    {"ListPrice", "StrikethroughPrice", "SRP", "MSRP", "InvoicePrice", "MinimumAdvertisedPrice"}
)
_IN_STOCK = (None, "InStock", "LimitedAvailability")
_MAX_DEPTH = 8


def short_name(value: Any) -> str:
    """"http://schema.org/Product" / "schema:Product" -> "Product"."""
    if not isinstance(value, str):
        return ""
    return value.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1].rsplit("#", 1)[-1]


def types_of(node: dict) -> set[str]:
    raw = node.get("@type") or node.get("type") or ()
    if not isinstance(raw, (list, tuple)):
        raw = (raw,)
    return {short_name(t) for t in raw if isinstance(t, str)}


def is_product_node(node: Any) -> bool:
    if not isinstance(node, dict):
        return False
    types = types_of(node)
    return bool(types & PRODUCT_TYPES) or ("offers" in node and not types & _NOT_PRODUCT_TYPES)


def first(value: Any) -> Any:
    while isinstance(value, list):
        value = value[0] if value else None
    return value


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def text_value(value: Any) -> str | None:
    value = first(value)
    if isinstance(value, dict):
        value = value.get("name") or value.get("@value")
        value = first(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None
    value = clean_text(html.unescape(value) if "&" in value else value)
    return value or None


# --- finding the product ---------------------------------------------------------------


def _walk(node: Any, depth: int = 0) -> Iterator[dict]:
    if depth > _MAX_DEPTH:
        return
    if isinstance(node, list):
        for item in node:
            yield from _walk(item, depth + 1)
        return
    if not isinstance(node, dict):
        return
    if "@graph" in node:
        yield from _walk(node["@graph"], depth + 1)
    if types_of(node) & LISTING_TYPES:
        return
    if is_product_node(node):
        yield node
        return
    for key in ("mainEntity", "mainEntityOfPage", "about"):
        if isinstance(node.get(key), (dict, list)):
            yield from _walk(node[key], depth + 1)


def has_listing(items: Iterable[Any]) -> bool:
    """An ItemList/CollectionPage among the top-level nodes (a classification signal)."""
    for item in items:
        if isinstance(item, dict):
            nodes = [item, *as_list(item.get("@graph"))]
            if any(isinstance(n, dict) and types_of(n) & (LISTING_TYPES - {"BreadcrumbList"}) for n in nodes):
                return True
    return False


def product_nodes(items: Iterable[Any]) -> list[dict]:
    seen: set[int] = set()
    nodes = []
    for node in _walk(list(items)):
        if id(node) not in seen:
            seen.add(id(node))
            nodes.append(node)
    return nodes


def _id_index(items: Iterable[Any]) -> dict[str, dict]:
    index = {}
    for item in items:
        for node in [item, *as_list(item.get("@graph") if isinstance(item, dict) else None)]:
            if isinstance(node, dict) and isinstance(node.get("@id"), str):
                index.setdefault(node["@id"], node)
    return index


def url_key(url: Any) -> str | None:
    if not isinstance(url, str) or not url.strip():
        return None
    try:
        return canonicalize_url(url.strip()).rstrip("/")
    except ValueError:
        return None


def _page_keys(page: Page) -> set[str]:
    return {key for key in (url_key(page.url), url_key(page.canonical_url)) if key}


def _resolve(value: Any, index: dict[str, dict]) -> Any:
    """A ``{"@id": ...}`` reference -> the node it names in the same document."""
    if isinstance(value, dict) and set(value) <= {"@id", "@type"}:
        ref = value.get("@id")
        if isinstance(ref, str) and ref in index:
            return index[ref]
    return value


def _group_id(node: dict) -> str | None:
    """The product group a variant belongs to, if it says."""
    group = node.get("isVariantOf")
    if isinstance(group, dict):
        return text_value(group.get("@id") or group.get("productGroupID") or group.get("name"))
    return text_value(node.get("productGroupID") or node.get("inProductGroupWithID"))


def _choose_product(nodes: list[dict], page: Page) -> dict | None:
    if len(nodes) <= 1:
        return nodes[0] if nodes else None
    keys = _page_keys(page)
    for node in nodes:
        if {url_key(node.get("url")), url_key(node.get("@id"))} & keys:
            return node
    heading = main_heading_text(page)  # the h1 names the page's main product
    if heading:
        for node in nodes:
            if text_value(node.get("name")) == heading:
                return node
    groups = {_group_id(node) for node in nodes}
    if len(groups) == 1 and None not in groups:
        return {"@type": "ProductGroup", "name": nodes[0].get("name"), "hasVariant": nodes}
    if len({text_value(node.get("name")) for node in nodes}) >= 3:
        return None  # several unrelated products and none is this page's: a listing
    return nodes[0]


# --- offers ------------------------------------------------------------------------------


@dataclass
class OfferView:
    amount: Decimal | None
    currency: str | None
    availability: str | None
    quantity: int | None
    url: str | None
    sku: str | None


def _spec_price(specs: Any, page: Page) -> tuple[Decimal | None, str | None]:
    usable = []
    for spec in as_list(specs):
        if not isinstance(spec, dict) or short_name(first(spec.get("priceType"))) in _IGNORED_PRICE_TYPES:
            continue
        if not is_current(text_value(spec.get("validFrom")), text_value(spec.get("validThrough"))):
            continue
        currency = normalize_currency(text_value(spec.get("priceCurrency")), page.currency_context)
        amount, parsed_currency = parse_price(
            first(spec.get("price")), page.money_context(currency), machine=True
        )
        if amount is not None:
            usable.append((bool(spec.get("referenceQuantity")), amount, currency or parsed_currency))
    if not usable:
        return None, None
    _unit, amount, currency = min(usable, key=lambda item: (item[0], item[1]))
    return amount, currency


def _quantity(value: Any) -> int | None:
    value = first(value)
    if isinstance(value, dict):
        value = first(value.get("value"))
    try:
        quantity = int(Decimal(str(value)))
    except (InvalidOperation, ValueError, TypeError, OverflowError):
        return None
    return quantity if 0 <= quantity < 10**7 else None


def _offer_view(offer: dict, variant: dict | None, page: Page) -> OfferView:
    """One offer; ``variant`` is the variant product holding it (for its url/sku)."""
    currency = normalize_currency(text_value(offer.get("priceCurrency")), page.currency_context)
    context = page.money_context(currency)
    amount, parsed_currency = None, None
    for key in ("price", "lowPrice"):
        amount, parsed_currency = parse_price(first(offer.get(key)), context, machine=True)
        if amount is not None:
            break
    if amount is None:
        amount, parsed_currency = _spec_price(offer.get("priceSpecification"), page)
    holder = variant or {}
    return OfferView(
        amount=amount,
        currency=currency or parsed_currency,
        availability=normalize_availability(first(offer.get("availability"))),
        quantity=_quantity(offer.get("inventoryLevel")),
        url=_str_or_none(first(offer.get("url")) or first(holder.get("url")) or first(holder.get("@id"))),
        sku=text_value(offer.get("sku")) or text_value(holder.get("sku")),
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
        if children:
            for child in children:
                view = _offer_view(child, node if depth else None, page)
                view.currency = view.currency or normalize_currency(text_value(offer.get("priceCurrency")))
                yield view
        else:
            yield _offer_view(offer, node if depth else None, page)


def _matches_url(offer: OfferView, page: Page) -> bool:
    """The offer is the one the page URL selects (exact URL with a query, sku, variant id)."""
    wanted = page.variant_params
    if offer.sku and offer.sku in wanted.values():
        return True
    if not offer.url or not page.query:
        return False
    if url_key(page.absolute(offer.url)) == url_key(page.url):
        return True
    try:
        offer_query = dict(parse_qsl(urlsplit(offer.url).query))
    except ValueError:
        return False
    return any(offer_query.get(key) == value for key, value in wanted.items())


def choose_offer(offers: list[OfferView], page: Page) -> tuple[OfferView | None, bool]:
    """The offer a buyer pays now, and whether that choice ignored a variant in the URL."""
    priced = [offer for offer in offers if offer.amount is not None]
    if not priced:
        return (offers[0] if offers else None), bool(page.variant_params)
    matched = [offer for offer in priced if _matches_url(offer, page)]
    if matched and (len(matched) < len(priced) or len(priced) == 1):
        return matched[0], False
    blind = bool(page.variant_params)
    if len(priced) == 1:
        return priced[0], blind
    in_stock = [offer for offer in priced if offer.availability in _IN_STOCK]
    return min(in_stock or priced, key=lambda offer: offer.amount), blind


# --- the product's fields --------------------------------------------------------------------


def _image(value: Any, page: Page) -> str | None:
    value = first(value)
    if isinstance(value, dict):
        value = first(value.get("url") or value.get("contentUrl") or value.get("@id"))
    return page.absolute(value) if isinstance(value, str) else None


def _gtin(node: dict) -> str | None:
    for key in ("gtin13", "gtin", "gtin12", "gtin14", "gtin8", "isbn", "ean"):
        gtin = normalize_gtin(text_value(node.get(key)))
        if gtin:
            return gtin
    return None


def product_found(items: list[Any], page: Page) -> Found | None:
    """The page's product from schema.org nodes, as a :class:`Found`."""
    product = _choose_product(product_nodes(items), page)
    if product is None:
        return None
    index = _id_index(items)
    offers = list(_iter_offers(product, index, page))
    offer, blind = choose_offer(offers, page)
    if offer is not None and not offer.currency:
        offer.currency = next((o.currency for o in offers if o.currency), None)
    brand = _resolve(product.get("brand") or product.get("manufacturer"), index)
    return Found.of(
        variant_blind=blind,
        name=text_value(product.get("name")),
        price=offer.amount if offer else None,
        currency=(offer.currency if offer and offer.amount is not None else None),
        availability=offer.availability if offer else None,
        stock_quantity=offer.quantity if offer else None,
        sku=(offer.sku if offer and offer.sku else None)
        or text_value(product.get("sku"))
        or text_value(product.get("productID")),
        gtin=_gtin(product),
        brand=text_value(brand),
        image=_image(product.get("image"), page),
    )
