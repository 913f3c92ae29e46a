"""Redis locks: one crawl per domain at a time across every worker.

A lock is a key holding a random token, set with NX and a lifetime; only the
holder (who knows the token) renews or releases it, so a crawl whose worker
died frees its domain when the lifetime runs out.
"""

from __future__ import annotations

import secrets

_RENEW = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"
)
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"


def domain_lock_key(domain: str) -> str:
    return f"obsrv:lock:domain:{domain}"


def acquire(redis, key: str, seconds: int) -> str | None:
    """The token of a newly taken lock, or None if someone holds it."""
    token = secrets.token_hex(16)
    return token if redis.set(key, token, nx=True, px=int(seconds * 1000)) else None


def renew(redis, key: str, token: str, seconds: int) -> bool:
    return bool(redis.eval(_RENEW, 1, key, token, int(seconds * 1000)))


def release(redis, key: str, token: str) -> bool:
    return bool(redis.eval(_RELEASE, 1, key, token))
