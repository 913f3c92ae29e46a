"""Watched products and their latest observed state."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime, timedelta
from functools import partial

import marshmallow as ma
from flask import Response, g
from flask_smorest import abort

from api.auth import Blueprint
from api.deps import pool
from api.pagination import page
from core.vocabulary import AVAILABILITY
from db.partitions import add_months
from db.queries import history as history_q
from db.queries import products as q

blp = Blueprint("products", __name__, url_prefix="/v1/products", description="Watched products")


class OfferSchema(ma.Schema):
    sku = ma.fields.String(allow_none=True)
    name = ma.fields.String(
        allow_none=True, metadata={"description": "the variant's (or seller's) name", "example": "M"}
    )
    url = ma.fields.String(allow_none=True, metadata={"description": "the variant's own URL, when the page gives one"})
    price = ma.fields.Decimal(as_string=True, allow_none=True, metadata={"example": "28.00"})
    list_price = ma.fields.Decimal(
        as_string=True,
        allow_none=True,
        metadata={"description": "price before a sale (struck through); null if none", "example": "35.00"},
    )
    currency = ma.fields.String(allow_none=True, metadata={"description": "ISO 4217"})
    availability = ma.fields.String(allow_none=True, metadata={"enum": list(AVAILABILITY)})
    selected = ma.fields.Boolean(metadata={"description": "the offer the product reports (exactly one is)"})
    high_price = ma.fields.Decimal(
        as_string=True,
        allow_none=True,
        metadata={"description": "an AggregateOffer's highest price (price is its lowest)"},
    )
    offer_count = ma.fields.Integer(allow_none=True, metadata={"description": "an AggregateOffer's offerCount"})


class ProductSchema(ma.Schema):
    id = ma.fields.Integer()
    website_id = ma.fields.Integer()
    url = ma.fields.String()
    name = ma.fields.String(allow_none=True)
    price = ma.fields.Decimal(as_string=True, allow_none=True, metadata={"example": "12.34"})
    currency = ma.fields.String(allow_none=True, metadata={"description": "ISO 4217", "example": "GBP"})
    availability = ma.fields.String(allow_none=True, metadata={"enum": list(AVAILABILITY)})
    sku = ma.fields.String(allow_none=True)
    gtin = ma.fields.String(allow_none=True)
    brand = ma.fields.String(allow_none=True)
    image = ma.fields.String(allow_none=True)
    last_observed_at = ma.fields.DateTime(allow_none=True)
    last_changed_at = ma.fields.DateTime(allow_none=True, metadata={"description": "last price or stock change"})
    sources = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(),
        metadata={"description": "which extractor gave each field", "example": {"price": "jsonld"}},
    )
    list_price = ma.fields.Decimal(
        as_string=True,
        allow_none=True,
        metadata={
            "description": "price before a sale, kept apart from price (the price "
            "paid now); null when the page shows none",
            "example": "35.00",
        },
    )
    offers = ma.fields.List(
        ma.fields.Nested(OfferSchema),
        metadata={
            "description": "every offer of the page (variants, sellers); the selected one is what price and "
            "availability report; empty when the page has one plain offer"
        },
    )


SORTS = ("name", "-name", "price", "-price", "last_change", "-last_change", "id", "-id")


class ProductQuerySchema(ma.Schema):
    website_id = ma.fields.Integer()
    availability = ma.fields.String(validate=ma.validate.OneOf(AVAILABILITY))
    q = ma.fields.String(validate=ma.validate.Length(min=1, max=200), metadata={"description": "name contains"})
    sort = ma.fields.String(
        load_default="id",
        validate=ma.validate.OneOf(SORTS),
        metadata={"description": "name, price or last_change; '-' for descending"},
    )


@blp.route("", methods=["GET"])
@blp.requires("read")
@blp.arguments(ProductQuerySchema, location="query")
@blp.response(200, ProductSchema(many=True))
@blp.paginate()
def list_products(args, pagination_parameters):
    """Your approved products with their latest state; filter by website and availability."""
    with pool().connection() as conn:
        fetch = partial(
            q.page_for_client,
            conn,
            g.principal.client_id,
            website_id=args.get("website_id"),
            availability=args.get("availability"),
            search=args.get("q"),
            sort=args["sort"],
        )
        return page(pagination_parameters, fetch)


@blp.route("/<int:product_id>", methods=["GET"])
@blp.requires("read")
@blp.response(200, ProductSchema)
def get_product(product_id):
    with pool().connection() as conn:
        product = q.get_for_client(conn, product_id, g.principal.client_id)
    if product is None:
        abort(404, message=f"No product {product_id}")
    return product


MAX_RANGE = timedelta(days=731)  # two years (one of them may be a leap year)


def _minus_range(end: datetime) -> datetime:
    """``end`` less the longest range, or the earliest time there is (``end`` in year 1)."""
    try:
        return end - MAX_RANGE
    except OverflowError:
        return datetime.min.replace(tzinfo=UTC)


class HistoryQuerySchema(ma.Schema):
    start = ma.fields.AwareDateTime(metadata={"description": "ISO 8601 with timezone; default: end minus 2 years"})
    end = ma.fields.AwareDateTime(metadata={"description": "ISO 8601 with timezone, exclusive; default: now"})
    limit = ma.fields.Integer(load_default=50, validate=ma.validate.Range(1, 500))
    cursor = ma.fields.String(
        validate=ma.validate.Length(max=200), metadata={"description": "next_cursor of the previous page"}
    )
    order = ma.fields.String(load_default="desc", validate=ma.validate.OneOf(("desc", "asc")))

    @ma.validates_schema
    def range_ok(self, data, **_kwargs):
        start, end = data.get("start"), data.get("end")
        if start and end:
            if start >= end:
                raise ma.ValidationError("start must be before end", "start")
            if end - start > MAX_RANGE:
                raise ma.ValidationError("the range may span at most 2 years", "end")


class ObservationSchema(ma.Schema):
    id = ma.fields.Integer(metadata={"description": "the observation's id"})
    observed_at = ma.fields.DateTime()
    price = ma.fields.Decimal(as_string=True, allow_none=True)
    currency = ma.fields.String(allow_none=True)
    availability = ma.fields.String(allow_none=True)
    list_price = ma.fields.Decimal(as_string=True, allow_none=True, metadata={"description": "price before a sale"})
    offers = ma.fields.List(
        ma.fields.Nested(OfferSchema),
        metadata={"description": "the offers seen (empty: one plain offer, or observed before offers were kept)"},
    )
    ok = ma.fields.Boolean(metadata={"description": "false: the page did not render the product"})
    error = ma.fields.String(allow_none=True)
    error_type = ma.fields.String(allow_none=True)
    flagged = ma.fields.Boolean(metadata={"description": "a suspicious change the re-fetch did not confirm"})


class HistorySchema(ma.Schema):
    product_id = ma.fields.Integer()
    order = ma.fields.String()
    items = ma.fields.List(ma.fields.Nested(ObservationSchema))
    next_cursor = ma.fields.String(allow_none=True, metadata={"description": "null on the last page"})


def _encode_cursor(observed_at: datetime, row_id: int) -> str:
    raw = f"{observed_at.isoformat()}|{row_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, row_id = raw.split("|")
        when = datetime.fromisoformat(at)
        if when.tzinfo is None:
            raise ValueError
        return when, int(row_id)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        abort(
            400,
            message="Invalid request: see errors for each field",
            errors={"query": {"cursor": ["not a cursor from this API"]}},
        )


def _own_product(conn, product_id: int) -> dict:
    product = q.get_for_client(conn, product_id, g.principal.client_id)
    if product is None:
        abort(404, message=f"No product {product_id}")
    return product


@blp.route("/<int:product_id>/history", methods=["GET"])
@blp.requires("read")
@blp.arguments(HistoryQuerySchema, location="query")
@blp.response(200, HistorySchema)
def history(args, product_id):
    """The product's observations in a time range, newest first (order=asc for oldest first).

    Pages are keyset-paginated: pass `next_cursor` as `cursor` for the next page; any page costs the same.
    """
    end = args.get("end") or datetime.now(UTC)
    start = args.get("start") or _minus_range(end)
    if "start" in args and "end" not in args and end - start > MAX_RANGE:
        abort(
            400,
            message="Invalid request: see errors for each field",
            errors={"query": {"start": ["the range may span at most 2 years"]}},
        )
    after = _decode_cursor(args["cursor"]) if args.get("cursor") else None
    descending = args["order"] == "desc"
    with pool().connection() as conn:
        items, more, last_at, last_id = history_q.history_page(
            conn,
            product_id,
            client_id=g.principal.client_id,
            start=start,
            end=end,
            limit=args["limit"],
            descending=descending,
            after=after,
        )
        if items is None:  # nothing in range, or not this client's product: only now ask which
            _own_product(conn, product_id)
    next_cursor = json.dumps(_encode_cursor(last_at, last_id) if more else None)
    # The items are JSON already (see db.queries.history): assemble the HistorySchema body around them.
    body = (
        f'{{"product_id":{product_id},"order":"{args["order"]}","items":[{items or ""}],"next_cursor":{next_cursor}}}'
    )
    return Response(body, mimetype="application/json")


class StatisticsQuerySchema(ma.Schema):
    months = ma.fields.Integer(
        load_default=12,
        validate=ma.validate.Range(1, 36),
        metadata={"description": "how many months back, the current one included"},
    )


class MonthSchema(ma.Schema):
    month = ma.fields.String(metadata={"example": "2026-11"})
    currency = ma.fields.String(allow_none=True)
    min_price = ma.fields.Decimal(as_string=True, allow_none=True)
    max_price = ma.fields.Decimal(as_string=True, allow_none=True)
    avg_price = ma.fields.Decimal(as_string=True, allow_none=True)
    last_price = ma.fields.Decimal(as_string=True, allow_none=True)
    observations = ma.fields.Integer()
    ok_observations = ma.fields.Integer()
    in_stock_ratio = ma.fields.Float(allow_none=True)
    live = ma.fields.Boolean(metadata={"description": "computed now (the current month) rather than stored"})


@blp.route("/<int:product_id>/statistics", methods=["GET"])
@blp.requires("read")
@blp.arguments(StatisticsQuerySchema, location="query")
@blp.response(200, MonthSchema(many=True))
def statistics(args, product_id):
    """Per month: min, max, average and last price, observations, in-stock ratio (oldest month first)."""
    this_month = datetime.now(UTC).date().replace(day=1)
    since = add_months(this_month, -(args["months"] - 1))
    with pool().connection() as conn:
        _own_product(conn, product_id)
        stored = history_q.stored_statistics(conn, product_id, since, this_month)
        live = history_q.live_statistics(conn, product_id, this_month)
    months = [{**row, "live": False} for row in stored] + [{**row, "live": True} for row in live]
    for row in months:
        row["month"] = row["month"].strftime("%Y-%m")
    return months
