"""Watched products and their latest observed state."""

from __future__ import annotations

import marshmallow as ma
from flask import g
from flask_smorest import abort

from api.auth import Blueprint
from api.deps import pool
from api.pagination import page_args
from db.queries import products as q

blp = Blueprint("products", __name__, url_prefix="/v1/products", description="Watched products")
AVAILABILITY = ("InStock", "OutOfStock", "PreOrder", "BackOrder", "LimitedAvailability", "Discontinued")


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
    sources = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(),
                             metadata={"description": "which extractor gave each field", "example": {"price": "jsonld"}})


class ProductQuerySchema(ma.Schema):
    website_id = ma.fields.Integer()
    availability = ma.fields.String(validate=ma.validate.OneOf(AVAILABILITY))


@blp.route("", methods=["GET"])
@blp.requires("read")
@blp.arguments(ProductQuerySchema, location="query")
@blp.response(200, ProductSchema(many=True))
@blp.paginate()
def list_products(args, pagination_parameters):
    """Your approved products with their latest state; filter by website and availability."""
    limit, offset = page_args(pagination_parameters)
    with pool().connection() as conn:
        rows, total = q.page_for_client(conn, g.principal.client_id, website_id=args.get("website_id"),
                                        availability=args.get("availability"), limit=limit, offset=offset)
    pagination_parameters.item_count = total
    return rows


@blp.route("/<int:product_id>", methods=["GET"])
@blp.requires("read")
@blp.response(200, ProductSchema)
def get_product(product_id):
    with pool().connection() as conn:
        product = q.get_for_client(conn, product_id, g.principal.client_id)
    if product is None:
        abort(404, message=f"No product {product_id}")
    return product
