"""Monthly partitions of ``observations``, created ahead of time by code.

``observations`` is ``PARTITION BY RANGE (observed_at)``; one partition per
calendar month (UTC) named ``observations_yYYYYmMM``. The migration step and
every scheduler tick call :func:`ensure_observation_partitions`, so the months
ahead always exist before a crawl writes into them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from psycopg import sql

PARENT = "observations"


def month_start(d: date | datetime) -> date:
    return date(d.year, d.month, 1)


def add_months(d: date, months: int) -> date:
    index = d.year * 12 + (d.month - 1) + months
    return date(index // 12, index % 12 + 1, 1)


def partition_name(month: date) -> str:
    return f"{PARENT}_y{month.year:04d}m{month.month:02d}"


def existing_partitions(conn) -> set[str]:
    rows = conn.execute(
        """
        SELECT c.relname AS name
          FROM pg_inherits i
          JOIN pg_class c ON c.oid = i.inhrelid
          JOIN pg_class p ON p.oid = i.inhparent
         WHERE p.relname = %s
        """,
        (PARENT,),
    ).fetchall()
    return {row["name"] if isinstance(row, dict) else row[0] for row in rows}


def ensure_observation_partitions(
    conn, *, first: date | None = None, last: date | None = None, months_ahead: int = 3
) -> list[str]:
    """Create the monthly partitions from ``first`` to ``last`` (inclusive) that are missing.

    Defaults: from the current month to ``months_ahead`` months after it.
    Returns the names created. Safe to run concurrently (IF NOT EXISTS, one
    transaction-scoped advisory lock).
    """
    today = datetime.now(UTC).date()
    first = month_start(first or today)
    last = month_start(last or add_months(month_start(today), months_ahead))
    have = existing_partitions(conn)
    wanted = []
    month = first
    while month <= last:
        if partition_name(month) not in have:
            wanted.append(month)
        month = add_months(month, 1)
    if not wanted:
        return []
    created = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('obsrv.observations.partitions'))")
        have = existing_partitions(conn)
        for month in wanted:
            name = partition_name(month)
            if name in have:
                continue
            conn.execute(
                sql.SQL("CREATE TABLE IF NOT EXISTS {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})").format(
                    sql.Identifier(name),
                    sql.Identifier(PARENT),
                    sql.Literal(datetime(month.year, month.month, 1, tzinfo=UTC)),
                    sql.Literal(datetime.combine(add_months(month, 1), datetime.min.time(), UTC)),
                )
            )
            created.append(name)
    return created
