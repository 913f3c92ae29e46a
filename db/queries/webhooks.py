"""Signing secrets, the change-event outbox and delivery attempts."""

from __future__ import annotations

from psycopg.types.json import Jsonb

EVENT_COLUMNS = """e.id, e.uid, e.website_id, e.product_id, e.type, e.before, e.after, e.change_pct, e.observed_at,
    e.created_at, e.attempts, e.next_attempt_at, e.delivered_at, e.exhausted_at, e.digest_id"""


# --- secrets -----------------------------------------------------------------------------------------


def add_secret(conn, client_id: int, secret: str) -> None:
    conn.execute("INSERT INTO webhook_secrets (client_id, secret) VALUES (%s, %s)", (client_id, secret))


def rotate_secret(conn, client_id: int, secret: str, grace_seconds: int) -> dict:
    """Make ``secret`` current; the old one keeps signing for ``grace_seconds``. Returns its valid_until."""
    old = conn.execute(
        """UPDATE webhook_secrets SET valid_until = now() + make_interval(secs => %s)
            WHERE client_id = %s AND valid_until IS NULL RETURNING valid_until""",
        (grace_seconds, client_id),
    ).fetchone()
    add_secret(conn, client_id, secret)
    return {"previous_valid_until": old["valid_until"] if old else None}


def signing_secrets(conn, client_id: int) -> list[str]:
    """The secrets that sign now: the current one first, then any still in its grace period."""
    rows = conn.execute(
        """SELECT secret FROM webhook_secrets WHERE client_id = %s AND (valid_until IS NULL OR valid_until > now())
            ORDER BY (valid_until IS NULL) DESC, created_at DESC""",
        (client_id,),
    ).fetchall()
    return [r["secret"] for r in rows]


# --- events ------------------------------------------------------------------------------------------


def insert_events(conn, events: list[dict]) -> list[int]:
    """Outbox rows, written in the crawl's transaction. Returns their ids."""
    if not events:
        return []
    rows = conn.execute(
        """INSERT INTO change_events (website_id, product_id, type, before, after, change_pct, observed_at)
           SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::jsonb[], %s::jsonb[], %s::numeric[],
                                %s::timestamptz[])
           RETURNING id""",
        (
            [e["website_id"] for e in events],
            [e.get("product_id") for e in events],
            [e["type"] for e in events],
            [Jsonb(e.get("before")) for e in events],
            [Jsonb(e.get("after")) for e in events],
            [e.get("change_pct") for e in events],
            [e.get("observed_at") for e in events],
        ),
    ).fetchall()
    return [r["id"] for r in rows]


def lock_event_for_delivery(conn, event_id: int) -> dict | None:
    """The event with what delivering it needs, row-locked; None if another worker holds it (or it is gone)."""
    return conn.execute(
        f"""SELECT {EVENT_COLUMNS}, w.client_id, w.name AS website_name, w.webhook_url, w.webhook_enabled,
                   w.webhook_mode, p.url AS product_url, p.name AS product_name, p.sku AS product_sku
              FROM change_events e
              JOIN websites w ON w.id = e.website_id
              LEFT JOIN products p ON p.id = e.product_id
             WHERE e.id = %s
               FOR UPDATE OF e SKIP LOCKED""",
        (event_id,),
    ).fetchone()


