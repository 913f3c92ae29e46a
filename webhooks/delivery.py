"""Delivering change events: the RQ job ``deliver(event_id)`` and the payload it sends.

At-least-once: the job locks the event row (``FOR UPDATE SKIP LOCKED``: one
worker at a time), POSTs the signed payload, records the attempt in
``webhook_deliveries`` and then marks the event delivered, schedules the next
attempt, or marks it exhausted — all in one transaction. The event's ``uid``
is the stable id of every attempt (``id`` in the body, ``webhook-id``), so a
receiver can de-duplicate. A lost job loses nothing: the scheduler's sweep
re-queues events that are due and neither delivered nor exhausted.

Attempts: immediately, then after each delay of OBSRV_WEBHOOK_RETRY_DELAYS
(default +5 min, +30 min); 2xx is success; 410 Gone disables the website's
webhook; 429/503 wait at least their Retry-After (seconds or an HTTP-date); 10 s timeout. Targets are
checked against private addresses again at delivery time, after DNS, and the POST dials the address that
was checked (webhooks.transport), never a second lookup of the name.
"""

from __future__ import annotations

import json
import logging
import time
from decimal import Decimal

import requests

from db.jobs import enqueue_delivery
from db.pool import get_pool
from db.queries import webhooks as q
from db.redis_client import get_redis
from db.retry_after import retry_after_seconds
from db.settings import load_settings
from db.urls import TargetRefused, check_target
from webhooks import transport
from webhooks.signing import sign

log = logging.getLogger("obsrv.webhooks")
USER_AGENT = "Obsrv-Webhooks/0.1"


def retry_delays(settings: dict) -> list[float]:
    """Seconds to wait before each attempt after the first."""
    return [float(x) for x in str(settings["OBSRV_WEBHOOK_RETRY_DELAYS"]).split(",") if x.strip()]


def _money(value) -> str | None:
    return None if value is None else str(value)


def _state(state: dict | None) -> dict:
    state = state or {}
    return {"price": state.get("price"), "currency": state.get("currency"), "availability": state.get("availability")}


def event_body(event: dict, website: dict) -> dict:
    """The JSON of one change event, as receivers get it."""
    return {
        "id": str(event["uid"]),
        "type": event["type"],
        "created_at": event["created_at"].isoformat(),
        "website": {"id": website["id"], "name": website["name"]},
        "product": None if event.get("product_id") is None else {
            "id": event["product_id"], "url": event.get("product_url"), "name": event.get("product_name"),
            "sku": event.get("product_sku")},
        "before": _state(event.get("before")),
        "after": _state(event.get("after")),
        "change_pct": None if event.get("change_pct") is None else str(Decimal(event["change_pct"]).quantize(
            Decimal("0.01"))),
        "observed_at": event["observed_at"].isoformat() if event.get("observed_at") else None,
    }


def payload(conn, event: dict) -> bytes:
    website = {"id": event["website_id"], "name": event["website_name"]}
    if event["type"] == "digest":
        body = {"id": str(event["uid"]), "type": "digest", "created_at": event["created_at"].isoformat(),
                "website": website, "date": (event.get("after") or {}).get("date"),
                "changes": [event_body(c, website) for c in q.digested_changes(conn, event["id"])]}
    elif event["type"] in ("test", "website.paused"):
        body = {"id": str(event["uid"]), "type": event["type"], "created_at": event["created_at"].isoformat(),
                "website": website, **(event.get("after") or {})}
    else:
        body = event_body(event, website)
    return json.dumps(body, separators=(",", ":"), default=str).encode()


def _error(exc: Exception) -> str:
    """A failed POST in the fixed vocabulary receivers and clients see; the detail goes to the log only."""
    if isinstance(exc, TargetRefused):
        return f"refused target: {exc}"
    if isinstance(exc, requests.exceptions.SSLError):
        return "tls error"
    if isinstance(exc, requests.Timeout):
        return "timeout"
    if isinstance(exc, requests.ConnectionError):
        return "connection failed"
    return "request failed"


