"""One website's crawl inside the crawler process: its context, built once, and its page handlers.

The crawler process runs one Scrapy engine and one spider (:class:`crawler.spiders.obsrv.ObsrvSpider`)
for every website it crawls at the same time. Each website's crawl is a :class:`Crawl`: the website row,
its approved products with their last notified state (or the known product identities, for discovery),
the deployment's settings, its crawl run, and a frontier of pages still to fetch. The manager
(:mod:`crawler.manager`) builds it once, when it claims the crawl work.

A crawl keeps at most ``window`` requests in Scrapy at a time (one in flight and one waiting in its
download slot is enough to keep its rate exact); the rest waits in its frontier. So Scrapy's
scheduler holds a few requests per website, a stopped crawl has almost nothing to cancel, and memory
follows the number of crawls running, not the number of pages they will fetch.

Every request and every item of a crawl is counted in ``open`` while Scrapy has it; when it falls to
zero the crawl is over (see CrawlManager.track).
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter
from datetime import UTC, datetime
from urllib.parse import urlsplit

import scrapy

from crawler.extract import analyze, extract_product
from crawler.items import ProductFields

#: Non-2xx statuses handed to callbacks (after retries), so block pages can be told from errors.
#: 3xx stay with RedirectMiddleware.
HANDLED_STATUSES = list(range(400, 600))
ERROR_SAMPLE = 100


class Crawl:
    """A crawl of one website. Subclasses: ProductCrawl, DiscoveryCrawl."""

    kind_name = ""

    def __init__(self, *, work: dict, website: dict, run: dict, settings: dict, spider=None):
        self.work = work
        self.website = website
        self.run_id: int = run["id"]
        self.kind: str = work["kind"]
        self.settings = settings
        self.spider = spider
        self.domain: str = website["domain"]
        self.host = self.domain.rsplit(":", 1)[0] if self.domain.count(":") == 1 else self.domain
        throttle = settings["OBSRV_CRAWL_THROTTLE"]
        self.delay = 60.0 / website["crawl_rate_per_minute"] if throttle else 0.0
        self.slot_concurrency = 1 if throttle else 4
        self.window = self.slot_concurrency + 1
        self.deadline = float("inf")  # set when the crawl starts (CrawlManager._open)
        # what Scrapy holds of this crawl, and how it ends
        self.open = 0  # requests and items in Scrapy
        self.outstanding = 0  # requests in Scrapy
        self.pages = 0  # responses received
        self.stopped: str | None = None  # why it stops early (time limit, shutdown), if it does
        self.hand_back = False  # stopped by a shutdown: the work goes back to the queue
        self.finishing = False
        self.persist_error: str | None = None
        self.persist_lost = 0  # this crawl's results Postgres never took (PersistPipeline)
        self.errors: list[dict] = []
        self.error_types: Counter = Counter()
        self._frontier: list = []
        self._order = itertools.count()

    # -- size, time limit ---------------------------------------------------------------------------------
    def expected_pages(self) -> int:
        raise NotImplementedError

    def time_limit(self) -> float:
        """At least OBSRV_CRAWL_TIMEOUT; twice the crawl's paced duration when that is longer."""
        return max(float(self.settings["OBSRV_CRAWL_TIMEOUT"]), 2.0 * self.expected_pages() * self.delay)

    # -- the frontier ---------------------------------------------------------------------------------------
    def follow(self, url: str, handler: str, *, priority: int = 0, **meta) -> None:
        """Queue a page of this crawl; it becomes a request when the crawl's window has room."""
        heapq.heappush(self._frontier, (-priority, next(self._order), url, handler, meta))

    def refill(self):
        """Requests for the frontier's best pages, up to the window."""
        while self._frontier and self.outstanding < self.window and not self.stopped and self.may_fetch():
            _prio, _n, url, handler, meta = heapq.heappop(self._frontier)
            yield self.request(url, handler, priority=-_prio, **meta)

    def may_fetch(self) -> bool:
        return True

    def request(self, url: str, handler: str, *, priority: int = 0, errback: str = "on_error", **meta):
        meta = {
            "crawl": self,
            "handler": handler,
            "errback": errback,
            "download_slot": self.domain,
            "handle_httpstatus_list": HANDLED_STATUSES,
            **meta,
        }
        if self.website.get("render_js"):
            meta.setdefault("playwright", True)
        self.open += 1
        self.outstanding += 1
        return scrapy.Request(
            url,
            callback=self.spider.on_response,
            errback=self.spider.on_failure,
            meta=meta,
            priority=priority,
            dont_filter=True,
        )

    def item(self, item):
        self.open += 1
        return item

    def stop(self, reason: str, *, hand_back: bool = False) -> None:
        if not self.stopped:
            self.stopped = reason
            self.hand_back = hand_back
        self._frontier.clear()

    # -- pages ----------------------------------------------------------------------------------------------
    @property
    def selectors(self) -> dict | None:
        return self.website.get("selectors") or None

    def record_error(self, url: str, error_type: str, message: str, product_id: int | None = None) -> None:
        self.error_types[error_type] += 1
        if len(self.errors) < ERROR_SAMPLE:
            entry = {"url": url, "error_type": error_type, "error": message}
            if product_id is not None:
                entry["product_id"] = product_id
            self.errors.append(entry)

    def on_error(self, failure):  # pragma: no cover - each crawl overrides
        raise NotImplementedError

    @staticmethod
    def is_html(response) -> bool:
        content_type = response.headers.get("Content-Type", b"").decode("latin-1").lower()
        return isinstance(response, scrapy.http.TextResponse) and (
            not content_type or "html" in content_type or ("xml" in content_type and "xhtml" in content_type)
        )

    @staticmethod
    def _headers(response) -> dict:
        return {k.decode("latin-1"): v[0].decode("latin-1") for k, v in response.headers.items() if v}

    def extract(self, response):
        """The page's product (extraction cascade only)."""
        return extract_product(
            response.body,
            response.url,
            selectors=self.selectors,
            status=response.status,
            headers=self._headers(response),
        )

    def analyze(self, response):
        """The page's product and what kind of page it is, from one parse (discovery)."""
        return analyze(
            response.body, response.url, self.selectors, status=response.status, headers=self._headers(response)
        )

    @staticmethod
    def product_fields(product, url: str) -> dict:
        return {
            name: getattr(product, name)
            for name in ProductFields.__dataclass_fields__
            if name not in ("url", "identity") and hasattr(product, name)
        } | {"url": url}

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)

    def same_site(self, url: str) -> bool:
        host = (urlsplit(url).hostname or "").lower()
        domain = self.host.lower()
        return host == domain or host.endswith("." + domain)

    # -- the end --------------------------------------------------------------------------------------------
    def summary(self) -> dict:
        """How this crawl ended, for its crawl_runs row."""
        raise NotImplementedError

    def outcome(self) -> dict:
        """The crawl run's final state: the summary, corrected by how the crawl ended."""
        outcome = self.summary()
        if self.persist_error:
            outcome.update(status="failed", error_type="internal", error_message=self.persist_error)
        elif self.hand_back:
            outcome.update(
                status="cancelled",
                error_type=None,
                error_message=f"crawl stopped ({self.stopped}); what was observed is kept and the rest "
                "is crawled again",
            )
        elif self.stopped and outcome["status"] == "succeeded":
            outcome.update(
                status="partially_failed",
                error_type="internal",
                error_message=f"crawl stopped before the end: {self.stopped}",
            )
        elif self.stopped and not outcome.get("error_message"):
            outcome["error_message"] = f"crawl stopped: {self.stopped}"
        return outcome
