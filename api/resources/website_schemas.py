"""Schemas of the websites resource group (websites, candidates, approval, crawls, webhook deliveries):
what the API takes and returns, with their validation; the views are in websites.py, crawls.py and
webhooks.py."""

from __future__ import annotations

import marshmallow as ma
from croniter import croniter
from parsel import Selector

from api.openapi import DecimalNumber
from api.resources.products import OfferSchema
from core.urls import domain_of, is_http_url
from core.vocabulary import ERROR_TYPES, RUN_STATUSES
from db.queries import products as products_q
from scheduler import lifecycle

SELECTOR_FIELDS = ("price", "name", "availability", "sku")
PERCENT_TEXT = r"^(100(\.0+)?|[0-9]{1,2}(\.[0-9]+)?)$"  # 0 to 100 written as a plain decimal
CRON_TEXT = r"^\s*\S+(\s+\S+){4}\s*$"
HTTP_URL = {"pattern": "^[Hh][Tt][Tt][Pp][Ss]?://[^/?#]", "example": "https://shop.example/"}


def _validate_cron(value: str) -> None:
    if len(value.split()) != 5 or not croniter.is_valid(value):
        raise ma.ValidationError("must be a 5-field cron expression (minute hour day month weekday), in UTC")


def _validate_selector(value: str) -> None:
    try:
        if value.lstrip().startswith(("/", "(")):
            Selector(text="<html></html>").xpath(value)
        else:
            Selector(text="<html></html>").css(value)
    except Exception:  # noqa: BLE001 -- parsel raises many kinds for a bad selector
        raise ma.ValidationError(f"not a valid CSS selector or XPath: {value!r}") from None


def _validate_http_url(value: str) -> None:
    if not is_http_url(value):
        raise ma.ValidationError("must be an absolute http(s) URL")


class SelectorsSchema(ma.Schema):
    price = ma.fields.String(validate=[ma.validate.Length(max=500), _validate_selector])
    name = ma.fields.String(validate=[ma.validate.Length(max=500), _validate_selector])
    availability = ma.fields.String(validate=[ma.validate.Length(max=500), _validate_selector])
    sku = ma.fields.String(validate=[ma.validate.Length(max=500), _validate_selector])


class WebsiteSettingsSchema(ma.Schema):
    """The fields a client may set at registration and change later."""

    name = ma.fields.String(validate=ma.validate.Length(min=1, max=200))
    schedule = ma.fields.String(
        validate=_validate_cron,
        metadata={
            "description": "cron, UTC: 5 fields (minute hour day month weekday)",
            "example": "0 2 * * *",
            "pattern": CRON_TEXT,
        },
    )
    price_threshold_pct = DecimalNumber(
        validate=ma.validate.Range(0, 100),
        places=3,
        text_pattern=PERCENT_TEXT,
        metadata={
            "description": "alert when the price moves by at least this %: "
            "a number 0-100, or the same as a string "
            "(as websites return it); kept to 3 decimals"
        },
    )
    webhook_url = ma.fields.String(
        allow_none=True,
        validate=[ma.validate.Length(max=2000), _validate_http_url],
        metadata={
            **HTTP_URL,
            "description": "https (http only where the deployment "
            "allows it); its host must resolve to a public address",
        },
    )
    webhook_mode = ma.fields.String(validate=ma.validate.OneOf(("immediate", "daily_digest")))
    render_js = ma.fields.Boolean()
    crawl_rate_per_minute = ma.fields.Integer(validate=ma.validate.Range(1, 120))
    selectors = ma.fields.Nested(SelectorsSchema)


