"""Name resolution for crawls: pinned host names, and the SSRF guard on every resolved address.

``OBSRV_DNS_OVERRIDES`` pins names to addresses (like ``curl --resolve``), for
staging shops and for the test shops on 127.0.0.1; ``*.shops.test=127.0.0.1``
pins every name under ``shops.test``. Unless
``OBSRV_ALLOW_PRIVATE_TARGETS`` is on, a name that resolves to a private,
loopback or link-local address is refused as a DNS failure, so a crawl can
never be pointed at the deployment's own network.
"""

from __future__ import annotations

from scrapy.resolver import CachingThreadedResolver
from twisted.internet import defer
from twisted.internet.error import DNSLookupError

from core.urls import refused_address


def parse_overrides(value) -> dict[str, str]:
    if isinstance(value, dict):
        return {k.lower(): v for k, v in value.items()}
    pairs = [p.strip() for p in (value or "").split(",") if p.strip()]
    overrides = {}
    for pair in pairs:
        host, _, address = pair.partition("=")
        if host and address:
            overrides[host.strip().lower()] = address.strip()
    return overrides


def pinned_address(overrides: dict[str, str], name: str) -> str | None:
    """The address ``OBSRV_DNS_OVERRIDES`` pins this name to (``*.zone`` pins every name under it), if any."""
    name = name.lower().rstrip(".")
    if name in overrides:
        return overrides[name]
    labels = name.split(".")
    for i in range(1, len(labels)):
        address = overrides.get("*." + ".".join(labels[i:]))
        if address:
            return address
    return None


class TargetRefusedError(DNSLookupError):
    """The name resolves, but to an address Obsrv must not fetch."""


class GuardedResolver(CachingThreadedResolver):
    def __init__(self, reactor, cache_size, timeout, overrides=None, allow_private=False):
        super().__init__(reactor, cache_size, timeout)
        self.overrides = overrides or {}
        self.allow_private = allow_private
        self.refused: dict[str, str] = {}  # host -> why, so the crawl can say so (see crawler.errors)

    @classmethod
    def from_crawler(cls, crawler, reactor):
        resolver = super().from_crawler(crawler, reactor)
        resolver.overrides = parse_overrides(crawler.settings.get("OBSRV_DNS_OVERRIDES"))
        resolver.allow_private = crawler.settings.getbool("OBSRV_ALLOW_PRIVATE_TARGETS")
        return resolver

    def _guard(self, address: str, name: str) -> str:
        if not self.allow_private:
            reason = refused_address(address)
            if reason:
                message = f"{name}: {reason} (refused: OBSRV_ALLOW_PRIVATE_TARGETS is off)"
                self.refused[name.lower()] = message
                raise TargetRefusedError(message)
        return address

    def pinned(self, name: str) -> str | None:
        return pinned_address(self.overrides, name)

    def getHostByName(self, name, timeout=()):
        pinned = self.pinned(name)
        if pinned:
            try:
                return defer.succeed(self._guard(pinned, name))
            except TargetRefusedError as exc:
                return defer.fail(exc)
        d = super().getHostByName(name, timeout)
        d.addCallback(self._guard, name)
        return d
