"""Scrapy settings of Obsrv's crawler. Order is data: middlewares and pipelines are listed once, spaced by 100.

Per-website and per-deployment values (rate, User-Agent, timeouts, render_js)
are layered on top by :func:`crawler.run.crawl_settings`.
"""

BOT_NAME = "obsrv"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

USER_AGENT = "Obsrv/0.1 (+https://github.com/obsrv/obsrv; price and stock monitor)"
ROBOTSTXT_OBEY = True
ROBOTSTXT_USER_AGENT = "Obsrv"

# Politeness: one slot per website domain (requests carry meta["download_slot"]); its delay and
# concurrency come from the website's crawl_rate_per_minute (DOWNLOAD_SLOTS, set per crawl).
CONCURRENT_REQUESTS = 32
CONCURRENT_REQUESTS_PER_DOMAIN = 1
# A product page gives one item: Scrapy's default of 100 parallel item workers per response only costs.
CONCURRENT_ITEMS = 8
DOWNLOAD_DELAY = 6.0
DOWNLOAD_DELAY_JITTER = 0             # the website's rate is a promise, not an average
AUTOTHROTTLE_ENABLED = False
COOKIES_ENABLED = False
REFERER_ENABLED = False                # product pages are fetched directly; no referrer to leak or compute
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False         # no listening ports in a crawl process

DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 10 * 1024 * 1024
DOWNLOAD_WARNSIZE = 0
REDIRECT_MAX_TIMES = 10
RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
OBSRV_RETRY_BACKOFF_BASE = 2.0
OBSRV_RETRY_BACKOFF_MAX = 60.0

TWISTED_DNS_RESOLVER = "crawler.dns.GuardedResolver"
DNS_TIMEOUT = 10

DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.middlewares.TargetGuardMiddleware": 50,
    "crawler.middlewares.BackoffRetryMiddleware": 550,
    "scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware": None,
}

ITEM_PIPELINES = {
    "pipelines.normalize.NormalizePipeline": 100,
    "pipelines.diff.DiffPipeline": 200,
    "pipelines.persist.PersistPipeline": 300,
}

EXTENSIONS = {
    "crawler.extensions.CrawlRunExtension": 100,
}

# Pages crawled here are HTML product pages; keep responses in memory, never on disk.
HTTPCACHE_ENABLED = False
LOG_LEVEL = "INFO"
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
FEED_EXPORT_ENCODING = "utf-8"
