"""flask-limiter's Redis storage, one round trip per request instead of three.

With response headers on, flask-limiter's fixed window asks Redis three times
per request: INCR (the hit), then GET and TTL for ``X-RateLimit-Remaining``
and ``X-RateLimit-Reset``. This storage's INCR script returns the TTL with the
count, and the two reads that follow in the same thread within a second are
answered from that reply. Limits, keys and semantics are the library's own.

The same script reads the API-key epoch (:data:`KEYS_EPOCH`): a key that
:class:`api.auth.KeyCache` answered from memory is confirmed by it without a
trip of its own (see :func:`epoch_seen`).
"""

from __future__ import annotations

import threading
import time

from limits.storage import RedisStorage

SCHEME = "obsrv+"
#: Changed to a new random value whenever an API key is invalidated (see api.auth).
KEYS_EPOCH = "obsrv:api-keys:epoch"
_INCR_EXPIRE_TTL = """
local current = redis.call("incrby", KEYS[1], ARGV[2])
if tonumber(current) == tonumber(ARGV[2]) then
    redis.call("expire", KEYS[1], ARGV[1])
end
return {current, redis.call("ttl", KEYS[1]), redis.call("get", KEYS[2])}
"""
_FRESH_SECONDS = 1.0
_epoch = threading.local()
_UNSEEN = object()


def forget_epoch() -> None:
    """Start of a request: nothing read yet in this thread."""
    _epoch.value = _UNSEEN


def epoch_seen():
    """The key epoch this thread's last rate-limit hit read from Redis since :func:`forget_epoch`
    (None if Redis holds none), or ``_UNSEEN`` when there was no such hit: limiter off, or Redis
    unreachable and counting in memory."""
    return getattr(_epoch, "value", _UNSEEN)


class OneTripRedisStorage(RedisStorage):
    STORAGE_SCHEME = [SCHEME + s for s in ("redis", "rediss", "redis+unix")]

    def __init__(self, uri: str, **options):
        self._seen = threading.local()
        super().__init__(uri[len(SCHEME) :], **options)

    def initialize_storage(self, uri: str) -> None:
        super().initialize_storage(uri)
        self._incr_ttl = self.get_connection().register_script(_INCR_EXPIRE_TTL)

    def _memo(self) -> dict:
        memo = getattr(self._seen, "memo", None)
        if memo is None:
            memo = self._seen.memo = {}
        return memo

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        count, ttl, epoch = self._incr_ttl([self.prefixed_key(key), KEYS_EPOCH], [expiry, amount])
        _epoch.value = epoch
        now = time.time()
        self._memo()[key] = (int(count), now + max(int(ttl), 0), now)
        return int(count)

    def _fresh(self, key: str):
        seen = self._memo().get(key)
        if seen is not None and time.time() - seen[2] < _FRESH_SECONDS:
            return seen
        return None

    def get(self, key: str) -> int:
        seen = self._fresh(key)
        return seen[0] if seen else super().get(key)

    def get_expiry(self, key: str) -> float:
        seen = self._fresh(key)
        return seen[1] if seen else super().get_expiry(key)

    def clear(self, key: str) -> None:
        self._memo().pop(key, None)
        super().clear(key)


def storage_uri(redis_url: str) -> str:
    """REDIS_URL in this storage's scheme (``unix://`` becomes ``obsrv+redis+unix://``)."""
    if redis_url.startswith("unix://"):
        return SCHEME + "redis+unix://" + redis_url[len("unix://") :]
    return SCHEME + redis_url
