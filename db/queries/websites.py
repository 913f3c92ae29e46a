"""Websites: registration, settings, status.

A website's status changes only through scheduler.lifecycle (its statuses, their edges and what each
change brings): ``lock_status`` and ``change_status`` here are its SQL and nobody else's.
"""

from __future__ import annotations

from datetime import datetime

from psycopg.types.json import Jsonb

COLUMNS = """id, client_id, name, domain, seed_urls, status, status_reason, schedule, next_crawl_at,
    price_threshold_pct, webhook_url, webhook_mode, webhook_enabled, render_js, selectors,
    crawl_rate_per_minute, consecutive_failures, created_at, updated_at"""
UPDATABLE = (
    "name",
    "schedule",
    "next_crawl_at",
    "price_threshold_pct",
    "webhook_url",
    "webhook_mode",
    "render_js",
    "crawl_rate_per_minute",
    "selectors",
    "webhook_enabled",
)


def claim_due(conn, limit: int = 500) -> list[dict]:
    """Active websites whose crawl is due, locked for this scheduler (others skip them), oldest first."""
    return conn.execute(
        """SELECT id, domain, schedule, next_crawl_at FROM websites
            WHERE status = 'active' AND next_crawl_at <= now()
            ORDER BY next_crawl_at LIMIT %s FOR UPDATE SKIP LOCKED""",
        (limit,),
    ).fetchall()


def stuck_in_discovery(conn, *, idle_seconds: int = 600, limit: int = 100) -> list[dict]:
    """Websites waiting for a discovery that none will run: no discovery work waiting or running, none in the last hour."""
    return conn.execute(
        """SELECT w.id FROM websites w
            WHERE w.status = 'pending_discovery' AND w.updated_at < now() - make_interval(secs => %s)
              AND NOT EXISTS (SELECT 1 FROM crawl_runs r WHERE r.website_id = w.id AND r.kind = 'discovery'
                                 AND (r.status = 'running' OR r.started_at > now() - interval '1 hour'))
              AND NOT EXISTS (SELECT 1 FROM crawl_work k WHERE k.website_id = w.id AND k.kind = 'discovery'
                                 AND k.status IN ('queued', 'running'))
            ORDER BY w.id LIMIT %s""",
        (idle_seconds, limit),
    ).fetchall()


def set_next_crawl(conn, website_id: int, when: datetime) -> None:
    conn.execute("UPDATE websites SET next_crawl_at = %s WHERE id = %s", (when, website_id))


def insert(
    conn,
    *,
    client_id: int,
    name: str,
    domain: str,
    seed_urls: list[str],
    schedule: str,
    next_crawl_at,
    price_threshold_pct,
    webhook_url,
    webhook_mode: str,
    render_js: bool,
    crawl_rate_per_minute: int,
    selectors: dict,
) -> dict:
    return conn.execute(
        f"""INSERT INTO websites (client_id, name, domain, seed_urls, schedule, next_crawl_at, price_threshold_pct,
                                  webhook_url, webhook_mode, render_js, crawl_rate_per_minute, selectors)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT (client_id, domain) DO NOTHING
            RETURNING {COLUMNS}""",
        (
            client_id,
            name,
            domain,
            seed_urls,
            schedule,
            next_crawl_at,
            price_threshold_pct,
            webhook_url,
            webhook_mode,
            render_js,
            crawl_rate_per_minute,
            Jsonb(selectors or {}),
        ),
    ).fetchone()


def get(conn, website_id: int, client_id: int | None = None, *, for_update: bool = False) -> dict | None:
    """One website; with client_id, only if it is that client's."""
    sql = f"SELECT {COLUMNS} FROM websites WHERE id = %s"
    params: list = [website_id]
    if client_id is not None:
        sql += " AND client_id = %s"
        params.append(client_id)
    if for_update:
        sql += " FOR UPDATE"
    return conn.execute(sql, params).fetchone()


def get_many(conn, website_ids: list[int]) -> dict[int, dict]:
    """Websites by id (those that exist)."""
    rows = conn.execute(f"SELECT {COLUMNS} FROM websites WHERE id = ANY(%s)", (list(website_ids),)).fetchall()
    return {row["id"]: row for row in rows}


def page(conn, client_id: int, *, status: str | None, limit: int, offset: int) -> tuple[list[dict], int]:
    where, params = "client_id = %s", [client_id]
    if status:
        where += " AND status = %s"
        params.append(status)
    total = conn.execute(f"SELECT count(*) AS n FROM websites WHERE {where}", params).fetchone()["n"]
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM websites WHERE {where} ORDER BY id LIMIT %s OFFSET %s", [*params, limit, offset]
    ).fetchall()
    return rows, total


def update(conn, website_id: int, changes: dict) -> dict:
    fields = [k for k in changes if k in UPDATABLE]
    if not fields:
        return get(conn, website_id)
    assignments = ", ".join(f"{name} = %s" for name in fields)
    values = [Jsonb(changes[k]) if k == "selectors" else changes[k] for k in fields]
    return conn.execute(
        f"UPDATE websites SET {assignments}, updated_at = now() WHERE id = %s RETURNING {COLUMNS}",
        [*values, website_id],
    ).fetchone()


def lock_status(conn, website_id: int) -> dict | None:
    """The website's status and schedule, its row locked until the transaction ends (None: no such website)."""
    return conn.execute("SELECT status, schedule FROM websites WHERE id = %s FOR UPDATE", (website_id,)).fetchone()


def change_status(
    conn, website_id: int, *, old: str, new: str, reason: str | None, next_crawl_at: datetime | None = None
) -> dict | None:
    """The UPDATE of a transition scheduler.lifecycle checked: only if the website is still ``old``.

    Entering ``active`` starts the failure count again; ``next_crawl_at``, when given, is the next run.
    Returns the website, or None if it was not ``old`` (call lifecycle.transition, not this)."""
    return conn.execute(
        f"""UPDATE websites SET status = %s, status_reason = %s, updated_at = now(),
                   next_crawl_at = COALESCE(%s, next_crawl_at),
                   consecutive_failures = CASE WHEN %s = 'active' AND status <> 'active' THEN 0
                                               ELSE consecutive_failures END
             WHERE id = %s AND status = %s RETURNING {COLUMNS}""",
        (new, reason, next_crawl_at, new, website_id, old),
    ).fetchone()


def count_crawl_outcome(conn, website_id: int, *, failed: bool) -> dict | None:
    """One more consecutive failed crawl, or none after a success; the website's status and count after it."""
    return conn.execute(
        """UPDATE websites SET consecutive_failures = CASE WHEN %s THEN consecutive_failures + 1 ELSE 0 END
            WHERE id = %s RETURNING id, status, consecutive_failures, name""",
        (failed, website_id),
    ).fetchone()


def delete(conn, website_id: int, client_id: int) -> dict | None:
    return conn.execute(
        "DELETE FROM websites WHERE id = %s AND client_id = %s RETURNING id, name, domain", (website_id, client_id)
    ).fetchone()
