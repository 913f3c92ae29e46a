"""Redis connections.

redis-py's connection pool notices a fork and reconnects in the child, so one
client per URL per process is enough. ``REDIS_URL`` may be ``redis://``,
``rediss://`` or ``unix://`` (the embedded server listens on a socket).
"""

from __future__ import annotations

import os

import redis

_clients: dict[tuple[int, str, float | None], redis.Redis] = {}


def get_redis(url: str, socket_timeout: float | None = None) -> redis.Redis:
    key = (os.getpid(), url, socket_timeout)
    client = _clients.get(key)
    if client is None:
        client = redis.Redis.from_url(url, socket_timeout=socket_timeout, socket_connect_timeout=socket_timeout)
        _clients[key] = client
    return client
