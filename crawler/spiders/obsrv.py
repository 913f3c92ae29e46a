"""The crawler process's one spider: every website's crawl runs through it, each in its own download slot.

It has no pages of its own. ``start()`` yields the first requests of each crawl the manager claims, for
as long as the process runs; every response and failure goes back to the crawl it belongs to
(``request.meta["crawl"]``) through :meth:`crawler.manager.CrawlManager.track`.
"""

from __future__ import annotations

import scrapy

from crawler.manager import CrawlManager


class ObsrvSpider(scrapy.Spider):
    name = "obsrv"

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.manager = CrawlManager.of(crawler)
        spider.manager.spider = spider
        return spider

    async def start(self):
        async for request in self.manager.requests():
            yield request

    def on_response(self, response):
        meta = response.meta
        return self.manager.track(meta["crawl"], meta["handler"], response)

    def on_failure(self, failure):
        meta = failure.request.meta
        return self.manager.track(meta["crawl"], meta["errback"], failure)

    def parse(self, response):  # every request names its crawl's handler; nothing comes here
        return None
