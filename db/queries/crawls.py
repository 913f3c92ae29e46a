"""Crawl runs, and what a crawl writes: candidates, observations, products' latest state.

Writes are batched: one statement per table per batch (arrays unnested
server-side, COPY for observations), never a round trip per item or field.
"""

from __future__ import annotations

from decimal import Decimal

from psycopg.types.json import Jsonb

from db.queries import webhooks as webhooks_q

RUN_COLUMNS = """id, website_id, kind, job_id, status, started_at, finished_at, duration_ms, heartbeat_at, worker,
    pages_fetched, products_attempted, products_ok, products_failed, changes_detected, error_type, error_message,
    error_products, summary"""


def start_run(
    conn, *, website_id: int, kind: str, job_id: str | None, worker: str | None, work_id: int | None = None
) -> dict:
    return conn.execute(
        f"""INSERT INTO crawl_runs (website_id, kind, job_id, worker, work_id) VALUES (%s, %s, %s, %s, %s)
            ON CONFLICT (job_id) WHERE job_id IS NOT NULL DO UPDATE SET heartbeat_at = now()
            RETURNING {RUN_COLUMNS}""",
        (website_id, kind, job_id, worker, work_id),
    ).fetchone()


def running(conn, website_id: int) -> dict | None:
    """The website's crawl in progress, if any."""
    return conn.execute(
        "SELECT id, kind, started_at FROM crawl_runs WHERE website_id = %s AND status = 'running' "
        "ORDER BY id DESC LIMIT 1",
        (website_id,),
    ).fetchone()


def get_run(conn, run_id: int) -> dict | None:
    return conn.execute(f"SELECT {RUN_COLUMNS} FROM crawl_runs WHERE id = %s", (run_id,)).fetchone()


def heartbeat(conn, run_ids: list[int], pages_fetched: list[int]) -> None:
    """Stamp running crawls as alive, with the pages each fetched so far."""
    conn.execute(
        """UPDATE crawl_runs r SET heartbeat_at = now(), pages_fetched = v.pages
                      FROM unnest(%s::bigint[], %s::int[]) AS v(id, pages)
                     WHERE r.id = v.id AND r.status = 'running'""",
        (list(run_ids), list(pages_fetched)),
    )


def add_counts(conn, counts: dict[int, tuple[int, int, int, int]]) -> None:
    """Add (attempted, ok, failed, changes) to each crawl run's counters, all runs in one statement."""
    if not counts:
        return
    ids = list(counts)
    cols = list(zip(*(counts[i] for i in ids)))
    conn.execute(
        """UPDATE crawl_runs r SET products_attempted = products_attempted + v.attempted,
                  products_ok = products_ok + v.ok, products_failed = products_failed + v.failed,
                  changes_detected = changes_detected + v.changes, heartbeat_at = now()
             FROM unnest(%s::bigint[], %s::int[], %s::int[], %s::int[], %s::int[])
                  AS v(id, attempted, ok, failed, changes)
            WHERE r.id = v.id""",
        (ids, *[list(c) for c in cols]),
    )


def finish_run(
    conn,
    run_id: int,
    *,
    status: str,
    pages_fetched: int | None = None,
    error_type: str | None = None,
    error_message: str | None = None,
    error_products: list | None = None,
    summary: str | None = None,
) -> dict | None:
    """Close a running crawl run (a finished one is left as it is)."""
    return conn.execute(
        f"""UPDATE crawl_runs SET status = %s, finished_at = now(),
                   duration_ms = (extract(epoch FROM now() - started_at) * 1000)::int,
                   pages_fetched = COALESCE(%s, pages_fetched), error_type = %s, error_message = %s,
                   error_products = %s, summary = %s
             WHERE id = %s AND status = 'running' RETURNING {RUN_COLUMNS}""",
        (
            status,
            pages_fetched,
            error_type,
            (error_message or "")[:2000] or None,
            Jsonb(error_products or []),
            (summary or "")[:2000] or None,
            run_id,
        ),
    ).fetchone()


def reap_dead(conn, silent_seconds: float) -> list[dict]:
    """Close the running crawls whose heartbeat stopped (their worker died): failed, internal."""
    return conn.execute(
        f"""UPDATE crawl_runs SET status = 'failed', finished_at = now(),
                   duration_ms = (extract(epoch FROM now() - started_at) * 1000)::int, error_type = 'internal',
                   error_message = 'worker lost: no heartbeat since ' || to_char(heartbeat_at AT TIME ZONE 'UTC',
                                                                                 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
             WHERE status = 'running' AND heartbeat_at < now() - make_interval(secs => %s)
         RETURNING {RUN_COLUMNS}""",
        (silent_seconds,),
    ).fetchall()


def page_runs(conn, website_id: int, *, status: str | None, limit: int, offset: int) -> tuple[list[dict], int]:
    where, params = "website_id = %s", [website_id]
    if status:
        where += " AND status = %s"
        params.append(status)
    total = conn.execute(f"SELECT count(*) AS n FROM crawl_runs WHERE {where}", params).fetchone()["n"]
    rows = conn.execute(
        f"SELECT {RUN_COLUMNS} FROM crawl_runs WHERE {where} ORDER BY started_at DESC, id DESC LIMIT %s OFFSET %s",
        [*params, limit, offset],
    ).fetchall()
    return rows, total


