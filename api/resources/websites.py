"""Websites: register (discovery starts), list, read, change, delete; candidates and approval."""

from __future__ import annotations

import logging
from functools import partial

import marshmallow as ma
from croniter import croniter
from flask import current_app, g
from flask_smorest import abort
from parsel import Selector

from api.auth import Blueprint
from api.deps import pool
from api.openapi import DecimalNumber
from api.pagination import page
from api.resources.products import OfferSchema
from db.queries import crawls as crawls_q
from db.queries import webhooks as webhooks_q
from db.queries import clients as audit_q
from db.queries import products as products_q
from db.queries import websites as q
from db.queries import work as work_q
from core.urls import TargetRefused, check_target, domain_of, is_http_url
from scheduler import lifecycle
from scheduler.lifecycle import alert_status, next_run
from webhooks import delivery

log = logging.getLogger("obsrv.api.websites")
blp = Blueprint("websites", __name__, url_prefix="/v1/websites", description="Websites and their products")
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
    except Exception:
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
    schedule = ma.fields.String(validate=_validate_cron, metadata={
        "description": "cron, UTC: 5 fields (minute hour day month weekday)", "example": "0 2 * * *",
        "pattern": CRON_TEXT})
    price_threshold_pct = DecimalNumber(validate=ma.validate.Range(0, 100), places=3, text_pattern=PERCENT_TEXT,
                                        metadata={"description": "alert when the price moves by at least this %: "
                                                                 "a number 0-100, or the same as a string "
                                                                 "(as websites return it); kept to 3 decimals"})
    webhook_url = ma.fields.String(allow_none=True, validate=[ma.validate.Length(max=2000), _validate_http_url],
                                   metadata={**HTTP_URL, "description": "https (http only where the deployment "
                                             "allows it); its host must resolve to a public address"})
    webhook_mode = ma.fields.String(validate=ma.validate.OneOf(("immediate", "daily_digest")))
    render_js = ma.fields.Boolean()
    crawl_rate_per_minute = ma.fields.Integer(validate=ma.validate.Range(1, 120))
    selectors = ma.fields.Nested(SelectorsSchema)


