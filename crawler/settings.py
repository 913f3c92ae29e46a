"""Scrapy settings of Obsrv's crawler. Order is data: middlewares and pipelines are listed once, spaced by 100.

Per-deployment values (User-Agent, timeouts, concurrency) are layered on top by
:func:`crawler.runner.scrapy_settings`; per-website ones (rate, render_js, selectors) travel with each
crawl (crawler.spiders.base.Crawl) and its download slot (crawler.manager.CrawlManager._pace).
Defaults that are also deployment settings come from core.settings, their one place.
"""

from core.settings import default

BOT_NAME = "obsrv"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

USER_AGENT = default("OBSRV_USER_AGENT")
ROBOTSTXT_OBEY = True
ROBOTSTXT_USER_AGENT = "Obsrv"

# Politeness: one slot per website domain (requests carry meta["download_slot"]); its delay and
# concurrency come from the crawl_rate_per_minute of the websites crawling it (the stricter wins).
CONCURRENT_REQUESTS = 32  # raised with OBSRV_CRAWL_CONCURRENCY (crawler.runner)
CONCURRENT_REQUESTS_PER_DOMAIN = 1
# A product page gives one item: Scrapy's default of 100 parallel item workers per response only costs.
CONCURRENT_ITEMS = 8
DOWNLOAD_DELAY = 6.0
DOWNLOAD_DELAY_JITTER = 0  # the website's rate is a promise, not an average
AUTOTHROTTLE_ENABLED = False
COOKIES_ENABLED = False
REFERER_ENABLED = False  # product pages are fetched directly; no referrer to leak or compute
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False  # no listening ports in a crawl process

DOWNLOAD_TIMEOUT = default("OBSRV_DOWNLOAD_TIMEOUT")
DOWNLOAD_MAXSIZE = default("OBSRV_DOWNLOAD_MAXSIZE")
DOWNLOAD_WARNSIZE = 0
REDIRECT_MAX_TIMES = 10
RETRY_ENABLED = True
RETRY_TIMES = default("OBSRV_RETRY_TIMES")
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
OBSRV_RETRY_BACKOFF_BASE = default("OBSRV_RETRY_BACKOFF_BASE")
OBSRV_RETRY_BACKOFF_MAX = default("OBSRV_RETRY_BACKOFF_MAX")
OBSRV_PERSIST_BATCH = default("OBSRV_PERSIST_BATCH")
OBSRV_PERSIST_MAX_WAIT = default("OBSRV_PERSIST_MAX_WAIT")

# Every crawl fetches each page once by itself (discovery keeps its own seen-set): a process-wide
# fingerprint set would only grow with every crawl the process has run.
DUPEFILTER_CLASS = "scrapy.dupefilters.BaseDupeFilter"
DEPTH_LIMIT = 0  # discovery counts its own depth (OBSRV_DISCOVERY_MAX_DEPTH)
URLLENGTH_LIMIT = 0  # no silent drops: every request of a crawl ends in its callback or errback

TWISTED_DNS_RESOLVER = "crawler.dns.GuardedResolver"
DNS_TIMEOUT = 10

DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.middlewares.CrawlGateMiddleware": 40,
    "crawler.middlewares.TargetGuardMiddleware": 50,
    "crawler.middlewares.PoliteRobotsTxtMiddleware": 100,
    "crawler.middlewares.BackoffRetryMiddleware": 550,
    "scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware": None,
}

ITEM_PIPELINES = {
    "pipelines.normalize.NormalizePipeline": 100,
    "pipelines.diff.DiffPipeline": 200,
    "pipelines.persist.PersistPipeline": 300,
}

# render_js websites' requests (meta["playwright"]) go through Chromium; others through Scrapy's own
# HTTP handler. The browser starts with the first such request, not with the process.
DOWNLOAD_HANDLERS = {
    "http": "crawler.browser.LazyPlaywrightHandler",
    "https": "crawler.browser.LazyPlaywrightHandler",
}
PLAYWRIGHT_BROWSER_TYPE = "chromium"
PLAYWRIGHT_MAX_PAGES_PER_CONTEXT = 4

# Pages crawled here are HTML product pages; keep responses in memory, never on disk.
HTTPCACHE_ENABLED = False
LOG_LEVEL = "INFO"
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
FEED_EXPORT_ENCODING = "utf-8"
