"""Websites: register (discovery starts), list, read, change, delete; candidates and approval. Their
schemas are in website_schemas.py; a website's crawls and webhook deliveries have blueprints of their own."""

from __future__ import annotations

import logging
from functools import partial

from flask import current_app, g
from flask_smorest import abort

from api.auth import Blueprint
from api.deps import pool
from api.pagination import page
from api.resources.website_schemas import (
    ApprovedSchema,
    ApproveSchema,
    CandidateSchema,
    RegisteredSchema,
    WebsiteCreateSchema,
    WebsitePatchSchema,
    WebsiteQuerySchema,
    WebsiteSchema,
)
from core.urls import TargetRefused, check_target, domain_of
from db.queries import clients as audit_q
from db.queries import products as products_q
from db.queries import websites as q
from db.queries import work as work_q
from scheduler import lifecycle
from scheduler.lifecycle import next_run

log = logging.getLogger("obsrv.api.websites")
blp = Blueprint("websites", __name__, url_prefix="/v1/websites", description="Websites and their products")


def _check_webhook(url: str | None) -> None:
    if not url:
        return
    config = current_app.config
    if url.lower().startswith("http://") and not config["OBSRV_ALLOW_HTTP_WEBHOOKS"]:
        abort(
            400,
            message="Invalid request: see errors for each field",
            errors={"json": {"webhook_url": ["must be https (set OBSRV_ALLOW_HTTP_WEBHOOKS to allow http)"]}},
        )
    try:  # a webhook's host must resolve now: a name that resolves nowhere today could resolve anywhere later
        check_target(url, allow_private=config["OBSRV_ALLOW_PRIVATE_TARGETS"], require_address=True)
    except TargetRefused as exc:
        abort(
            400,
            message="Invalid request: see errors for each field",
            errors={"json": {"webhook_url": [f"refused: {exc}"]}},
        )


def _audit(conn, action: str, website_id: int, details: dict | None = None) -> None:
    audit_q.audit(
        conn,
        client_id=g.principal.client_id,
        api_key_id=g.principal.key_id,
        action=action,
        target_type="website",
        target_id=website_id,
        details=details,
        request_id=g.get("request_id"),
    )


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
            conn,
            client_id=g.principal.client_id,
            name=body["name"],
            domain=domain,
            seed_urls=list(dict.fromkeys(body["seed_urls"])),
            schedule=schedule,
            next_crawl_at=next_run(schedule),
            price_threshold_pct=body.get("price_threshold_pct", 1),
            webhook_url=body.get("webhook_url"),
            webhook_mode=body.get("webhook_mode", "immediate"),
            render_js=body.get("render_js", False),
            crawl_rate_per_minute=body.get("crawl_rate_per_minute", 10),
            selectors=body.get("selectors") or {},
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
            if new_status == "active" and not products_q.has_approved(conn, website_id):
                abort(409, message="Approve products before activating this website")
            try:
                website = lifecycle.transition(conn, website_id, new_status, reason="set by client")
            except lifecycle.IllegalTransition as exc:
                abort(409, message=str(exc))
            if new_status == "pending_discovery":
                _enqueue(conn, website_id, "discovery")
        _audit(
            conn,
            "website.updated",
            website_id,
            {k: (str(v) if not isinstance(v, (str, int, bool, dict, type(None))) else v) for k, v in body.items()},
        )
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
    return {
        "website_id": website_id,
        "approved": new,
        "total_approved": total,
        "status": website["status"],
        "baseline_job_id": job_id,
    }