class WebsiteCreateSchema(WebsiteSettingsSchema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    seed_urls = ma.fields.List(ma.fields.String(validate=[ma.validate.Length(max=2000), _validate_http_url],
                                                metadata=HTTP_URL),
                               required=True, validate=ma.validate.Length(min=1, max=20))

    @ma.validates_schema(skip_on_field_errors=True)
    def same_site(self, data, **_kwargs):
        try:
            domains = {domain_of(url) for url in data["seed_urls"]}
        except ValueError:
            raise ma.ValidationError("a seed URL's host is not a valid host name", "seed_urls") from None
        if len(domains) > 1:
            raise ma.ValidationError(f"seed URLs must all be on one site, not {sorted(domains)}", "seed_urls")


class WebsitePatchSchema(WebsiteSettingsSchema):
    status = ma.fields.String(validate=ma.validate.OneOf(("active", "paused")),
                              metadata={"description": "pause a website, or resume it"})


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
    offers = ma.fields.List(ma.fields.Nested(OfferSchema), metadata={
        "description": "the page's offers (variants, sellers), as on a product"})


class ApproveSchema(ma.Schema):
    product_ids = ma.fields.List(ma.fields.Integer(strict=True, validate=ma.validate.Range(min=1)), required=True,
                                 validate=ma.validate.Length(min=1, max=products_q.MAX_APPROVED))


class ApprovedSchema(ma.Schema):
    website_id = ma.fields.Integer()
    approved = ma.fields.List(ma.fields.Integer(), metadata={"description": "newly approved by this call"})
    total_approved = ma.fields.Integer()
    status = ma.fields.String()
    baseline_job_id = ma.fields.String(allow_none=True)


def _check_webhook(url: str | None) -> None:
    if not url:
        return
    config = current_app.config
    if url.lower().startswith("http://") and not config["OBSRV_ALLOW_HTTP_WEBHOOKS"]:
        abort(400, message="Invalid request: see errors for each field",
              errors={"json": {"webhook_url": ["must be https (set OBSRV_ALLOW_HTTP_WEBHOOKS to allow http)"]}})
    try:  # a webhook's host must resolve now: a name that resolves nowhere today could resolve anywhere later
        check_target(url, allow_private=config["OBSRV_ALLOW_PRIVATE_TARGETS"], require_address=True)
    except TargetRefused as exc:
        abort(400, message="Invalid request: see errors for each field",
              errors={"json": {"webhook_url": [f"refused: {exc}"]}})


def _audit(conn, action: str, website_id: int, details: dict | None = None) -> None:
    audit_q.audit(conn, client_id=g.principal.client_id, api_key_id=g.principal.key_id, action=action,
                  target_type="website", target_id=website_id, details=details, request_id=g.get("request_id"))


def _enqueue(conn, website_id: int, kind: str, product_ids: list[int] | None = None) -> str:
    """Queue a crawl as crawl work, in the request's transaction: a crawler process claims it."""
    return work_q.enqueue(conn, website_id, kind, product_ids=product_ids)


def _own_website(conn, website_id: int, *, for_update: bool = False) -> dict:
    website = q.get(conn, website_id, g.principal.client_id, for_update=for_update)
    if website is None:
        abort(404, message=f"No website {website_id}")
    return website


@blp.route("", methods=["POST"])
@blp.requires("write")
@blp.arguments(WebsiteCreateSchema)
@blp.response(202, RegisteredSchema)
@blp.alt_response(409, response="CONFLICT")
def register(body):
    """Register a shop; its discovery crawl starts now."""
    config = current_app.config
    seed_errors = {}
    for i, url in enumerate(body["seed_urls"]):
        try:
            check_target(url, allow_private=config["OBSRV_ALLOW_PRIVATE_TARGETS"])
        except TargetRefused as exc:
            seed_errors[i] = [str(exc)]
    if seed_errors:
        abort(400, message="Invalid request: see errors for each field", errors={"json": {"seed_urls": seed_errors}})
    _check_webhook(body.get("webhook_url"))
    schedule = body.get("schedule", "0 2 * * *")
    domain = domain_of(body["seed_urls"][0])
    with pool().connection() as conn, conn.transaction():
        website = q.insert(
            conn, client_id=g.principal.client_id, name=body["name"], domain=domain,
            seed_urls=list(dict.fromkeys(body["seed_urls"])), schedule=schedule, next_crawl_at=next_run(schedule),
            price_threshold_pct=body.get("price_threshold_pct", 1), webhook_url=body.get("webhook_url"),
            webhook_mode=body.get("webhook_mode", "immediate"), render_js=body.get("render_js", False),
            crawl_rate_per_minute=body.get("crawl_rate_per_minute", 10), selectors=body.get("selectors") or {},
        )
        if website is None:
            abort(409, message=f"You already registered the domain {domain}")
        _audit(conn, "website.created", website["id"], {"name": body["name"], "domain": domain})
        job_id = _enqueue(conn, website["id"], "discovery")
    return {"id": website["id"], "status": website["status"], "discovery_job_id": job_id}


@blp.route("", methods=["GET"])
@blp.requires("read")
@blp.arguments(WebsiteQuerySchema, location="query")
@blp.response(200, WebsiteSchema(many=True))
@blp.paginate()
def list_websites(args, pagination_parameters):
    """Your websites, oldest first; filter by status."""
    with pool().connection() as conn:
        return page(pagination_parameters, partial(q.page, conn, g.principal.client_id, status=args.get("status")))


@blp.route("/<int:website_id>", methods=["GET"])
@blp.requires("read")
@blp.response(200, WebsiteSchema)
def get_website(website_id):
    with pool().connection() as conn:
        return _own_website(conn, website_id)


@blp.route("/<int:website_id>", methods=["PATCH"])
@blp.requires("write")
@blp.arguments(WebsitePatchSchema, required=False)
@blp.response(200, WebsiteSchema)
def patch_website(body, website_id):
    """Change schedule, threshold, webhook, render_js, rate, selectors; or pause/resume with status.

    Only the fields sent change; an empty (or no) body changes nothing and returns the website.
    """
    if "webhook_url" in body:
        _check_webhook(body["webhook_url"])
    with pool().connection() as conn, conn.transaction():
        website = _own_website(conn, website_id, for_update=True)
        changes = dict(body)
        if "webhook_url" in changes:
            changes["webhook_enabled"] = True  # a new address gets a fresh start (410 Gone disables it)
        if "schedule" in changes:
            changes["next_crawl_at"] = next_run(changes["schedule"])
        new_status = changes.pop("status", None)
        website = q.update(conn, website_id, changes)
        if new_status and new_status != website["status"]:
            if new_status == "active" and not conn.execute(
                    "SELECT 1 FROM products WHERE website_id = %s AND status = 'approved' LIMIT 1",
                    (website_id,)).fetchone():
                abort(409, message="Approve products before activating this website")
            try:
                website = lifecycle.transition(conn, website_id, new_status, reason="set by client")
            except lifecycle.IllegalTransition as exc:
                abort(409, message=str(exc))
            if new_status == "pending_discovery":
                _enqueue(conn, website_id, "discovery")
        _audit(conn, "website.updated", website_id,
               {k: (str(v) if not isinstance(v, (str, int, bool, dict, type(None))) else v) for k, v in body.items()})
    return website


@blp.route("/<int:website_id>", methods=["DELETE"])
@blp.requires("write")
@blp.response(204)
def delete_website(website_id):
    """Delete a website with its products and their history."""
    with pool().connection() as conn, conn.transaction():
        deleted = q.delete(conn, website_id, g.principal.client_id)
        if deleted is None:
            abort(404, message=f"No website {website_id}")
        _audit(conn, "website.deleted", website_id, {"name": deleted["name"], "domain": deleted["domain"]})
    return None


@blp.route("/<int:website_id>/discovered-products", methods=["GET"])
@blp.requires("read")
@blp.response(200, CandidateSchema(many=True))
@blp.paginate()
def discovered_products(website_id, pagination_parameters):
    """Product pages discovery found, best candidates first."""
    with pool().connection() as conn:
        _own_website(conn, website_id)
        return page(pagination_parameters, partial(products_q.candidates, conn, website_id))


@blp.route("/<int:website_id>/approve-products", methods=["POST"])
@blp.requires("write")
@blp.arguments(ApproveSchema)
@blp.response(202, ApprovedSchema)
def approve_products(body, website_id):
    """Approve candidates to watch (at most 100 per website); their baseline crawl starts now."""
    with pool().connection() as conn, conn.transaction():
        website = _own_website(conn, website_id, for_update=True)
        if website["status"] == "pending_discovery":
            abort(409, message="Discovery has not finished yet: wait for status pending_approval")
        if website["status"] == "failed" and not body["product_ids"]:
            abort(409, message="This website failed; register it again or fix its seeds")
        try:
            new, total = products_q.approve(conn, website_id, body["product_ids"])
        except products_q.ApprovalError as exc:
            abort(400, message=str(exc), errors={"json": exc.errors})
        if website["status"] in ("pending_approval", "failed"):
            website = lifecycle.transition(conn, website_id, "active")
        _audit(conn, "website.products_approved", website_id, {"product_ids": new, "total_approved": total})
        job_id = _enqueue(conn, website_id, "baseline", product_ids=new) if new else None
    return {"website_id": website_id, "approved": new, "total_approved": total, "status": website["status"],
            "baseline_job_id": job_id}


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


@blp.route("/<int:website_id>/crawl", methods=["POST"])
@blp.requires("write")
@blp.response(202, CrawlQueuedSchema)
@blp.alt_response(409, response="CONFLICT")
def crawl_now(website_id):
    """Crawl the website's approved products now (409 if a crawl of it is running or waiting)."""
    with pool().connection() as conn, conn.transaction():
        website = _own_website(conn, website_id, for_update=True)
        if website["status"] != "active":
            abort(409, message=f"Only an active website can be crawled; this one is {website['status']}")
        waiting = work_q.pending(conn, website_id)
        if waiting or crawls_q.running(conn, website_id):
            abort(409, message="A crawl of this website is " + (
                "waiting to start" if waiting and waiting["status"] == "queued" else "running"))
        job_id = _enqueue(conn, website_id, "manual")
    return {"website_id": website_id, "job_id": job_id}


@blp.route("/<int:website_id>/webhook-deliveries", methods=["GET"])
@blp.requires("read")
@blp.response(200, DeliverySchema(many=True))
@blp.paginate()
def webhook_deliveries(website_id, pagination_parameters):
    """Every delivery attempt of this website's webhooks, newest first."""
    with pool().connection() as conn:
        _own_website(conn, website_id)
        return page(pagination_parameters, partial(webhooks_q.deliveries_page, conn, website_id))


@blp.route("/<int:website_id>/test-webhook", methods=["POST"])
@blp.requires("write")
@blp.response(200, TestWebhookSchema)
@blp.alt_response(409, response="CONFLICT")
def test_webhook(website_id):
    """Send a signed `test` event to the website's webhook now and report the receiver's answer."""
    config = current_app.config
    with pool().connection() as conn, conn.transaction():
        website = _own_website(conn, website_id)
        if not website["webhook_url"]:
            abort(409, message="This website has no webhook_url")
        [event_id] = webhooks_q.insert_events(conn, [{
            "website_id": website_id, "type": "test",
            "after": {"message": "Test event from Obsrv: your endpoint and signature check work."}}])
        event = webhooks_q.lock_event_for_delivery(conn, event_id)
        event = {**event, "webhook_url": website["webhook_url"]}
        lease = delivery.take_lease(conn, event, config, delays=[])
    # the POST holds no transaction and no pool connection: the receiver may take its time
    result = delivery.send(lease, config)
    with pool().connection() as conn, conn.transaction():
        result = delivery.record(conn, lease, result, delays=[], disable_on_gone=False)  # one attempt, no retry
    return {"event_id": lease.uid, "delivered": result["success"], "status_code": result["status_code"],
            "latency_ms": result["latency_ms"], "error": result["error"]}


class CrawlRunSchema(ma.Schema):
    id = ma.fields.Integer()
    kind = ma.fields.String(metadata={"enum": ["discovery", "baseline", "scheduled", "manual"]})
    status = ma.fields.String(metadata={"enum": ["running", "succeeded", "partially_failed", "failed"]})
    started_at = ma.fields.DateTime()
    finished_at = ma.fields.DateTime(allow_none=True)
    duration_ms = ma.fields.Integer(allow_none=True)
    pages_fetched = ma.fields.Integer()
    products_attempted = ma.fields.Integer()
    products_ok = ma.fields.Integer()
    products_failed = ma.fields.Integer()
    changes_detected = ma.fields.Integer()
    error_type = ma.fields.String(allow_none=True, metadata={
        "enum": ["timeout", "dns", "network", "http_status", "blocked", "parse", "robots", "internal"]})
    error_message = ma.fields.String(allow_none=True)
    error_products = ma.fields.List(ma.fields.Dict(), metadata={"description": "up to 100 failed pages"})
    summary = ma.fields.String(allow_none=True, metadata={
        "description": "what the crawl did; a discovery: the page budget it used and why it stopped"})


class CrawlLogQuerySchema(ma.Schema):
    status = ma.fields.String(validate=ma.validate.OneOf(("running", "succeeded", "partially_failed", "failed")))


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


@blp.route("/<int:website_id>/crawl-logs", methods=["GET"])
@blp.requires("read")
@blp.arguments(CrawlLogQuerySchema, location="query")
@blp.response(200, CrawlRunSchema(many=True))
@blp.paginate()
def crawl_logs(args, website_id, pagination_parameters):
    """The website's crawls, newest first, with counts and typed errors; filter by status."""
    with pool().connection() as conn:
        _own_website(conn, website_id)
        return page(pagination_parameters,
                    partial(crawls_q.page_runs, conn, website_id, status=args.get("status")))


@blp.route("/<int:website_id>/health", methods=["GET"])
@blp.requires("read")
@blp.response(200, CrawlHealthSchema)
def website_health(website_id):
    """Crawl health over the last 7 days: success rate, duration, last success and error, alert status."""
    with pool().connection() as conn:
        website = _own_website(conn, website_id)
        stats = crawls_q.health(conn, website_id, days=7)
    finished = stats["finished"]
    health = {
        "website_id": website_id, "window_days": 7, "crawls": finished,
        "success_rate": round(stats["succeeded"] / finished, 4) if finished else None,
        "avg_duration_ms": int(stats["avg_duration_ms"]) if stats["avg_duration_ms"] is not None else None,
        "last_success_at": stats["last_success_at"], "last_error": stats["last_error"],
        "consecutive_failures": website["consecutive_failures"], "website_status": website["status"],
    }
    health["alert_status"] = alert_status(health, website)
    return health
