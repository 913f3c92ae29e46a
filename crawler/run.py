"""``python -m crawler.run``: one Scrapy process crawling one or more websites.

The crawl job (scheduler.crawl_job) starts this as a child of the RQ
work-horse, so every crawl gets a fresh process and reactor (Twisted's reactor
cannot be restarted), its memory back at the end, and a hard time limit.

    python -m crawler.run --spider products --website 7 --crawl-run 42 [--products 1,2,3]
    python -m crawler.run --spider discovery --website 7 --crawl-run 41

Several ``--website``/``--crawl-run`` pairs crawl several websites in the same
process (each its own spider, slot and crawl run).
"""

from __future__ import annotations

import argparse
import gc
import logging
import sys

from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.utils.misc import load_object
from scrapy.utils.project import get_project_settings

from crawler.dns import parse_overrides
from db.jsonlog import configure_logging
from db.settings import load_settings

SPIDERS = {"products": "crawler.spiders.products.ProductSpider",
           "discovery": "crawler.spiders.discovery.DiscoverySpider"}


def crawl_settings(settings: dict, website: dict | None = None, *, spider: str = "products"):
    """Scrapy settings for a crawl: the project's, the deployment's, and the website's rate and rendering."""
    s = get_project_settings()
    s.set("DATABASE_URL", settings["DATABASE_URL"])
    s.set("REDIS_URL", settings["REDIS_URL"])
    s.set("USER_AGENT", settings["OBSRV_USER_AGENT"])
    s.set("DOWNLOAD_TIMEOUT", settings["OBSRV_DOWNLOAD_TIMEOUT"])
    s.set("DOWNLOAD_MAXSIZE", settings["OBSRV_DOWNLOAD_MAXSIZE"])
    s.set("RETRY_TIMES", settings["OBSRV_RETRY_TIMES"])
    s.set("OBSRV_RETRY_BACKOFF_BASE", settings["OBSRV_RETRY_BACKOFF_BASE"])
    s.set("OBSRV_ALLOW_PRIVATE_TARGETS", settings["OBSRV_ALLOW_PRIVATE_TARGETS"])
    s.set("OBSRV_DNS_OVERRIDES", parse_overrides(settings["OBSRV_DNS_OVERRIDES"]))
    s.set("OBSRV_DISCOVERY_MIN_SCORE", settings["OBSRV_DISCOVERY_MIN_SCORE"])
    s.set("OBSRV_CRAWL_LOCK_SECONDS", settings["OBSRV_CRAWL_LOCK_SECONDS"])
    s.set("OBSRV_WEBHOOKS_ENABLED", settings["OBSRV_WEBHOOKS_ENABLED"])
    s.set("OBSRV_HEARTBEAT_SECONDS", settings["OBSRV_HEARTBEAT_SECONDS"])
    s.set("OBSRV_SUSPICIOUS_FACTOR", settings["OBSRV_SUSPICIOUS_FACTOR"])
    s.set("CLOSESPIDER_TIMEOUT", settings["OBSRV_CRAWL_TIMEOUT"])
    s.set("LOG_LEVEL", settings["OBSRV_LOG_LEVEL"])
    if spider == "discovery":
        s.set("CLOSESPIDER_PAGECOUNT", settings["OBSRV_DISCOVERY_MAX_PAGES"])
        s.set("DEPTH_LIMIT", settings["OBSRV_DISCOVERY_MAX_DEPTH"])
    if website is not None:
        throttle = settings["OBSRV_CRAWL_THROTTLE"]
        slot = {"concurrency": 1, "delay": 60.0 / website["crawl_rate_per_minute"], "jitter": 0}
        if not throttle:
            slot = {"concurrency": 4, "delay": 0.0, "jitter": 0}
        s.set("DOWNLOAD_SLOTS", {website["domain"]: slot})
        if not throttle:
            s.set("DOWNLOAD_DELAY", 0)
            s.set("CONCURRENT_REQUESTS_PER_DOMAIN", 4)
        if website.get("render_js"):
            s.set("DOWNLOAD_HANDLERS", {
                "http": "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler",
                "https": "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler",
            })
            s.set("PLAYWRIGHT_BROWSER_TYPE", "chromium")
            s.set("PLAYWRIGHT_LAUNCH_OPTIONS", {
                "executable_path": settings["OBSRV_CHROMIUM_PATH"],
                "headless": True,
                "args": ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
            })
            s.set("PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT", settings["OBSRV_DOWNLOAD_TIMEOUT"] * 1000)
            s.set("PLAYWRIGHT_MAX_PAGES_PER_CONTEXT", 4)
    return s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawler.run")
    parser.add_argument("--spider", choices=sorted(SPIDERS), default="products")
    parser.add_argument("--website", type=int, action="append", required=True)
    parser.add_argument("--crawl-run", type=int, action="append", default=[])
    parser.add_argument("--products", default=None, help="comma-separated product ids (products spider)")
    parser.add_argument("--kind", default=None)
    parser.add_argument("--lock-key", default=None)
    parser.add_argument("--lock-token", default=None)
    args = parser.parse_args(argv)
    runs = args.crawl_run or [0] * len(args.website)
    if len(runs) != len(args.website):
        parser.error("give one --crawl-run per --website")

    settings = load_settings()
    configure_logging(settings["OBSRV_LOG_LEVEL"])
    import psycopg
    from psycopg.rows import dict_row

    from db.queries import websites as websites_q

    with psycopg.connect(settings["DATABASE_URL"], row_factory=dict_row) as conn:
        websites = [websites_q.get(conn, website_id) for website_id in args.website]
    missing = [wid for wid, w in zip(args.website, websites) if w is None]
    if missing:
        print(f"error: no website {missing}", file=sys.stderr)
        return 2
    process = None
    crawlers: list[Crawler] = []
    for website, run_id in zip(websites, runs):
        scrapy_settings = crawl_settings(settings, website, spider=args.spider)
        if args.lock_key:
            scrapy_settings.set("OBSRV_LOCK_KEY", args.lock_key)
            scrapy_settings.set("OBSRV_LOCK_TOKEN", args.lock_token)
        if process is None:
            process = CrawlerProcess(scrapy_settings, install_root_handler=False)
        kwargs = {"website_id": website["id"], "crawl_run_id": run_id,
                  "kind": args.kind or ("discovery" if args.spider == "discovery" else "scheduled")}
        if args.spider == "products" and args.products:
            kwargs["product_ids"] = args.products
        # each website its own Crawler, so its own settings (rate, rendering) in the shared process
        crawler = Crawler(load_object(SPIDERS[args.spider]), scrapy_settings, init_reactor=not crawlers)
        crawlers.append(crawler)
        process.crawl(crawler, **kwargs)
    logging.getLogger("scrapy").setLevel(settings["OBSRV_LOG_LEVEL"])
    # A crawl allocates many short-lived objects per page (trees, items, requests): collect the
    # young generation less often and keep start-up objects out of every collection.
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)
    process.start()
    # a crawl that could not even start (its errors are logged) is a failure of this process
    return 0 if all(c.crawling is False and c.stats and c.stats.get_value("finish_reason") for c in crawlers) else 1


if __name__ == "__main__":
    sys.exit(main())
