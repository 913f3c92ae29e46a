"""What spiders yield. Dataclass items (itemadapter handles them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


@dataclass
class ProductFields:
    """The extracted product, as the page showed it."""

    url: str
    name: str | None = None
    price: Decimal | None = None
    currency: str | None = None
    availability: str | None = None
    sku: str | None = None
    gtin: str | None = None
    brand: str | None = None
    image: str | None = None
    stock_quantity: int | None = None
    platform_id: str | None = None
    canonical_url: str | None = None
    list_price: Decimal | None = None  # price before a sale, kept apart from price
    # one per variant/seller, exactly one "selected" (the one price/availability report); empty for one plain
    # offer. As extracted: crawler.extract.product.Offer; after NormalizePipeline: dicts of Offer.to_json's
    # keys with Decimal amounts
    offers: list = field(default_factory=list)
    sources: dict = field(default_factory=dict)
    identity: str | None = None  # set by NormalizePipeline


@dataclass
class CandidateItem(ProductFields):
    """A product page found by discovery, offered for approval."""

    website_id: int = 0
    crawl_run_id: int = 0
    score: float = 0.0


@dataclass
class ObservationItem(ProductFields):
    """One product seen (or not) by one crawl: one row of history."""

    website_id: int = 0
    product_id: int = 0
    crawl_run_id: int = 0
    observed_at: datetime | None = None
    ok: bool = False
    http_status: int | None = None
    error_type: str | None = None  # timeout, dns, network, http_status, blocked, parse, robots, internal
    error: str | None = None
    changes: list = field(default_factory=list)  # set by DiffPipeline
    flagged: bool = False
