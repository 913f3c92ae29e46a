"""Crawls of a website: crawl now, crawl logs, crawl health (under /v1/websites/{id}/)."""

from __future__ import annotations

from functools import partial

from flask_smorest import abort

from api.auth import Blueprint
from api.deps import pool
from api.pagination import page
from api.resources.website_schemas import CrawlHealthSchema, CrawlLogQuerySchema, CrawlQueuedSchema, CrawlRunSchema
from api.resources.websites import _enqueue, _own_website
from db.queries import crawls as crawls_q
from db.queries import work as work_q
from scheduler.lifecycle import alert_status

blp = Blueprint("crawls", __name__, url_prefix="/v1/websites", description="A website's crawls: now, logs, health")


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
            abort(
                409,
                message="A crawl of this website is "
                + ("waiting to start" if waiting and waiting["status"] == "queued" else "running"),
            )
        job_id = _enqueue(conn, website_id, "manual")
    return {"website_id": website_id, "job_id": job_id}


@blp.route("/<int:website_id>/crawl-logs", methods=["GET"])
@blp.requires("read")
@blp.arguments(CrawlLogQuerySchema, location="query")
@blp.response(200, CrawlRunSchema(many=True))
@blp.paginate()
def crawl_logs(args, website_id, pagination_parameters):
    """The website's crawls, newest first, with counts and typed errors; filter by status."""
    with pool().connection() as conn:
        _own_website(conn, website_id)
        return page(pagination_parameters, partial(crawls_q.page_runs, conn, website_id, status=args.get("status")))


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
        "website_id": website_id,
        "window_days": 7,
        "crawls": finished,
        "success_rate": round(stats["succeeded"] / finished, 4) if finished else None,
        "avg_duration_ms": int(stats["avg_duration_ms"]) if stats["avg_duration_ms"] is not None else None,
        "last_success_at": stats["last_success_at"],
        "last_error": stats["last_error"],
        "consecutive_failures": website["consecutive_failures"],
        "website_status": website["status"],
    }
    health["alert_status"] = alert_status(health, website)
    return health