def post(url: str, body: bytes, headers: dict, *, timeout: float, allow_private: bool) -> dict:
    """One POST; returns status_code, latency_ms, error, retry_after (never raises)."""
    started = time.perf_counter()
    result = {"status_code": None, "error": None, "retry_after": None}
    try:
        target = check_target(url, allow_private=allow_private, require_address=True)
        status, response_headers = transport.send(target, body, {
            "Content-Type": "application/json", "User-Agent": USER_AGENT, **headers}, timeout=timeout)
        result["status_code"] = status
        if not 200 <= status < 300:
            result["error"] = f"http {status}"
        result["retry_after"] = retry_after_seconds(response_headers.get("Retry-After"))
    except Exception as exc:  # noqa: BLE001 - one attempt never raises; its outcome is recorded
        result["error"] = _error(exc)
        log.info("webhook post failed", extra={"error": result["error"], "detail": f"{type(exc).__name__}: {exc}"[:500]})
    result["latency_ms"] = int((time.perf_counter() - started) * 1000)
    return result


def attempt(conn, event: dict, settings: dict) -> dict:
    """Deliver a locked event once and record the outcome (in the caller's transaction)."""
    number = event["attempts"] + 1
    secrets_ = q.signing_secrets(conn, event["client_id"])
    if secrets_:
        body = payload(conn, event)
        headers = sign(body, secrets_, str(event["uid"]))
        result = post(event["webhook_url"], body, headers, timeout=settings["OBSRV_WEBHOOK_TIMEOUT"],
                      allow_private=settings["OBSRV_ALLOW_PRIVATE_TARGETS"])
    else:  # never send unsigned: say what to do instead
        result = {"status_code": None, "latency_ms": 0, "retry_after": None,
                  "error": "no signing secret: create one with POST /v1/auth/webhook-secret"}
    success = result["status_code"] is not None and 200 <= result["status_code"] < 300
    q.record_attempt(conn, event_id=event["id"], website_id=event["website_id"], attempt=number,
                     url=event["webhook_url"], status_code=result["status_code"], latency_ms=result["latency_ms"],
                     success=success, error=result["error"])
    return {**result, "attempt": number, "success": success}


def deliver(event_id: int) -> dict:
    """The RQ job. Idempotent: a delivered, exhausted, not-yet-due or busy event is left alone."""
    settings = load_settings()
    if not settings["OBSRV_WEBHOOKS_ENABLED"]:
        return {"event_id": event_id, "skipped": "webhooks disabled (OBSRV_WEBHOOKS_ENABLED)"}
    delays = retry_delays(settings)
    next_delay = None
    with get_pool(settings["DATABASE_URL"], settings["OBSRV_DB_POOL_MAX"]).connection() as conn:
        with conn.transaction():
            event = q.lock_event_for_delivery(conn, event_id)
            if event is None:
                return {"event_id": event_id, "skipped": "being delivered by another worker, or gone"}
            if event["delivered_at"] or event["exhausted_at"]:
                return {"event_id": event_id, "skipped": "already settled"}
            due = conn.execute("SELECT %s <= now() + interval '1 second' AS due",
                               (event["next_attempt_at"],)).fetchone()["due"]
            if not due:
                return {"event_id": event_id, "skipped": "not due yet"}
            if not event["webhook_url"] or not event["webhook_enabled"]:
                q.mark_exhausted(conn, event_id, event["attempts"])
                return {"event_id": event_id, "exhausted": "the website has no enabled webhook"}
            result = attempt(conn, event, settings)
            number = result["attempt"]
            if result["success"]:
                q.mark_delivered(conn, event_id, number)
            elif result["status_code"] == 410:
                q.disable_webhook(conn, event["website_id"])
                q.mark_exhausted(conn, event_id, number)
            elif number > len(delays):
                q.mark_exhausted(conn, event_id, number)
            else:
                next_delay = delays[number - 1]
                if result["status_code"] in (429, 503) and result["retry_after"]:
                    next_delay = max(next_delay, min(result["retry_after"], 86400))
                q.schedule_retry(conn, event_id, number, next_delay)
    if next_delay is not None:
        try:
            enqueue_delivery(get_redis(settings["REDIS_URL"]), event_id, number + 1, delay=next_delay)
        except Exception:  # the sweep will queue it
            log.exception("could not queue the next attempt", extra={"event_id": event_id})
    log.info("webhook attempt", extra={"event_id": event_id, "attempt": number, "status": result["status_code"],
                                       "success": result["success"], "latency_ms": result["latency_ms"]})
    return {"event_id": event_id, "attempt": number, "status_code": result["status_code"],
            "success": result["success"], "next_delay": next_delay}

