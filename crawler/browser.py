"""The download handler of the crawler process: Chromium (scrapy-playwright) for render_js websites.

scrapy-playwright's handler starts Playwright when the engine starts. In a crawler process that may
never crawl a render_js website that is a node process and its memory for nothing, so this one starts
it with the first request that asks for a browser (``meta["playwright"]``). Other requests go through
Scrapy's own HTTP handler, as with the stock handler.

Chromium never reaches the network by itself: it is launched with the crawler's checking proxy
(:mod:`crawler.browser_proxy`) as its only route, started just before it, so every request it makes —
the page, each redirect hop, every image, script, fetch, iframe and WebSocket — passes the crawl's SSRF
check and goes to the address that was checked. When the page itself is what the proxy refused (or could
not resolve or reach), the download fails as the plain crawl's would: a refused page is a ``dns`` error
that says why ("… is a private, loopback or link-local address …"), never a 403 of the website's.
"""

from __future__ import annotations

import asyncio

from playwright.async_api import Error as PlaywrightError
from scrapy import signals
from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler
from twisted.internet import error as net

from crawler.browser_proxy import REFUSED, TIMEOUT, UNREACHABLE, UNRESOLVED, GuardProxy, Outcome, TargetCheck
from crawler.dns import parse_overrides
from crawler.middlewares import TargetRefused

#: Chromium's own routes out that would not pass the proxy: its resolver answers nothing (the proxy is an
#: address literal), no QUIC, WebRTC sends no UDP outside the proxy (it has none, so none at all).
CLOSED_DOORS = [
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    "--disable-quic",
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
]


def failure_of(outcome: Outcome) -> Exception:
    """The exception the plain crawl raises for the same trouble (crawler.errors classifies both alike)."""
    if outcome.kind == REFUSED:
        return TargetRefused(outcome.message)
    if outcome.kind == UNRESOLVED:
        return net.DNSLookupError(outcome.message)
    if outcome.kind == TIMEOUT:
        return net.TCPTimedOutError(string=outcome.message)
    if outcome.kind == UNREACHABLE:
        return net.ConnectError(string=outcome.message)
    return TargetRefused(outcome.message)


class LazyPlaywrightHandler(ScrapyPlaywrightDownloadHandler):
    def __init__(self, crawler):
        super().__init__(crawler)
        for receiver in (getattr(self, "_maybe_launch_in_thread", None), getattr(self, "_engine_started", None)):
            if receiver is not None:
                crawler.signals.disconnect(receiver, signal=signals.engine_started)
        self._started = False
        self._start_lock = asyncio.Lock()
        settings = crawler.settings
        self.proxy = GuardProxy(
            TargetCheck(
                allow_private=settings.getbool("OBSRV_ALLOW_PRIVATE_TARGETS"),
                overrides=parse_overrides(settings.get("OBSRV_DNS_OVERRIDES")),
                timeout=settings.getfloat("DNS_TIMEOUT", 10.0),
            ),
            timeout=settings.getfloat("DOWNLOAD_TIMEOUT", 30.0),
        )

    async def _start_browser(self) -> None:
        """The proxy first, then Playwright with Chromium routed through it (launched with the first page)."""
        await self.proxy.start()
        options = dict(self.config.launch_options)
        options.pop("proxy", None)
        args = [a for a in options.get("args", []) if not a.startswith(("--proxy-", "--host-resolver-rules"))]
        # Explicit flags, not Playwright's ``proxy`` option: that one leaves loopback out of the proxy when
        # PLAYWRIGHT_DISABLE_FORCED_CHROMIUM_PROXIED_LOOPBACK is set; ``<-loopback>`` sends loopback through too.
        options["args"] = args + [f"--proxy-server={self.proxy.url}", "--proxy-bypass-list=<-loopback>", *CLOSED_DOORS]
        self.config.launch_options = options
        await self._maybe_future_from_coro(self._launch())

    async def download_request(self, request, *args, **kwargs):
        if not request.meta.get("playwright"):
            return await super().download_request(request, *args, **kwargs)
        if not self._started:
            async with self._start_lock:
                if not self._started:
                    await self._start_browser()
                    self._started = True
        failed: list[str] = []  # the page's navigations that failed (redirect hops included)

        def on_failed(pw_request) -> None:
            try:
                if pw_request.is_navigation_request():
                    failed.append(pw_request.url)
            except PlaywrightError:
                pass

        handlers = dict(request.meta.get("playwright_page_event_handlers") or {})
        handlers["requestfailed"] = on_failed
        request.meta["playwright_page_event_handlers"] = handlers
        try:
            response = await super().download_request(request, *args, **kwargs)
        except PlaywrightError:
            for url in reversed([request.url, *failed]):
                outcome = self.proxy.outcome_for(url)
                if outcome is not None:
                    raise failure_of(outcome) from None
            raise
        outcome = self.proxy.outcome_in(response.body)
        if outcome is not None:
            raise failure_of(outcome)
        return response

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            await self.proxy.close()