def health(conn, website_id: int, days: int = 7) -> dict:
    """Crawl health over the last ``days`` days."""
    stats = conn.execute(
        """SELECT count(*) FILTER (WHERE status <> 'running') AS finished,
                  count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
                  count(*) FILTER (WHERE status = 'partially_failed') AS partially_failed,
                  count(*) FILTER (WHERE status = 'failed') AS failed,
                  avg(duration_ms) FILTER (WHERE status <> 'running') AS avg_duration_ms
             FROM crawl_runs WHERE website_id = %s AND kind <> 'discovery'
              AND started_at > now() - make_interval(days => %s)""",
        (website_id, days),
    ).fetchone()
    last_success = conn.execute(
        "SELECT max(finished_at) AS at FROM crawl_runs WHERE website_id = %s AND status = 'succeeded'", (website_id,)
    ).fetchone()["at"]
    last_error = conn.execute(
        """SELECT finished_at AS at, status, error_type, error_message FROM crawl_runs
            WHERE website_id = %s AND status IN ('failed', 'partially_failed')
            ORDER BY started_at DESC, id DESC LIMIT 1""",
        (website_id,),
    ).fetchone()
    return {**stats, "last_success_at": last_success, "last_error": last_error}


#: the sku of the offer a product reports (its selected offer), else the product's
REPORTED_SKU = """COALESCE((SELECT o ->> 'sku' FROM jsonb_array_elements(p.offers) AS o
                             WHERE o -> 'selected' = 'true'::jsonb LIMIT 1), p.sku)"""


def offers_json(offers: list | None) -> Jsonb | None:
    """Offers as stored (jsonb): amounts as decimal strings; None (SQL NULL) for no offers."""
    if not offers:
        return None
    return Jsonb(
        [
            {key: (format(value, "f") if isinstance(value, Decimal) else value) for key, value in offer.items()}
            for offer in offers
        ]
    )


def products_to_crawl(
    conn, website_id: int, product_ids: list[int] | None = None, work_id: int | None = None
) -> list[dict]:
    """Approved products of a website (optionally only some), with their latest state for the diff.

    With ``work_id``, products already observed by an earlier run of the same crawl work (a crawl
    taken up again after its crawler stopped or died) are left out: nothing is observed twice."""
    sql = f"""SELECT id, url, identity, name, price, currency, availability, last_ok_at,
                    notified_price, notified_currency, notified_availability, list_price,
                    {REPORTED_SKU} AS reported_sku
               FROM products p WHERE website_id = %s AND status = 'approved'"""
    params: list = [website_id]
    if product_ids:
        sql += " AND id = ANY(%s)"
        params.append(list(product_ids))
    if work_id is not None:
        sql += """ AND NOT EXISTS (SELECT 1 FROM observations o JOIN crawl_runs r ON r.id = o.crawl_run_id
                                    WHERE r.work_id = %s AND o.product_id = p.id)"""
        params.append(work_id)
    return conn.execute(sql + " ORDER BY id", params).fetchall()


def known_identities(conn, website_id: int) -> dict[str, str]:
    """identity -> url of the website's products, so discovery offers each product once."""
    rows = conn.execute("SELECT identity, url FROM products WHERE website_id = %s", (website_id,)).fetchall()
    return {r["identity"]: r["url"] for r in rows}


def upsert_candidates(conn, website_id: int, items: list) -> int:
    """Insert discovered products; refresh the preview of ones still only discovered."""
    if not items:
        return 0
    cols = {
        "url": [i.url for i in items],
        "identity": [i.identity for i in items],
        "sku": [i.sku for i in items],
        "gtin": [i.gtin for i in items],
        "platform_id": [i.platform_id for i in items],
        "score": [i.score for i in items],
        "name": [i.name for i in items],
        "brand": [i.brand for i in items],
        "image": [i.image for i in items],
        "price": [i.price for i in items],
        "currency": [i.currency for i in items],
        "availability": [i.availability for i in items],
        "sources": [Jsonb(i.sources) for i in items],
        "list_price": [i.list_price for i in items],
        "offers": [offers_json(i.offers) for i in items],
    }
    cur = conn.execute(
        """INSERT INTO products (website_id, url, identity, sku, gtin, platform_id, discovery_score, name, brand,
                                 image, price, currency, availability, sources, list_price, offers)
           SELECT %s, * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::real[],
                                    %s::text[], %s::text[], %s::text[], %s::numeric[], %s::text[], %s::text[],
                                    %s::jsonb[], %s::numeric[], %s::jsonb[])
           ON CONFLICT (website_id, url) DO UPDATE SET
               discovery_score = EXCLUDED.discovery_score, name = EXCLUDED.name, brand = EXCLUDED.brand,
               image = EXCLUDED.image, price = EXCLUDED.price, currency = EXCLUDED.currency,
               availability = EXCLUDED.availability, sources = EXCLUDED.sources, sku = EXCLUDED.sku,
               gtin = EXCLUDED.gtin, identity = EXCLUDED.identity, list_price = EXCLUDED.list_price,
               offers = EXCLUDED.offers, updated_at = now()
           WHERE products.status = 'discovered'""",
        (website_id, *cols.values()),
    )
    return cur.rowcount


