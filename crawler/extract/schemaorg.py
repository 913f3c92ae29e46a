"""schema.org Product interpretation shared by the JSON-LD, microdata and RDFa stages.

Each syntax module turns its extruct output into plain JSON-LD-like dicts (short type
names, property names as keys) and calls :func:`product_found`.

Which product: top-level nodes (also inside ``@graph`` and a page's ``mainEntity``) of
a product type, or with ``offers``; nothing inside an ItemList/OfferCatalog (that is a
listing). With several: the one whose ``url``/``@id`` is the page (or canonical) URL,
else the one named like the page's h1, else several variants of one product group are
read as one product, else the first -- but three or more unrelated products with none
matching the page is a listing, and gives nothing.

The product's offers and which of them it reports: :mod:`.offers`; plain helpers over
the nodes: :mod:`.nodes`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from .anchor import main_heading_text
from .nodes import _resolve, as_list, first, text_value, types_of, url_key
from .offers import choose_offer, offers_of, page_offers
from .page import Page
from .product import Found, normalize_gtin

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
LISTING_TYPES = frozenset({"ItemList", "OfferCatalog", "CollectionPage", "SearchResultsPage", "BreadcrumbList"})
_NOT_PRODUCT_TYPES = LISTING_TYPES | {"Organization", "WebSite", "Event", "Offer", "AggregateOffer"}
_MAX_DEPTH = 8


def is_product_node(node: Any) -> bool:
    if not isinstance(node, dict):
        return False
    types = types_of(node)
    return bool(types & PRODUCT_TYPES) or ("offers" in node and not types & _NOT_PRODUCT_TYPES)


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


def _page_keys(page: Page) -> set[str]:
    return {key for key in (url_key(page.url), url_key(page.canonical_url)) if key}


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
    """The page's product from schema.org nodes, as a :class:`Found` (with its offers and list price)."""
    product = _choose_product(product_nodes(items), page)
    if product is None:
        return None
    index = _id_index(items)
    offers = page_offers(product, index, page)
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
        list_price=offer.list_amount if offer else None,
        offers=offers_of(offers, offer),
    )
