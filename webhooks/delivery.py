"""Delivering change events: the RQ job ``deliver(event_id)`` and the payload it sends.

At-least-once, and never a transaction around the network. An attempt has three steps:

1. **Lease** — a short transaction locks the event row (``FOR UPDATE SKIP LOCKED``), checks it is due and
   not leased to an attempt in flight, signs the payload and takes the lease (``lease_token``,
   ``leased_until`` = now + OBSRV_WEBHOOK_TIMEOUT + a margin): the attempt is counted and the event's next
   attempt is put after the lease plus the schedule's delay, should this attempt never report. Commit.
2. **POST** — no transaction, row lock or pool connection is held; the POST gets OBSRV_WEBHOOK_TIMEOUT in all
   (webhooks.transport), so it ends before the lease lapses: at most one attempt of an event is in flight.
3. **Outcome** — a new short transaction records the attempt in ``webhook_deliveries``, ends the lease and
   marks the event delivered, schedules the next attempt, or marks it exhausted.

The event's ``uid`` is the stable id of every attempt (``id`` in the body, ``webhook-id``), so a receiver
can de-duplicate. A lost job loses nothing: the scheduler's sweep re-queues events that are due and neither
delivered nor exhausted; an attempt whose worker died counts, and the next one comes on the schedule.

Attempts: immediately, then after each delay of OBSRV_WEBHOOK_RETRY_DELAYS
(default +5 min, +30 min); 2xx is success; 410 Gone disables the website's
webhook; 429/503 wait at least their Retry-After (seconds or an HTTP-date); 10 s for the whole attempt
(OBSRV_WEBHOOK_TIMEOUT); errors are a fixed vocabulary (no internal detail). Targets are
checked against private addresses again at delivery time, after DNS, and the POST dials the address that
was checked (webhooks.transport), never a second lookup of the name.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from decimal import Decimal

import requests

from core.jobs import LEASE_MARGIN_SECONDS, enqueue_delivery
from core.redis_client import get_redis
from core.retry_after import retry_after_seconds
from core.settings import load_settings
from core.urls import TargetRefused, check_target
from db.pool import get_pool
from db.queries import webhooks as q
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
    """One side of a change: the reported offer's price, currency and availability, its list price (the price
    before a sale) and sku. Events recorded before offers were kept have null list_price and sku."""
    state = state or {}
    return {
        "price": state.get("price"),
        "currency": state.get("currency"),
        "availability": state.get("availability"),
        "list_price": state.get("list_price"),
        "sku": state.get("sku"),
    }


def event_body(event: dict, website: dict) -> dict:
    """The JSON of one change event, as receivers get it."""
    return {
        "id": str(event["uid"]),
        "type": event["type"],
        "created_at": event["created_at"].isoformat(),
        "website": {"id": website["id"], "name": website["name"]},
        "product": None
        if event.get("product_id") is None
        else {
            "id": event["product_id"],
            "url": event.get("product_url"),
            "name": event.get("product_name"),
            "sku": event.get("product_sku"),
        },
        "before": _state(event.get("before")),
        "after": _state(event.get("after")),
        "change_pct": None
        if event.get("change_pct") is None
        else str(Decimal(event["change_pct"]).quantize(Decimal("0.01"))),
        "observed_at": event["observed_at"].isoformat() if event.get("observed_at") else None,
    }


def payload(conn, event: dict) -> bytes:
    website = {"id": event["website_id"], "name": event["website_name"]}
    if event["type"] == "digest":
        body = {
            "id": str(event["uid"]),
            "type": "digest",
            "created_at": event["created_at"].isoformat(),
            "website": website,
            "date": (event.get("after") or {}).get("date"),
            "changes": [event_body(c, website) for c in q.digested_changes(conn, event["id"])],
        }
    elif event["type"] in ("test", "website.paused"):
        body = {
            "id": str(event["uid"]),
            "type": event["type"],
            "created_at": event["created_at"].isoformat(),
            "website": website,
            **(event.get("after") or {}),
        }
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
    """One POST, ``timeout`` seconds in all; returns status_code, latency_ms, error, retry_after (never raises)."""
    started = time.perf_counter()
    deadline = time.monotonic() + timeout  # the whole attempt's, name resolution included
    result = {"status_code": None, "error": None, "retry_after": None}
    try:
        target = check_target(url, allow_private=allow_private, require_address=True)
        status, response_headers = transport.send(
            target,
            body,
            {"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
            timeout=timeout,
            deadline=deadline,
        )
        result["status_code"] = status
        if not 200 <= status < 300:
            result["error"] = f"http {status}"
        result["retry_after"] = retry_after_seconds(response_headers.get("Retry-After"))
    except Exception as exc:  # noqa: BLE001 - one attempt never raises; its outcome is recorded
        result["error"] = _error(exc)
        log.info(
            "webhook post failed", extra={"error": result["error"], "detail": f"{type(exc).__name__}: {exc}"[:500]}
        )
    result["latency_ms"] = int((time.perf_counter() - started) * 1000)
    return result


#: Seconds a lease outlasts the POST's own deadline (OBSRV_WEBHOOK_TIMEOUT): time to commit the lease and to
#: record the outcome. Only after that does another attempt of the event start, should this one never report.
NO_SECRET = "no signing secret: create one with POST /v1/auth/webhook-secret"


@dataclass(frozen=True)
class Lease:
    """One attempt of one event, taken: what to send, and the token that records its outcome."""

    event_id: int
    website_id: int
    uid: str
    url: str
    attempt: int
    token: str
    body: bytes | None  # None: nothing may be sent (``error`` says why)
    headers: dict | None
    error: str | None = None


def take_lease(conn, event: dict, settings: dict, delays: list[float]) -> Lease:
    """Sign the locked event's payload and lease it for one attempt (in the caller's short transaction)."""
    number = event["attempts"] + 1
    secrets_ = q.signing_secrets(conn, event["client_id"])
    body = headers = error = None
    if secrets_:
        body = payload(conn, event)
        headers = sign(body, secrets_, str(event["uid"]))
    else:  # never send unsigned: say what to do instead
        error = NO_SECRET
    token = q.lease_event(
        conn,
        event["id"],
        number,
        lease_seconds=float(settings["OBSRV_WEBHOOK_TIMEOUT"]) + LEASE_MARGIN_SECONDS,
        retry_delay=delays[number - 1] if number <= len(delays) else 0.0,
    )
    return Lease(
        event_id=event["id"],
        website_id=event["website_id"],
        uid=str(event["uid"]),
        url=event["webhook_url"],
        attempt=number,
        token=token,
        body=body,
        headers=headers,
        error=error,
    )


def send(lease: Lease, settings: dict) -> dict:
    """The attempt's POST, outside any transaction (never raises)."""
    if lease.body is None:
        return {"status_code": None, "latency_ms": 0, "retry_after": None, "error": lease.error}
    return post(
        lease.url,
        lease.body,
        lease.headers,
        timeout=float(settings["OBSRV_WEBHOOK_TIMEOUT"]),
        allow_private=settings["OBSRV_ALLOW_PRIVATE_TARGETS"],
    )