OBSERVATION_COLUMNS = (
    "product_id",
    "crawl_run_id",
    "observed_at",
    "ok",
    "price",
    "currency",
    "availability",
    "http_status",
    "error_type",
    "error",
    "flagged",
    "list_price",
    "offers",
)


def write_observations(conn, items: list) -> list[int]:
    """One crawl batch: history rows (COPY), the products' latest state and the change events (the outbox),
    in the caller's transaction. Returns the new change events' ids."""
    if not items:
        return []
    with conn.cursor().copy(f"COPY observations ({', '.join(OBSERVATION_COLUMNS)}) FROM STDIN") as copy:
        for i in items:
            copy.write_row(
                (
                    i.product_id,
                    i.crawl_run_id or None,
                    i.observed_at,
                    i.ok,
                    i.price if i.ok else None,
                    i.currency if i.ok else None,
                    i.availability if i.ok else None,
                    i.http_status,
                    i.error_type,
                    (i.error or "")[:1000] or None,
                    i.flagged,
                    i.list_price if i.ok else None,
                    offers_json(i.offers) if i.ok else None,
                )
            )
    ok = [i for i in items if i.ok and not i.flagged]
    if ok:
        # The first good observation is the baseline: what the client is "notified" of from the start;
        # after that, the notified state moves only with a change the client is told about.
        conn.execute(
            """UPDATE products p SET
                   name = COALESCE(v.name, p.name), price = v.price, currency = v.currency,
                   availability = v.availability, sku = COALESCE(v.sku, p.sku), gtin = COALESCE(v.gtin, p.gtin),
                   brand = COALESCE(v.brand, p.brand), image = COALESCE(v.image, p.image), sources = v.sources,
                   list_price = v.list_price, offers = v.offers,
                   last_observed_at = v.observed_at, last_ok_at = v.observed_at,
                   last_changed_at = CASE WHEN v.changed THEN v.observed_at ELSE p.last_changed_at END,
                   notified_price = CASE WHEN p.last_ok_at IS NULL OR v.price_notified THEN v.price
                                         ELSE p.notified_price END,
                   notified_currency = CASE WHEN p.last_ok_at IS NULL OR v.price_notified THEN v.currency
                                            ELSE p.notified_currency END,
                   notified_availability = CASE WHEN p.last_ok_at IS NULL OR v.stock_notified THEN v.availability
                                                ELSE p.notified_availability END,
                   updated_at = now()
              FROM unnest(%s::bigint[], %s::text[], %s::numeric[], %s::text[], %s::text[], %s::text[], %s::text[],
                          %s::text[], %s::text[], %s::jsonb[], %s::numeric[], %s::jsonb[], %s::timestamptz[],
                          %s::boolean[], %s::boolean[], %s::boolean[])
                   AS v(id, name, price, currency, availability, sku, gtin, brand, image, sources, list_price, offers,
                        observed_at, changed, price_notified, stock_notified)
             WHERE p.id = v.id""",
            (
                [i.product_id for i in ok],
                [i.name for i in ok],
                [i.price for i in ok],
                [i.currency for i in ok],
                [i.availability for i in ok],
                [i.sku for i in ok],
                [i.gtin for i in ok],
                [i.brand for i in ok],
                [i.image for i in ok],
                [Jsonb(i.sources) for i in ok],
                [i.list_price for i in ok],
                [offers_json(i.offers) for i in ok],
                [i.observed_at for i in ok],
                [bool(i.changes) for i in ok],
                [any(c["type"] == "price_changed" for c in i.changes) for i in ok],
                [any(c["type"] == "stock_changed" for c in i.changes) for i in ok],
            ),
        )
    failed = [i for i in items if not i.ok or i.flagged]
    if failed:
        conn.execute(
            """UPDATE products p SET last_observed_at = v.observed_at, updated_at = now()
                 FROM unnest(%s::bigint[], %s::timestamptz[]) AS v(id, observed_at) WHERE p.id = v.id""",
            ([i.product_id for i in failed], [i.observed_at for i in failed]),
        )
    return webhooks_q.insert_events(
        conn,
        [
            {
                "website_id": i.website_id,
                "product_id": i.product_id,
                "type": c["type"],
                "before": _json(c["before"]),
                "after": _json(c["after"]),
                "change_pct": c["change_pct"],
                "observed_at": i.observed_at,
            }
            for i in ok
            for c in i.changes
        ],
    )


def _json(state: dict) -> dict:
    return {k: (str(v) if v is not None and not isinstance(v, str) else v) for k, v in state.items()}
