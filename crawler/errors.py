"""Typed crawl errors: what went wrong with a page, in words a client can act on."""

from __future__ import annotations

import re

from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
    UnsupportedURLSchemeError,
)
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet import error as net
from twisted.internet.defer import TimeoutError as DeferTimeoutError
from twisted.web._newclient import ResponseFailed, ResponseNeverReceived

from crawler.middlewares import TargetRefused


def refused_reason(url: str) -> str | None:
    """Why the guarded resolver refused this URL's host, if it did."""
    from urllib.parse import urlsplit

    from twisted.internet import reactor

    refused = getattr(getattr(reactor, "resolver", None), "refused", {})
    return refused.get((urlsplit(url).hostname or "").lower())


# Scrapy's HttpCompressionMiddleware, when a compressed body inflates past DOWNLOAD_MAXSIZE (a gzip bomb)
_DECOMPRESSED_TOO_LARGE_RE = re.compile(
    r"\((\d+) B compressed, (\d+) B decompressed so far\) exceeded DOWNLOAD_MAXSIZE \((\d+) B\)"
)


def classify_failure(failure) -> tuple[str, str]:
    """(error_type, message) of a request's errback failure."""
    exc = failure.value
    text = str(exc) or type(exc).__name__
    bomb = _DECOMPRESSED_TOO_LARGE_RE.search(text)
    if bomb:
        compressed, inflated, limit = (int(group) for group in bomb.groups())
        return "parse", (
            f"compressed page inflates past the download size limit: {compressed:,} bytes compressed, "
            f"over {inflated:,} decompressed, limit {limit:,} (OBSRV_DOWNLOAD_MAXSIZE)"
        )
    if "max size" in text or isinstance(exc, DownloadCancelledError):
        return "parse", "page larger than the download size limit (OBSRV_DOWNLOAD_MAXSIZE)"
    if isinstance(exc, (DownloadTimeoutError, DeferTimeoutError, net.TimeoutError, net.TCPTimedOutError)):
        return "timeout", f"no answer in time: {text}"
    if isinstance(exc, (CannotResolveHostError, net.DNSLookupError)):
        refused = refused_reason(failure.request.url if hasattr(failure, "request") else "")
        return "dns", refused or f"host name could not be resolved: {text}"
    if isinstance(exc, UnsupportedURLSchemeError):
        return "parse", f"unsupported URL: {text}"
    if isinstance(exc, TargetRefused):
        return "dns", text
    if isinstance(exc, HttpError):
        return "http_status", f"HTTP {exc.response.status}"
    if isinstance(exc, IgnoreRequest):
        if "robots.txt" in text:
            return "robots", "forbidden by the site's robots.txt"
        if "max redirections" in text.lower() or "redirect" in text.lower():
            return "http_status", f"redirect loop: {text}"
        return "parse", text
    if isinstance(
        exc,
        (
            DownloadConnectionRefusedError,
            DownloadFailedError,
            ResponseDataLossError,
            net.ConnectionRefusedError,
            net.ConnectError,
            net.ConnectionLost,
            net.ConnectionDone,
            ResponseFailed,
            ResponseNeverReceived,
        ),
    ):
        return "network", f"connection failed: {text}"
    return "internal", f"{type(exc).__name__}: {text}"
