"""What Obsrv's spiders share: the website they crawl, its slot, and turning pages into items."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from urllib.parse import urlsplit

import psycopg
import scrapy
from psycopg.rows import dict_row

from crawler.extract import analyze, extract_product
from crawler.items import ProductFields
from db.queries import websites as websites_q

#: Non-2xx statuses handed to callbacks (after retries), so block pages can be told from errors.
#: 3xx stay with RedirectMiddleware.
HANDLED_STATUSES = list(range(400, 600))
ERROR_SAMPLE = 100


def connect(settings) -> psycopg.Connection:
    return psycopg.connect(settings["DATABASE_URL"], autocommit=True, row_factory=dict_row)


class ObsrvSpider(scrapy.Spider):
    """A crawl of one website. Arguments: website_id, crawl_run_id, kind."""

    def __init__(self, website_id, crawl_run_id=0, kind="manual", **kwargs):
        super().__init__(**kwargs)
        self.website_id = int(website_id)
        self.crawl_run_id = int(crawl_run_id or 0)
        self.kind = kind
        self.website: dict = {}
        self.errors: list[dict] = []
        self.error_types: Counter = Counter()

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        with connect(crawler.settings) as conn:
            website = websites_q.get(conn, spider.website_id)
        if website is None:
            raise ValueError(f"website {spider.website_id} does not exist")
        spider.website = website
        spider.allowed_domains = [website["domain"].split(":")[0]]
        return spider

    @property
    def selectors(self) -> dict | None:
        return self.website.get("selectors") or None

    def request(self, url: str, callback, **kwargs) -> scrapy.Request:
        meta = kwargs.pop("meta", {})
        meta.setdefault("download_slot", self.website["domain"])
        meta.setdefault("handle_httpstatus_list", HANDLED_STATUSES)
        if self.website.get("render_js"):
            meta.setdefault("playwright", True)
        return scrapy.Request(url, callback=callback, errback=kwargs.pop("errback", self.on_error), meta=meta,
                              **kwargs)

    def record_error(self, url: str, error_type: str, message: str, product_id: int | None = None) -> None:
        self.error_types[error_type] += 1
        if len(self.errors) < ERROR_SAMPLE:
            entry = {"url": url, "error_type": error_type, "error": message}
            if product_id is not None:
                entry["product_id"] = product_id
            self.errors.append(entry)

    def on_error(self, failure):  # pragma: no cover - each spider overrides
        raise NotImplementedError

    @staticmethod
    def is_html(response) -> bool:
        content_type = response.headers.get("Content-Type", b"").decode("latin-1").lower()
        return isinstance(response, scrapy.http.TextResponse) and (
            not content_type or "html" in content_type or "xml" in content_type and "xhtml" in content_type)

    @staticmethod
    def _headers(response) -> dict:
        return {k.decode("latin-1"): v[0].decode("latin-1") for k, v in response.headers.items() if v}

    def extract(self, response):
        """The page's product (extraction cascade only)."""
        return extract_product(response.body, response.url, selectors=self.selectors, status=response.status,
                               headers=self._headers(response))

    def analyze(self, response):
        """The page's product and what kind of page it is, from one parse (discovery)."""
        return analyze(response.body, response.url, self.selectors, status=response.status,
                       headers=self._headers(response))

    @staticmethod
    def product_fields(product, url: str) -> dict:
        return {name: getattr(product, name) for name in ProductFields.__dataclass_fields__
                if name not in ("url", "identity") and hasattr(product, name)} | {"url": url}

    @staticmethod
    def now() -> datetime:
        return datetime.now(timezone.utc)

    def same_site(self, url: str) -> bool:
        host = (urlsplit(url).hostname or "").lower()
        domain = self.allowed_domains[0].lower()
        return host == domain or host.endswith("." + domain)

    def summary(self) -> dict:
        """How this crawl ended, for its crawl_runs row (see CrawlRunExtension)."""
        raise NotImplementedError
