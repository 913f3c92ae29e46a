"""The download handler of the crawler process: Chromium (scrapy-playwright) for render_js websites.

scrapy-playwright's handler starts Playwright when the engine starts. In a crawler process that may
never crawl a render_js website that is a node process and its memory for nothing, so this one starts
it with the first request that asks for a browser (``meta["playwright"]``). Other requests go through
Scrapy's own HTTP handler, as with the stock handler.
"""

from __future__ import annotations

import asyncio

from scrapy import signals
from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler


class LazyPlaywrightHandler(ScrapyPlaywrightDownloadHandler):
    def __init__(self, crawler):
        super().__init__(crawler)
        for receiver in (getattr(self, "_maybe_launch_in_thread", None), getattr(self, "_engine_started", None)):
            if receiver is not None:
                crawler.signals.disconnect(receiver, signal=signals.engine_started)
        self._started = False
        self._start_lock = asyncio.Lock()

    async def download_request(self, request, *args, **kwargs):
        if request.meta.get("playwright") and not self._started:
            async with self._start_lock:
                if not self._started:
                    await self._maybe_future_from_coro(self._launch())
                    self._started = True
        return await super().download_request(request, *args, **kwargs)