def record(conn, lease: Lease, result: dict, delays: list[float], *, disable_on_gone: bool = True) -> dict:
    """Record the attempt and settle the event (in the caller's short transaction); returns the outcome.

    Only the lease's holder schedules or exhausts the event. A 2xx marks it delivered whoever holds it now
    (an attempt that outlived its lease, which the deadline and margin make all but impossible)."""
    number = lease.attempt
    success = result["status_code"] is not None and 200 <= result["status_code"] < 300
    q.record_attempt(
        conn,
        event_id=lease.event_id,
        website_id=lease.website_id,
        attempt=number,
        url=lease.url,
        status_code=result["status_code"],
        latency_ms=result["latency_ms"],
        success=success,
        error=result["error"],
    )
    held = q.end_lease(conn, lease.event_id, lease.token)
    next_delay = None
    if success:
        q.mark_delivered(conn, lease.event_id, number)
    elif not held:
        log.warning("webhook attempt outlived its lease", extra={"event_id": lease.event_id, "attempt": number})
    elif result["status_code"] == 410 and disable_on_gone:
        q.disable_webhook(conn, lease.website_id)
        q.mark_exhausted(conn, lease.event_id, number)
    elif number > len(delays):
        q.mark_exhausted(conn, lease.event_id, number)
    else:
        next_delay = delays[number - 1]
        if result["status_code"] in (429, 503) and result["retry_after"]:
            next_delay = max(next_delay, min(result["retry_after"], 86400))
        q.schedule_retry(conn, lease.event_id, number, next_delay)
    return {**result, "attempt": number, "success": success, "next_delay": next_delay}


def deliver(event_id: int) -> dict:
    """The RQ job. Idempotent: a delivered, exhausted, not-yet-due or leased event is left alone."""
    settings = load_settings()
    if not settings["OBSRV_WEBHOOKS_ENABLED"]:
        return {"event_id": event_id, "skipped": "webhooks disabled (OBSRV_WEBHOOKS_ENABLED)"}
    delays = retry_delays(settings)
    pool = get_pool(settings["DATABASE_URL"], settings["OBSRV_DB_POOL_MAX"])
    with pool.connection() as conn, conn.transaction():
        event = q.lock_event_for_delivery(conn, event_id)
        if event is None:
            return {"event_id": event_id, "skipped": "being delivered by another worker, or gone"}
        if event["delivered_at"] or event["exhausted_at"]:
            return {"event_id": event_id, "skipped": "already settled"}
        state = q.lease_state(conn, event_id)
        if state["leased"]:
            return {"event_id": event_id, "skipped": "being delivered by another worker"}
        if not state["due"]:
            return {"event_id": event_id, "skipped": "not due yet"}
        if not event["webhook_url"] or not event["webhook_enabled"]:
            q.mark_exhausted(conn, event_id, event["attempts"])
            return {"event_id": event_id, "exhausted": "the website has no enabled webhook"}
        if event["attempts"] > len(delays):  # the last attempt's worker died before it could say
            q.mark_exhausted(conn, event_id, event["attempts"])
            return {"event_id": event_id, "exhausted": "the last attempt never reported"}
        lease = take_lease(conn, event, settings, delays)
    result = send(lease, settings)  # no transaction, row lock or pool connection held meanwhile
    with pool.connection() as conn, conn.transaction():
        outcome = record(conn, lease, result, delays)
    number, next_delay = outcome["attempt"], outcome["next_delay"]
    if next_delay is not None:
        try:
            enqueue_delivery(get_redis(settings["REDIS_URL"]), event_id, number + 1, delay=next_delay)
        except Exception:  # the sweep will queue it
            log.exception("could not queue the next attempt", extra={"event_id": event_id})
    log.info(
        "webhook attempt",
        extra={
            "event_id": event_id,
            "attempt": number,
            "status": outcome["status_code"],
            "success": outcome["success"],
            "latency_ms": outcome["latency_ms"],
        },
    )
    return {
        "event_id": event_id,
        "attempt": number,
        "status_code": outcome["status_code"],
        "success": outcome["success"],
        "next_delay": next_delay,
    }
