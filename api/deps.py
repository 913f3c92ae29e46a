"""Per-process connections for views, built from the app's config (never os.environ)."""

from __future__ import annotations

from flask import current_app

from core.redis_client import get_redis
from db.pool import get_pool


def pool():
    config = current_app.config
    return get_pool(config["DATABASE_URL"], config["OBSRV_DB_POOL_MAX"])


def redis_client(socket_timeout: float | None = 5.0):
    return get_redis(current_app.config["REDIS_URL"], socket_timeout)
