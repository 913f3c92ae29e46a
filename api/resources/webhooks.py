"""A website's webhook: its delivery attempts, and a test event sent now (under /v1/websites/{id}/)."""

from __future__ import annotations

from functools import partial

from flask import current_app
from flask_smorest import abort

from api.auth import Blueprint
from api.deps import pool
from api.pagination import page
from api.resources.website_schemas import DeliverySchema, TestWebhookSchema
from api.resources.websites import _own_website
from db.queries import webhooks as webhooks_q
from webhooks import delivery

blp = Blueprint("webhooks", __name__, url_prefix="/v1/websites", description="A website's webhook deliveries")


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
        [event_id] = webhooks_q.insert_events(
            conn,
            [
                {
                    "website_id": website_id,
                    "type": "test",
                    "after": {"message": "Test event from Obsrv: your endpoint and signature check work."},
                }
            ],
        )
        event = webhooks_q.lock_event_for_delivery(conn, event_id)
        event = {**event, "webhook_url": website["webhook_url"]}
        lease = delivery.take_lease(conn, event, config, delays=[])
    # the POST holds no transaction and no pool connection: the receiver may take its time
    result = delivery.send(lease, config)
    with pool().connection() as conn, conn.transaction():
        result = delivery.record(conn, lease, result, delays=[], disable_on_gone=False)  # one attempt, no retry
    return {
        "event_id": lease.uid,
        "delivered": result["success"],
        "status_code": result["status_code"],
        "latency_ms": result["latency_ms"],
        "error": result["error"],
    }
