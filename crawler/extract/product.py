"""The extraction result (:class:`ExtractedProduct`) and what one stage returns (:class:`Found`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from stdnum import ean, isbn
from stdnum.exceptions import ValidationError

from core.vocabulary import PRODUCT_FIELDS

from .prices import format_amount

#: fields the cascade fills, each with the name of the source that gave it in ``sources``: the product's
#: fields but its canonical URL, which is the page's own, not a source's
CASCADE_FIELDS = tuple(field for field in PRODUCT_FIELDS if field != "canonical_url")
#: once these are all known the cascade stops early
REQUIRED_FIELDS = ("name", "price", "currency", "availability")
#: fields that differ between variants of one product
VARIANT_FIELDS = frozenset({"price", "availability", "stock_quantity", "sku", "list_price"})

SOURCES = (
    "selectors",
    "jsonld",
    "microdata",
    "rdfa",
    "opengraph",
    "meta",
    "shopify",
    "woocommerce",
    "magento",
    "amazon",
    "ebay",
    "heuristics",
    "url",
)


def normalize_gtin(value: object) -> str | None:
    """A GTIN with a valid check digit, as its digits; else None.

    GTIN-8/12/13/14 (EAN-8, UPC-A, EAN-13 and ISBN-13, GTIN-14) are checked with
    python-stdnum (``stdnum.ean``); spaces and hyphens are dropped ("978-0-306-40615-7"),
    the digits are kept as written (no zero padding). An ISBN-10 ("0-306-40615-2")
    becomes its ISBN-13, the GTIN a book carries. A wrong check digit, another length
    or an all-zero placeholder gives None.
    """
    if value is None or isinstance(value, bool):
        return None
    text = ean.compact(str(value))
    try:
        digits = ean.validate(text)
    except ValidationError:
        try:  # exactly ten characters: stdnum would also take a 9-digit SBN as an ISBN
            digits = isbn.validate(text, convert=True) if len(text) == 10 else None
        except ValidationError:
            digits = None
    return digits if digits and digits.strip("0") else None


@dataclass
class Found:
    """What one source found on a page.

    ``variant_blind``: the source cannot tell which variant the page URL selects
    (one Offer, an AggregateOffer, meta tags) although the URL selects one; its
    variant-dependent fields are then used only if no later source resolves them.

    ``absent``: fields the source vouches the page does not have (a marketplace buy
    box that says "Currently unavailable" and shows no price: the product has no
    price). No later source may fill them; an earlier source's value stands.
    """

    fields: dict[str, Any]
    variant_blind: bool = False
    absent: frozenset[str] = frozenset()

    @classmethod
    def of(cls, variant_blind: bool = False, absent=frozenset(), **fields: Any) -> Found | None:
        kept = {key: value for key, value in fields.items() if value not in (None, "", [])}
        absent = frozenset(absent).difference(kept)
        return cls(kept, variant_blind, absent) if kept or absent else None


@dataclass
class Offer:
    """One offer of the page: a variant (size, colour, ...) or a seller's offer of the product.

    ``selected``: this is the offer the product reports (the one the URL selects, else the page's
    default); the product's price, currency, availability and sku are this offer's.

    ``list_price``: the offer's price before a sale (strikethrough/list price), only when above ``price``.
    ``high_price`` and ``offer_count`` are set only on an AggregateOffer that lists no offers of its
    own: ``price`` is then its ``lowPrice`` (the lowest price on offer), ``high_price`` its
    ``highPrice`` (never a list price) and ``offer_count`` its ``offerCount``.
    """

    price: Decimal | None = None
    currency: str | None = None
    availability: str | None = None
    sku: str | None = None
    name: str | None = None
    url: str | None = None
    list_price: Decimal | None = None
    selected: bool = False
    high_price: Decimal | None = None
    offer_count: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "sku": self.sku,
            "name": self.name,
            "url": self.url,
            "price": format_amount(self.price, self.currency),
            "list_price": format_amount(self.list_price, self.currency),
            "currency": self.currency,
            "availability": self.availability,
            "selected": self.selected,
            "high_price": format_amount(self.high_price, self.currency),
            "offer_count": self.offer_count,
        }


@dataclass
class ExtractedProduct:
    name: str | None = None
    price: Decimal | None = None
    currency: str | None = None
    availability: str | None = None
    sku: str | None = None
    gtin: str | None = None
    brand: str | None = None
    image: str | None = None
    stock_quantity: int | None = None
    canonical_url: str | None = None
    platform: str | None = None
    platform_id: str | None = None
    #: the price before a sale (strikethrough / list / "was" price), kept apart from ``price``
    list_price: Decimal | None = None
    #: every offer the page carries (variants, sellers); empty when the page has one plain offer
    offers: list[Offer] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    blocked: str | None = None
    is_product: bool = False

    @property
    def reported_offer(self) -> Offer | None:
        """The offer whose price and availability the product reports (None without offers)."""
        return next((offer for offer in self.offers if offer.selected), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "price": format_amount(self.price, self.currency),
            "currency": self.currency,
            "availability": self.availability,
            "sku": self.sku,
            "gtin": self.gtin,
            "brand": self.brand,
            "image": self.image,
            "sources": dict(self.sources),
            "stock_quantity": self.stock_quantity,
            "canonical_url": self.canonical_url,
            "platform": self.platform,
            "platform_id": self.platform_id,
            "list_price": format_amount(self.list_price, self.currency),
            "offers": [offer.to_json() for offer in self.offers],
            "blocked": self.blocked,
            "is_product": self.is_product,
        }
