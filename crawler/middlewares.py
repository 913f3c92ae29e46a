"""Downloader middlewares: the SSRF guard for address literals, and retries with exponential backoff."""

from __future__ import annotations

import asyncio
import ipaddress
from email.utils import parsedate_to_datetime
from datetime import datetime, timezone
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest

from db.urls import refused_address


class TargetRefused(IgnoreRequest):
    """The URL's host is an address Obsrv must not fetch."""


class TargetGuardMiddleware:
    """Refuses URLs whose host is a private/loopback/link-local address literal.

    Host names are checked after resolution by :class:`crawler.dns.GuardedResolver`.
    """

    def __init__(self, allow_private: bool):
        self.allow_private = allow_private

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.settings.getbool("OBSRV_ALLOW_PRIVATE_TARGETS"))

    def process_request(self, request, spider=None):
        if self.allow_private or request.url.startswith("data:"):
            return None
        host = urlsplit(request.url).hostname or ""
        try:
            ipaddress.ip_address(host)
        except ValueError:
            if host == "localhost" or host.endswith(".localhost"):
                raise TargetRefused(f"{host} is a loopback host")
            return None
        reason = refused_address(host)
        if reason:
            raise TargetRefused(reason)
        return None


def retry_after_seconds(value: bytes | None) -> float | None:
    if not value:
        return None
    text = value.decode("latin-1").strip()
    if text.isdigit():
        return float(text)
    try:
        return max(0.0, (parsedate_to_datetime(text) - datetime.now(timezone.utc)).total_seconds())
    except (TypeError, ValueError):
        return None


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retries (network errors, 5xx, 429), each after base·2ⁿ seconds (or Retry-After when longer)."""

    def __init__(self, settings):
        super().__init__(settings)
        self.base = settings.getfloat("OBSRV_RETRY_BACKOFF_BASE", 2.0)
        self.max_delay = settings.getfloat("OBSRV_RETRY_BACKOFF_MAX", 60.0)

    def _delay(self, retry: Request, response=None) -> float:
        attempt = max(1, retry.meta.get("retry_times", 1))
        delay = self.base * 2 ** (attempt - 1)
        if response is not None and response.status in (429, 503):
            delay = max(delay, retry_after_seconds(response.headers.get("Retry-After")) or 0.0)
        return min(delay, self.max_delay)

    async def process_response(self, request, response, spider=None):
        result = super().process_response(request, response)
        if isinstance(result, Request):
            await asyncio.sleep(self._delay(result, response))
        return result

    async def process_exception(self, request, exception, spider=None):
        result = super().process_exception(request, exception)
        if isinstance(result, Request):
            await asyncio.sleep(self._delay(result))
        return result
