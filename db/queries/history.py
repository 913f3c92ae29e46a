"""Product history (observations), monthly statistics, and the data lifecycle.

History pages are keyset-paginated on ``(observed_at, id)`` — the primary key's order — so page 1,000
costs what page 1 costs, and the time range prunes ``observations`` to the months it touches.
"""

from __future__ import annotations

from datetime import date, datetime

from psycopg import sql
from psycopg.rows import tuple_row

from db.partitions import PARENT, add_months, existing_partitions, month_start, partition_name

#: One observation as JSON text, written by Postgres. Plain concatenation: json_build_object is several
#: times slower, row_to_json ~40% slower. Strings that may hold anything (error) go through to_json; offers
#: are jsonb already (its text is JSON, amounts as strings; NULL -- one plain offer -- is ``[]``). The
#: usual tail (ok, no error, not flagged) is one constant rather than eight pieces.
ITEM_JSON = """'{"id":' || id || ',"observed_at":' || to_json(observed_at)::text
    || ',"price":' || COALESCE('"' || price::text || '"', 'null')
    || ',"currency":' || COALESCE('"' || currency || '"', 'null')
    || ',"availability":' || COALESCE('"' || availability || '"', 'null')
    || ',"list_price":' || COALESCE('"' || list_price::text || '"', 'null')
    || ',"offers":' || COALESCE(offers::text, '[]')
    || CASE WHEN ok AND error IS NULL AND error_type IS NULL AND NOT flagged
            THEN ',"ok":true,"error":null,"error_type":null,"flagged":false}'
            ELSE ',"ok":' || ok::text || ',"error":' || COALESCE(to_json(error)::text, 'null')
                 || ',"error_type":' || COALESCE('"' || error_type || '"', 'null')
                 || ',"flagged":' || flagged::text || '}' END"""


def history_page(
    conn,
    product_id: int,
    *,
    client_id: int,
    start: datetime,
    end: datetime,
    limit: int,
    descending: bool,
    after: tuple[datetime, int] | None,
) -> tuple[str | None, bool, datetime | None, int | None]:
    """One page of a product's observations in [start, end), after the cursor ``(observed_at, id)``, if the
    product is one of the client's approved ones (an empty page otherwise: tell the cases apart only then).

    Returns ``(items, more, last observed_at, last id)`` in one row: ``items`` is the page's items as JSON
    text, comma-separated (Postgres writes each item, ITEM_JSON, and joins them), or None for an empty
    page; ``more`` says whether a row follows the page, whose last ``(observed_at, id)`` is the next
    cursor. A 500-row page costs Python one string, not 500 rows or 4,000 field conversions. Times are
    ISO 8601 in UTC (the pool's connections run with TimeZone UTC).
    """
    keyset = ""
    params: dict = {"product": product_id, "client": client_id, "start": start, "end": end, "limit": limit}
    if after is not None:
        # The plain bound on observed_at is implied by the row comparison, but only it lets Postgres skip
        # the monthly partitions on the far side of the cursor.
        keyset = (
            "AND observed_at <= %(after_at)s AND (observed_at, id) < (%(after_at)s, %(after_id)s)"
            if descending
            else "AND observed_at >= %(after_at)s AND (observed_at, id) > (%(after_at)s, %(after_id)s)"
        )
        params.update(after_at=after[0], after_id=after[1])
    order = "observed_at DESC, id DESC" if descending else "observed_at ASC, id ASC"
    # The owner check is a scalar sub-query on the two primary keys: as an EXISTS on client_id, Postgres
    # walked all the client's websites. The aggregates all take the page's own order, so Postgres reads
    # the rows as they come, with no sort and no window (numbering the rows to leave the extra one out
    # cost a quarter of the query): the extra row's item is cut off here instead.
    items, fetched, last_at, last_id, extra_id = (
        conn.cursor(row_factory=tuple_row)
        .execute(
            f"""WITH page AS (
                SELECT {ITEM_JSON} AS item, observed_at, id
                  FROM observations
                 WHERE product_id = %(product)s AND observed_at >= %(start)s AND observed_at < %(end)s
                   AND (SELECT w.client_id FROM products p JOIN websites w ON w.id = p.website_id
                         WHERE p.id = %(product)s AND p.status = 'approved') = %(client)s
                   {keyset}
                 ORDER BY {order}
                 LIMIT %(limit)s + 1),
            agg AS (
                SELECT string_agg(item, ',' ORDER BY {order}) AS items, count(*) AS fetched,
                       array_agg(observed_at ORDER BY {order}) AS ats, array_agg(id ORDER BY {order}) AS ids
                  FROM page)
            SELECT items, fetched, ats[%(limit)s], ids[%(limit)s], ids[%(limit)s + 1] FROM agg""",
            params,
        )
        .fetchone()
    )
    more = fetched > limit
    if more:
        items = items[: _item_start(items, extra_id)]
    return items, more, last_at, last_id