class WebsiteCreateSchema(WebsiteSettingsSchema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    seed_urls = ma.fields.List(
        ma.fields.String(validate=[ma.validate.Length(max=2000), _validate_http_url], metadata=HTTP_URL),
        required=True,
        validate=ma.validate.Length(min=1, max=20),
    )

    @ma.validates_schema(skip_on_field_errors=True)
    def same_site(self, data, **_kwargs):
        try:
            domains = {domain_of(url) for url in data["seed_urls"]}
        except ValueError:
            raise ma.ValidationError("a seed URL's host is not a valid host name", "seed_urls") from None
        if len(domains) > 1:
            raise ma.ValidationError(f"seed URLs must all be on one site, not {sorted(domains)}", "seed_urls")


class WebsitePatchSchema(WebsiteSettingsSchema):
    status = ma.fields.String(
        validate=ma.validate.OneOf(("active", "paused")), metadata={"description": "pause a website, or resume it"}
    )


class WebsiteSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    domain = ma.fields.String()
    seed_urls = ma.fields.List(ma.fields.String())
    status = ma.fields.String(metadata={"enum": list(lifecycle.STATUSES)})
    status_reason = ma.fields.String(allow_none=True)
    schedule = ma.fields.String()
    next_crawl_at = ma.fields.DateTime(allow_none=True)
    price_threshold_pct = ma.fields.Decimal(as_string=True)
    webhook_url = ma.fields.String(allow_none=True)
    webhook_mode = ma.fields.String()
    webhook_enabled = ma.fields.Boolean()
    render_js = ma.fields.Boolean()
    crawl_rate_per_minute = ma.fields.Integer()
    selectors = ma.fields.Dict()
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class RegisteredSchema(ma.Schema):
    id = ma.fields.Integer()
    status = ma.fields.String()
    discovery_job_id = ma.fields.String()


class WebsiteQuerySchema(ma.Schema):
    status = ma.fields.String(validate=ma.validate.OneOf(lifecycle.STATUSES))


class CandidateSchema(ma.Schema):
    id = ma.fields.Integer()
    url = ma.fields.String()
    name = ma.fields.String(allow_none=True)
    price = ma.fields.Decimal(as_string=True, allow_none=True)
    currency = ma.fields.String(allow_none=True)
    availability = ma.fields.String(allow_none=True)
    score = ma.fields.Float(allow_none=True)
    status = ma.fields.String(metadata={"description": "discovered, or approved"})
    list_price = ma.fields.Decimal(as_string=True, allow_none=True, metadata={"description": "price before a sale"})
    offers = ma.fields.List(
        ma.fields.Nested(OfferSchema),
        metadata={"description": "the page's offers (variants, sellers), as on a product"},
    )


class ApproveSchema(ma.Schema):
    product_ids = ma.fields.List(
        ma.fields.Integer(strict=True, validate=ma.validate.Range(min=1)),
        required=True,
        validate=ma.validate.Length(min=1, max=products_q.MAX_APPROVED),
    )


class ApprovedSchema(ma.Schema):
    website_id = ma.fields.Integer()
    approved = ma.fields.List(ma.fields.Integer(), metadata={"description": "newly approved by this call"})
    total_approved = ma.fields.Integer()
    status = ma.fields.String()
    baseline_job_id = ma.fields.String(allow_none=True)


class CrawlQueuedSchema(ma.Schema):
    website_id = ma.fields.Integer()
    job_id = ma.fields.String()


class DeliverySchema(ma.Schema):
    id = ma.fields.Integer()
    event_id = ma.fields.String(metadata={"description": "the event's stable id (webhook-id)"})
    event_type = ma.fields.String()
    attempt = ma.fields.Integer()
    attempted_at = ma.fields.DateTime()
    url = ma.fields.String()
    status_code = ma.fields.Integer(allow_none=True)
    latency_ms = ma.fields.Integer(allow_none=True)
    success = ma.fields.Boolean()
    error = ma.fields.String(allow_none=True)


class TestWebhookSchema(ma.Schema):
    event_id = ma.fields.String()
    delivered = ma.fields.Boolean()
    status_code = ma.fields.Integer(allow_none=True)
    latency_ms = ma.fields.Integer()
    error = ma.fields.String(allow_none=True)


class CrawlRunSchema(ma.Schema):
    id = ma.fields.Integer()
    kind = ma.fields.String(metadata={"enum": ["discovery", "baseline", "scheduled", "manual"]})
    status = ma.fields.String(metadata={"enum": list(RUN_STATUSES)})
    started_at = ma.fields.DateTime()
    finished_at = ma.fields.DateTime(allow_none=True)
    duration_ms = ma.fields.Integer(allow_none=True)
    pages_fetched = ma.fields.Integer()
    products_attempted = ma.fields.Integer()
    products_ok = ma.fields.Integer()
    products_failed = ma.fields.Integer()
    changes_detected = ma.fields.Integer()
    error_type = ma.fields.String(allow_none=True, metadata={"enum": list(ERROR_TYPES)})
    error_message = ma.fields.String(allow_none=True)
    error_products = ma.fields.List(ma.fields.Dict(), metadata={"description": "up to 100 failed pages"})
    summary = ma.fields.String(
        allow_none=True,
        metadata={"description": "what the crawl did; a discovery: the page budget it used and why it stopped"},
    )


class CrawlLogQuerySchema(ma.Schema):
    status = ma.fields.String(validate=ma.validate.OneOf(RUN_STATUSES))


class LastErrorSchema(ma.Schema):
    at = ma.fields.DateTime(allow_none=True)
    status = ma.fields.String()
    error_type = ma.fields.String(allow_none=True)
    error_message = ma.fields.String(allow_none=True)


class CrawlHealthSchema(ma.Schema):
    website_id = ma.fields.Integer()
    window_days = ma.fields.Integer()
    crawls = ma.fields.Integer(metadata={"description": "finished crawls in the window"})
    success_rate = ma.fields.Float(allow_none=True, metadata={"description": "succeeded / finished, 0..1"})
    avg_duration_ms = ma.fields.Integer(allow_none=True)
    last_success_at = ma.fields.DateTime(allow_none=True)
    last_error = ma.fields.Nested(LastErrorSchema, allow_none=True)
    consecutive_failures = ma.fields.Integer()
    alert_status = ma.fields.String(metadata={"enum": ["ok", "degraded", "failing"]})
    website_status = ma.fields.String()
