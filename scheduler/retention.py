"""Data retention and monthly statistics (the website lifecycle is scheduler.lifecycle).

- Every completed month's ``product_statistics`` are aggregated from its observations (once, and again
  before its partition is dropped, so late writes are counted).
- Retention drops whole monthly partitions of ``observations`` that lie entirely before
  now − OBSRV_RETENTION_DAYS (detach + drop: never row-by-row deletes), after aggregating them.
- ``webhook_deliveries`` and ``crawl_runs`` have their own retention (row deletes; they are small).

The scheduler runs statistics daily and retention weekly (guarded in Redis so that several schedulers
run each once); both are idempotent. Each run logs its counts.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from db.partitions import add_months, existing_partitions, month_start, partition_name
from db.queries import history as history_q

log = logging.getLogger("obsrv.lifecycle")


def aggregate_completed_months(conn, *, lookback_months: int = 2) -> dict:
    """Statistics for the last completed months (the previous one, and one more for late observations)."""
    this_month = month_start(datetime.now(UTC).date())
    have = existing_partitions(conn)
    done = {}
    for back in range(lookback_months, 0, -1):
        month = add_months(this_month, -back)
        if partition_name(month) in have:
            with conn.transaction():
                done[month.isoformat()[:7]] = history_q.aggregate_month(conn, month)
    log.info("monthly statistics aggregated", extra={"months": done})
    return done


def apply_retention(conn, settings: dict) -> dict:
    cutoff = (datetime.now(UTC) - timedelta(days=settings["OBSRV_RETENTION_DAYS"])).date()
    dropped = {}
    for month in history_q.partitions_before(conn, cutoff):
        with conn.transaction():
            rows = history_q.aggregate_month(conn, month)  # statistics survive the partition
            history_q.drop_month(conn, month)
        dropped[month.isoformat()[:7]] = rows
    with conn.transaction():
        deliveries = history_q.delete_older(
            conn, "webhook_deliveries", "attempted_at", settings["OBSRV_DELIVERY_RETENTION_DAYS"]
        )
        runs = history_q.delete_older(conn, "crawl_runs", "started_at", settings["OBSRV_CRAWL_RUN_RETENTION_DAYS"])
    result = {"partitions_dropped": dropped, "deliveries_deleted": deliveries, "crawl_runs_deleted": runs}
    log.info("retention applied", extra=result)
    return result
