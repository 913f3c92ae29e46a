"""The baseline of bench/crawl_throughput.py: a bare Scrapy spider that only fetches and parses JSON-LD.

    python bench/bare_spider.py URLS_FILE HOSTS_OVERRIDES

Prints one JSON line: {"pages": N, "products": N, "seconds": S} where S runs
from the first parsed page to the spider's close.
"""

from __future__ import annotations

import gc
import json
import sys
import time
from pathlib import Path

import scrapy
from scrapy import signals
from scrapy.crawler import CrawlerProcess

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crawler.runner import MAX_WINDOW


class BareSpider(scrapy.Spider):
    name = "bare"

    def __init__(self, urls, **kwargs):
        super().__init__(**kwargs)
        self.urls = urls
        self.first = None
        self.closed_at = None
        self.pages = self.products = 0

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.on_closed, signal=signals.spider_closed)
        return spider

    async def start(self):
        for url in self.urls:
            yield scrapy.Request(url, dont_filter=True)

    def parse(self, response):
        if self.first is None:
            self.first = time.perf_counter()
        self.pages += 1
        for text in response.css('script[type="application/ld+json"]::text').getall():
            data = json.loads(text)
            if data.get("@type") == "Product":
                self.products += 1
                yield {"name": data.get("name"), "price": data.get("offers", {}).get("price")}

    def on_closed(self, spider):
        self.closed_at = time.perf_counter()


def main() -> int:
    urls = Path(sys.argv[1]).read_text().split()
    overrides = sys.argv[2]
    process = CrawlerProcess(
        {
            "LOG_LEVEL": "WARNING",
            "ROBOTSTXT_OBEY": True,
            # The concurrency of Obsrv's throttle-off crawl (crawler.runner.scrapy_settings, crawler.spiders.base):
            # 4 requests at a time in each host's slot, no delay, and an engine that never holds a request back
            # (CONCURRENT_REQUESTS as the crawler process sets it at OBSRV_CRAWL_CONCURRENCY=1000).
            "CONCURRENT_REQUESTS": max(64, 1000 * MAX_WINDOW + 64),
            "CONCURRENT_REQUESTS_PER_DOMAIN": 4,
            "CONCURRENT_ITEMS": 8,  # same tuning as the real crawl, so the ratio measures extraction + pipelines
            "DOWNLOAD_DELAY": 0,
            "COOKIES_ENABLED": False,
            "TELNETCONSOLE_ENABLED": False,
            "REMOTE_CONTROL_ENABLED": False,
            "TWISTED_DNS_RESOLVER": "crawler.dns.GuardedResolver",
            "OBSRV_DNS_OVERRIDES": overrides,
            "OBSRV_ALLOW_PRIVATE_TARGETS": True,
            "ITEM_PIPELINES": {},
        }
    )
    crawler = process.create_crawler(BareSpider)
    process.crawl(crawler, urls=urls)
    gc.freeze()  # the same process tuning as crawler.runner, so the ratio
    gc.set_threshold(20_000, 50, 100)  # measures extraction + pipelines + Postgres only
    process.start()
    spider = crawler.spider
    print(
        json.dumps(
            {"pages": spider.pages, "products": spider.products, "seconds": round(spider.closed_at - spider.first, 3)}
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
