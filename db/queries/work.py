"""Crawl work: the durable queue of crawls (discovery, baseline, scheduled, manual) in Postgres.

A row is ``queued`` until a crawler process claims it (``running``, ``claimed_by`` that process, its
``heartbeat_at`` stamped while it runs), then ``done`` — or ``failed`` once a crawler died holding it
too often. Claims use ``FOR UPDATE SKIP LOCKED`` on the work rows and on their websites, so any number
of crawler processes share the queue, no row is claimed twice, and one website is crawled by at most
one process at a time. Work handed back (the crawler stopped, or another process holds the domain)
is ``queued`` again without spending an attempt.
"""

from __future__ import annotations

from datetime import datetime

import psycopg

from core.jobs import crawl_job_id

WORK_COLUMNS = "id, website_id, kind, job_id, product_ids, status, run_after, attempts, claimed_by, note"
#: kinds that crawl every approved product: a queued one of them makes another redundant
FULL_CRAWLS = ("scheduled", "manual")


def enqueue(
    conn,
    website_id: int,
    kind: str,
    *,
    product_ids: list[int] | None = None,
    job_id: str | None = None,
    run_after: datetime | None = None,
    coalesce: bool = False,
) -> str | None:
    """Queue a crawl; its job id (None if the same job id exists, or ``coalesce`` and a full crawl of the
    website is already waiting or running)."""
    job_id = job_id or crawl_job_id(website_id, kind)
    guard = ""
    if coalesce:
        guard = (
            " WHERE NOT EXISTS (SELECT 1 FROM crawl_work WHERE website_id = %(website)s "
            "AND status IN ('queued', 'running') AND kind = ANY(%(full)s))"
        )
    row = conn.execute(
        f"""INSERT INTO crawl_work (website_id, kind, job_id, product_ids, run_after)
            SELECT %(website)s, %(kind)s, %(job)s, %(products)s, COALESCE(%(after)s, now()){guard}
            ON CONFLICT (job_id) DO NOTHING RETURNING job_id""",
        {
            "website": website_id,
            "kind": kind,
            "job": job_id,
            "products": list(product_ids) if product_ids else None,
            "after": run_after,
            "full": list(FULL_CRAWLS),
        },
    ).fetchone()
    return row["job_id"] if row else None


def pending(conn, website_id: int, kinds: tuple[str, ...] | None = None) -> dict | None:
    """The website's crawl waiting or running, if any (of these kinds)."""
    sql = f"SELECT {WORK_COLUMNS} FROM crawl_work WHERE website_id = %s AND status IN ('queued', 'running')"
    params: list = [website_id]
    if kinds:
        sql += " AND kind = ANY(%s)"
        params.append(list(kinds))
    return conn.execute(sql + " ORDER BY id LIMIT 1", params).fetchone()


def claim(conn, worker: str, limit: int) -> list[dict]:
    """Claim up to ``limit`` due crawls for ``worker``, at most one per website, none of a website already
    being crawled (a unique index makes sure; a claim that loses that race is tried again)."""
    for _attempt in range(3):
        try:
            return _claim(conn, worker, limit)
        except psycopg.errors.UniqueViolation:
            continue
    return []


def _claim(conn, worker: str, limit: int) -> list[dict]:
    if limit <= 0:
        return []
    with conn.transaction():
        due = conn.execute(
            """SELECT id, website_id FROM crawl_work WHERE status = 'queued' AND run_after <= now()
                ORDER BY run_after, id LIMIT %s FOR UPDATE SKIP LOCKED""",
            (limit * 2,),
        ).fetchall()
        if not due:
            return []
        websites = list({r["website_id"] for r in due})
        # lock the websites too: two crawlers claiming two works of one website, one of them skips it
        free = {
            r["id"]
            for r in conn.execute(
                """SELECT id FROM websites w WHERE id = ANY(%s)
                 AND NOT EXISTS (SELECT 1 FROM crawl_work r WHERE r.website_id = w.id AND r.status = 'running')
               FOR NO KEY UPDATE SKIP LOCKED""",
                (websites,),
            ).fetchall()
        }
        picked, taken = [], set()
        for row in due:
            if row["website_id"] in free and row["website_id"] not in taken and len(picked) < limit:
                picked.append(row["id"])
                taken.add(row["website_id"])
        if not picked:
            return []
        return conn.execute(
            f"""UPDATE crawl_work SET status = 'running', claimed_by = %s, heartbeat_at = now(),
                       attempts = attempts + 1
                 WHERE id = ANY(%s) RETURNING {WORK_COLUMNS}""",
            (worker, picked),
        ).fetchall()


def hand_back(conn, work_ids: list[int], worker: str, *, delay_seconds: float = 0.0, note: str | None = None) -> int:
    """Put claimed work back in the queue (after ``delay_seconds``), the attempt not counted."""
    return conn.execute(
        """UPDATE crawl_work SET status = 'queued', claimed_by = NULL, heartbeat_at = NULL,
                  attempts = greatest(attempts - 1, 0), note = COALESCE(%s, note),
                  run_after = now() + make_interval(secs => %s)
            WHERE id = ANY(%s) AND claimed_by = %s AND status = 'running'""",
        (note, delay_seconds, list(work_ids), worker),
    ).rowcount


def finish(conn, work_id: int, worker: str, *, note: str | None = None) -> bool:
    return bool(
        conn.execute(
            """UPDATE crawl_work SET status = 'done', finished_at = now(), note = COALESCE(%s, note)
            WHERE id = %s AND claimed_by = %s AND status = 'running'""",
            (note, work_id, worker),
        ).rowcount
    )


def heartbeat(conn, worker: str) -> int:
    return conn.execute(
        "UPDATE crawl_work SET heartbeat_at = now() WHERE claimed_by = %s AND status = 'running'", (worker,)
    ).rowcount


def reap(conn, silent_seconds: float, max_attempts: int) -> list[dict]:
    """Work whose crawler went silent (killed, machine lost): queued again once more, or failed for good."""
    return conn.execute(
        f"""UPDATE crawl_work SET
                   status = CASE WHEN attempts < %s THEN 'queued' ELSE 'failed' END,
                   finished_at = CASE WHEN attempts < %s THEN NULL ELSE now() END,
                   note = 'crawler lost: ' || claimed_by, claimed_by = NULL, heartbeat_at = NULL, run_after = now()
             WHERE status = 'running' AND heartbeat_at < now() - make_interval(secs => %s)
         RETURNING {WORK_COLUMNS}""",
        (max_attempts, max_attempts, silent_seconds),
    ).fetchall()


def counts(conn) -> dict:
    """How much crawl work there is, by status: queued (due now and later), running, done, failed."""
    row = conn.execute(
        """SELECT count(*) FILTER (WHERE status = 'queued' AND run_after <= now()) AS due,
                  count(*) FILTER (WHERE status = 'queued') AS queued,
                  count(*) FILTER (WHERE status = 'running') AS running,
                  count(*) FILTER (WHERE status = 'done') AS done,
                  count(*) FILTER (WHERE status = 'failed') AS failed FROM crawl_work"""
    ).fetchone()
    return dict(row)
