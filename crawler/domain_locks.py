"""The crawler process's per-domain crawl locks (Redis): one crawler process per domain at a time.

:class:`DomainLocks` takes a domain's lock for the first of this process's crawls on it and shares it
with the others (a count of holds); the last one to end lets it go. :meth:`DomainLocks.renew` is
called every heartbeat: a lock that expired (Redis restarted, say) is taken again if nobody else did.
Used on the crawl manager's DB thread only (:mod:`crawler.manager`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from redis import RedisError

from core import locks

log = logging.getLogger("obsrv.crawler")


class DomainLocks:
    def __init__(self, redis: Callable[[], object], lock_seconds) -> None:
        self._get_redis = redis  # the manager's connection, opened on first use
        self.lock_seconds = lock_seconds
        self._domain_tokens: dict[str, str] = {}
        self._domain_holds: dict[str, int] = {}

    @property
    def redis(self):
        return self._get_redis()

    def hold(self, domain: str) -> bool:
        """Take (or share, within this process) the domain's crawl lock."""
        if self._domain_holds.get(domain):
            self._domain_holds[domain] += 1
            return True
        try:
            token = locks.acquire(self.redis, locks.domain_lock_key(domain), self.lock_seconds)
        except RedisError:
            log.warning("Redis unavailable: cannot take the domain lock", extra={"domain": domain})
            return False
        if token is None:
            return False
        self._domain_tokens[domain] = token
        self._domain_holds[domain] = 1
        return True

    def let_go(self, domain: str) -> None:
        holds = self._domain_holds.get(domain, 0) - 1
        if holds > 0:
            self._domain_holds[domain] = holds
            return
        self._domain_holds.pop(domain, None)
        token = self._domain_tokens.pop(domain, None)
        if token:
            try:
                locks.release(self.redis, locks.domain_lock_key(domain), token)
            except RedisError:
                log.warning("could not release the domain lock; it expires", extra={"domain": domain})

    def renew(self) -> None:
        seconds = self.lock_seconds
        for domain, token in list(self._domain_tokens.items()):
            try:
                if not locks.renew(self.redis, locks.domain_lock_key(domain), token, seconds):
                    # expired (Redis restarted, say): take it again if nobody else did
                    if self.redis.set(locks.domain_lock_key(domain), token, nx=True, px=int(seconds * 1000)):
                        continue
                    log.warning("lost the domain lock to another crawler", extra={"domain": domain})
            except RedisError:
                log.warning("could not renew the domain lock", extra={"domain": domain})
