"""Downloader middlewares: stopped crawls' requests dropped, the SSRF guard for address literals, robots.txt
fetched in the website's own download slot, and retries with exponential backoff."""

from __future__ import annotations

import asyncio
import ipaddress
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred

from core.retry_after import retry_after_seconds
from core.urls import refused_address


class TargetRefused(IgnoreRequest):
    """The URL's host is an address Obsrv must not fetch."""


class CrawlStopped(IgnoreRequest):
    """The request's crawl was stopped (time limit, shutdown) before it was sent."""


class CrawlGateMiddleware:
    """Drops the requests of a crawl that was stopped while they waited."""

    def process_request(self, request, spider=None):
        crawl = request.meta.get("crawl")
        if crawl is not None and (crawl.stopped or crawl.finishing):
            raise CrawlStopped(f"crawl stopped: {crawl.stopped}")
        return None


class PoliteRobotsTxtMiddleware(RobotsTxtMiddleware):
    """Scrapy's robots.txt middleware, with robots.txt fetched in the website's own download slot (so it
    counts toward the website's rate) and forgotten when the domain's last crawl ends (so the next crawl
    reads it again and memory does not grow with every domain ever crawled)."""

    async def robot_parser(self, request):
        netloc = urlparse_cached(request).netloc
        if netloc not in self._parsers:
            self._parsers[netloc] = Deferred()
            url = urlparse_cached(request)
            meta = {"dont_obey_robotstxt": True}
            if request.meta.get("download_slot"):
                meta["download_slot"] = request.meta["download_slot"]
            robotsreq = Request(
                f"{url.scheme}://{netloc}/robots.txt", priority=self.DOWNLOAD_PRIORITY, meta=meta, callback=NO_CALLBACK
            )
            try:
                response = await self.crawler.engine.download_async(robotsreq)
                await self._parse_robots(response, netloc, request)
            except Exception as exc:  # noqa: BLE001 -- an unreadable robots.txt is reported, not fatal
                self._robots_error(exc, netloc)
            self._stats.inc_value("robotstxt/request_count")
        parser = self._parsers[netloc]
        if isinstance(parser, Deferred):
            return await maybe_deferred_to_future(parser)
        return parser

    def forget(self, domain: str) -> None:
        parser = self._parsers.get(domain)
        if not isinstance(parser, Deferred):
            self._parsers.pop(domain, None)


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
                raise TargetRefused(f"{host} is a loopback host") from None
            return None
        reason = refused_address(host)
        if reason:
            raise TargetRefused(reason)
        return None


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retries (network errors, 5xx, 429), each after base·2ⁿ seconds (or Retry-After when longer)."""

    def __init__(self, settings):
        super().__init__(settings)
        self.base = settings.getfloat("OBSRV_RETRY_BACKOFF_BASE")
        self.max_delay = settings.getfloat("OBSRV_RETRY_BACKOFF_MAX")

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