def _item_start(items: str, observation_id: int) -> int:
    """Where the last item, observation ``observation_id``'s, begins in ``items`` (at its comma).

    Every item begins with ``{"id":<id>,"observed_at":`` (ITEM_JSON); inside an item the sequence cannot
    recur, as quotes in its strings are escaped (error, and the offers' strings: jsonb's text escapes them
    too, and writes ``": "`` between its keys and values) or absent (timestamps, numbers, codes).
    """
    at = items.rfind(f',{{"id":{observation_id},"observed_at":')
    if at < 0:
        raise RuntimeError(f"history page: no item for observation {observation_id} at its end")
    return at


STATS_SELECT = """
    SELECT product_id, date_trunc('month', observed_at AT TIME ZONE 'UTC')::date AS month,
           (array_agg(currency ORDER BY observed_at DESC) FILTER (WHERE ok AND price IS NOT NULL))[1] AS currency,
           min(price) FILTER (WHERE ok) AS min_price, max(price) FILTER (WHERE ok) AS max_price,
           round(avg(price) FILTER (WHERE ok), 4) AS avg_price,
           (array_agg(price ORDER BY observed_at DESC) FILTER (WHERE ok AND price IS NOT NULL))[1] AS last_price,
           count(*) AS observations, count(*) FILTER (WHERE ok) AS ok_observations,
           round((count(*) FILTER (WHERE ok AND availability IN ('InStock', 'LimitedAvailability')))::numeric
                 / NULLIF(count(*) FILTER (WHERE ok AND availability IS NOT NULL), 0), 4) AS in_stock_ratio
      FROM observations
"""


def live_statistics(conn, product_id: int, since: date) -> list[dict]:
    """Monthly statistics computed from the observations themselves (the current month, say)."""
    return conn.execute(
        STATS_SELECT + " WHERE product_id = %s AND observed_at >= %s GROUP BY product_id, 2 ORDER BY 2",
        (product_id, since),
    ).fetchall()


def stored_statistics(conn, product_id: int, since: date, before: date) -> list[dict]:
    return conn.execute(
        """SELECT product_id, month, currency, min_price, max_price, avg_price, last_price, observations,
                  ok_observations, in_stock_ratio
             FROM product_statistics WHERE product_id = %s AND month >= %s AND month < %s ORDER BY month""",
        (product_id, since, before),
    ).fetchall()


def aggregate_month(conn, month: date) -> int:
    """(Re)compute ``product_statistics`` for one calendar month from its observations. Returns the rows."""
    first, nxt = month_start(month), add_months(month_start(month), 1)
    cur = conn.execute(
        "INSERT INTO product_statistics (product_id, month, currency, min_price, max_price, avg_price, last_price, "
        "observations, ok_observations, in_stock_ratio) "
        + STATS_SELECT
        + """ WHERE observed_at >= %s AND observed_at < %s GROUP BY product_id, 2
            ON CONFLICT (product_id, month) DO UPDATE SET
                currency = EXCLUDED.currency, min_price = EXCLUDED.min_price, max_price = EXCLUDED.max_price,
                avg_price = EXCLUDED.avg_price, last_price = EXCLUDED.last_price,
                observations = EXCLUDED.observations, ok_observations = EXCLUDED.ok_observations,
                in_stock_ratio = EXCLUDED.in_stock_ratio, computed_at = now()""",
        (datetime(first.year, first.month, 1), datetime(nxt.year, nxt.month, 1)),
    )
    return cur.rowcount


def partitions_before(conn, cutoff: date) -> list[date]:
    """Months whose whole partition lies before ``cutoff`` (oldest first)."""
    months = []
    for name in existing_partitions(conn):
        try:
            month = date(int(name[-7:-3]), int(name[-2:]), 1)
        except ValueError:
            continue
        if partition_name(month) == name and add_months(month, 1) <= cutoff:
            months.append(month)
    return sorted(months)


def drop_month(conn, month: date) -> None:
    """Detach and drop one monthly partition: no row-by-row deletes."""
    name = sql.Identifier(partition_name(month))
    conn.execute(sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(sql.Identifier(PARENT), name))
    conn.execute(sql.SQL("DROP TABLE {}").format(name))


def delete_older(conn, table: str, column: str, days: int) -> int:
    """Row retention for the small tables (deliveries, crawl runs)."""
    cur = conn.execute(
        sql.SQL("DELETE FROM {} WHERE {} < now() - make_interval(days => %s)").format(
            sql.Identifier(table), sql.Identifier(column)
        ),
        (days,),
    )
    return cur.rowcount
