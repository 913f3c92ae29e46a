"""One Postgres connection pool per process, opened after any fork.

gunicorn and RQ fork. A pool (its sockets and its worker threads) must never
cross a fork, so pools are keyed by process id and made on first use in the
process that uses them (psycopg ``docs/advanced/pool.rst``).
"""

from __future__ import annotations

import atexit
import os
import threading

from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

_pools: dict[tuple[int, str], ConnectionPool] = {}
_lock = threading.Lock()


def _configure(conn) -> None:
    """Every pooled connection speaks UTC (timestamps Postgres renders, e.g. as JSON, are UTC), and reuses
    generic plans for the statements psycopg prepares: a custom plan of a query on the monthly partitions
    of ``observations`` costs ~1 ms to plan on every call, the generic one prunes partitions at run time."""
    conn.execute("SET TIME ZONE 'UTC'")
    conn.execute("SET plan_cache_mode = force_generic_plan")


def get_pool(database_url: str, max_size: int = 10) -> ConnectionPool:
    key = (os.getpid(), database_url)
    pool = _pools.get(key)
    if pool is not None:
        return pool
    with _lock:
        pool = _pools.get(key)
        if pool is None:
            pool = ConnectionPool(
                database_url,
                min_size=1,
                max_size=max(1, max_size),
                # autocommit: a read is one round trip, not two (no COMMIT); writes that must be
                # atomic say so with `with conn.transaction():`.
                kwargs={"row_factory": dict_row, "autocommit": True},
                name=f"obsrv-{os.getpid()}",
                configure=_configure,
                open=True,
            )
            _pools[key] = pool
    return pool


def close_pools() -> None:
    """Close this process's pools (inherited ones are dropped, not closed)."""
    pid = os.getpid()
    with _lock:
        for key in list(_pools):
            pool = _pools.pop(key)
            if key[0] == pid:
                pool.close()


atexit.register(close_pools)