def record_attempt(
    conn,
    *,
    event_id: int,
    website_id: int,
    attempt: int,
    url: str,
    status_code: int | None,
    latency_ms: int | None,
    success: bool,
    error: str | None,
) -> None:
    conn.execute(
        """INSERT INTO webhook_deliveries (event_id, website_id, attempt, url, status_code, latency_ms, success, error)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
        (event_id, website_id, attempt, url, status_code, latency_ms, success, (error or "")[:1000] or None),
    )


def mark_delivered(conn, event_id: int, attempts: int) -> None:
    conn.execute("UPDATE change_events SET delivered_at = now(), attempts = %s WHERE id = %s", (attempts, event_id))
    conn.execute("UPDATE change_events SET delivered_at = now() WHERE digest_id = %s", (event_id,))


def schedule_retry(conn, event_id: int, attempts: int, delay_seconds: float) -> None:
    conn.execute(
        "UPDATE change_events SET attempts = %s, next_attempt_at = now() + make_interval(secs => %s) WHERE id = %s",
        (attempts, delay_seconds, event_id),
    )


def mark_exhausted(conn, event_id: int, attempts: int) -> None:
    conn.execute("UPDATE change_events SET exhausted_at = now(), attempts = %s WHERE id = %s", (attempts, event_id))


def disable_webhook(conn, website_id: int) -> None:
    conn.execute("UPDATE websites SET webhook_enabled = false, updated_at = now() WHERE id = %s", (website_id,))


def due_events(conn, *, grace_seconds: float, limit: int = 1000) -> list[dict]:
    """Events to (re)queue: neither delivered nor exhausted, due for a while; digested changes go with their digest."""
    return conn.execute(
        """SELECT e.id, e.attempts FROM change_events e JOIN websites w ON w.id = e.website_id
            WHERE e.delivered_at IS NULL AND e.exhausted_at IS NULL
              AND e.next_attempt_at <= now() - make_interval(secs => %s)
              AND (e.leased_until IS NULL OR e.leased_until <= now())  -- an attempt in flight holds its lease
              AND w.webhook_url IS NOT NULL AND w.webhook_enabled
              AND (e.type IN ('digest', 'website.paused') OR w.webhook_mode = 'immediate')
              AND e.type <> 'test'
            ORDER BY e.next_attempt_at LIMIT %s""",
        (grace_seconds, limit),
    ).fetchall()


def deliveries_page(conn, website_id: int, *, limit: int, offset: int) -> tuple[list[dict], int]:
    total = conn.execute(
        "SELECT count(*) AS n FROM webhook_deliveries WHERE website_id = %s", (website_id,)
    ).fetchone()["n"]
    rows = conn.execute(
        """SELECT d.id, e.uid AS event_id, e.type AS event_type, d.attempt, d.attempted_at, d.url, d.status_code,
                  d.latency_ms, d.success, d.error
             FROM webhook_deliveries d JOIN change_events e ON e.id = d.event_id
            WHERE d.website_id = %s ORDER BY d.attempted_at DESC, d.id DESC LIMIT %s OFFSET %s""",
        (website_id, limit, offset),
    ).fetchall()
    return rows, total


def digest_candidates(conn, *, cut) -> list[dict]:
    """Daily-digest websites with undigested changes created before ``cut``."""
    return conn.execute(
        """SELECT DISTINCT e.website_id FROM change_events e JOIN websites w ON w.id = e.website_id
            WHERE w.webhook_mode = 'daily_digest' AND e.digest_id IS NULL AND e.delivered_at IS NULL
              AND e.exhausted_at IS NULL AND e.type IN ('price_changed', 'stock_changed') AND e.created_at < %s""",
        (cut,),
    ).fetchall()


def make_digest(conn, website_id: int, *, cut, day: str) -> int | None:
    """One digest event holding the website's undigested changes before ``cut``; None if there are none."""
    changes = conn.execute(
        f"""SELECT {EVENT_COLUMNS}, p.url AS product_url, p.name AS product_name, p.sku AS product_sku
              FROM change_events e LEFT JOIN products p ON p.id = e.product_id
             WHERE e.website_id = %s AND e.digest_id IS NULL AND e.delivered_at IS NULL AND e.exhausted_at IS NULL
               AND e.type IN ('price_changed', 'stock_changed') AND e.created_at < %s
             ORDER BY e.id FOR UPDATE OF e SKIP LOCKED""",
        (website_id, cut),
    ).fetchall()
    if not changes:
        return None
    [digest_id] = insert_events(
        conn,
        [
            {
                "website_id": website_id,
                "type": "digest",
                "before": None,
                "after": {"date": day, "event_ids": [c["id"] for c in changes]},
            }
        ],
    )
    conn.execute("UPDATE change_events SET digest_id = %s WHERE id = ANY(%s)", (digest_id, [c["id"] for c in changes]))
    return digest_id


def digested_changes(conn, digest_id: int) -> list[dict]:
    return conn.execute(
        f"""SELECT {EVENT_COLUMNS}, p.url AS product_url, p.name AS product_name, p.sku AS product_sku
              FROM change_events e LEFT JOIN products p ON p.id = e.product_id
             WHERE e.digest_id = %s ORDER BY e.id""",
        (digest_id,),
    ).fetchall()


# --- delivery leases (migration 0004) ----------------------------------------------------------------


def lease_state(conn, event_id: int) -> dict:
    """Whether an attempt of the event is in flight (leased), and whether the event is due."""
    return conn.execute(
        """SELECT coalesce(leased_until > now(), false) AS leased,
                  next_attempt_at <= now() + interval '1 second' AS due
             FROM change_events WHERE id = %s""",
        (event_id,),
    ).fetchone()


def lease_event(conn, event_id: int, attempt: int, *, lease_seconds: float, retry_delay: float) -> str:
    """Take the event for attempt ``attempt`` (counted now) for ``lease_seconds``; should the attempt never
    report, the event is due again ``retry_delay`` after the lease lapses. Returns the lease's token."""
    return str(
        conn.execute(
            """UPDATE change_events SET attempts = %s, lease_token = gen_random_uuid(),
                  leased_until = now() + make_interval(secs => %s),
                  next_attempt_at = now() + make_interval(secs => %s)
            WHERE id = %s RETURNING lease_token""",
            (attempt, lease_seconds, lease_seconds + retry_delay, event_id),
        ).fetchone()["lease_token"]
    )


def end_lease(conn, event_id: int, token: str) -> bool:
    """End the lease the token holds; False if it is no longer that token's (it lapsed and was taken again)."""
    return (
        conn.execute(
            """UPDATE change_events SET lease_token = NULL, leased_until = NULL
            WHERE id = %s AND lease_token = %s RETURNING id""",
            (event_id, token),
        ).fetchone()
        is not None
    )
