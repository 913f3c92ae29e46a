"""The words every stage shares: availability values, website and crawl-run statuses, error types,
price bounds and the product's field list. Defined once here; the database's CHECK constraints
hold the same lists (tests/db/test_schema_drift.py compares them)."""

from __future__ import annotations

from decimal import Decimal

#: availability, as schema.org's ItemAvailability names it
AVAILABILITY = ("InStock", "OutOfStock", "PreOrder", "BackOrder", "LimitedAvailability", "Discontinued")
#: what a buyer can do about each: buy now, not buy now, order ahead (stock alerts compare these)
BUYER_STATE = {
    "InStock": "in_stock",
    "LimitedAvailability": "in_stock",
    "OutOfStock": "out_of_stock",
    "Discontinued": "out_of_stock",
    "PreOrder": "preorder",
    "BackOrder": "backorder",
}
#: availability values a buyer reads as "cannot buy it now"
SOLD_OUT = frozenset(value for value, state in BUYER_STATE.items() if state == "out_of_stock")

#: a website's statuses (their edges: scheduler/lifecycle.py)
WEBSITE_STATUSES = ("pending_discovery", "pending_approval", "active", "paused", "failed")
#: a crawl run's statuses
RUN_STATUSES = ("running", "succeeded", "partially_failed", "failed", "cancelled")
#: why an observation or a page failed (crawler/errors.py tells them apart)
ERROR_TYPES = ("timeout", "dns", "network", "http_status", "blocked", "parse", "robots", "internal")

#: prices are in (0, MAX_PRICE): anything else read off a page is garbage ("0", an id, a phone number)
MAX_PRICE = Decimal("1000000000")

#: the fields of an extracted product, in the order the API and the items list them
PRODUCT_FIELDS = (
    "name",
    "price",
    "currency",
    "availability",
    "sku",
    "gtin",
    "brand",
    "image",
    "stock_quantity",
    "platform_id",
    "canonical_url",
    "list_price",
    "offers",
)
