"""The product spider: one observation per approved product per crawl."""

from __future__ import annotations

from crawler.errors import classify_failure
from crawler.items import ObservationItem
from crawler.spiders.base import ObsrvSpider, connect
from db.queries import crawls as crawls_q


class ProductSpider(ObsrvSpider):
    name = "products"

    def __init__(self, website_id, crawl_run_id=0, kind="scheduled", product_ids=None, **kwargs):
        super().__init__(website_id, crawl_run_id, kind, **kwargs)
        if isinstance(product_ids, str):
            product_ids = [int(x) for x in product_ids.split(",") if x]
        self.product_ids = product_ids or None
        self.products: list[dict] = []
        self.attempted = self.ok = 0

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        with connect(crawler.settings) as conn:
            spider.products = crawls_q.products_to_crawl(conn, spider.website_id, spider.product_ids)
        return spider

    async def start(self):
        for product in self.products:
            yield self.request(product["url"], self.parse_product, meta={"product": product}, dont_filter=True)

    def observation(self, response_or_request, **fields) -> ObservationItem:
        product = response_or_request.meta["product"]
        self.attempted += 1
        return ObservationItem(website_id=self.website_id, product_id=product["id"], crawl_run_id=self.crawl_run_id,
                               observed_at=self.now(), **fields)

    def failed(self, source, url: str, error_type: str, message: str, status: int | None = None):
        product = source.meta["product"]
        self.record_error(url, error_type, message, product["id"])
        return self.observation(source, url=product["url"], ok=False, http_status=status, error_type=error_type,
                                error=message)

    def parse_product(self, response):
        url = response.meta["product"]["url"]
        if not self.is_html(response):
            content_type = response.headers.get("Content-Type", b"").decode("latin-1") or "unknown"
            kind = "http_status" if response.status >= 400 else "parse"
            return self.failed(response, url, kind, f"not an HTML page (HTTP {response.status}, {content_type})",
                               response.status)
        try:
            product = self.extract(response)
        except Exception as exc:  # an extractor bug must cost one observation, never the product's history
            self.logger.exception(f"extraction failed on {response.url}")
            return self.failed(response, url, "parse", f"extraction failed: {type(exc).__name__}: {exc}",
                               response.status)
        if product.blocked:
            return self.failed(response, url, "blocked", f"block page (HTTP {response.status}): {product.blocked}",
                               response.status)
        if response.status >= 400:
            return self.failed(response, url, "http_status", f"HTTP {response.status}", response.status)
        if not product.is_product:
            return self.failed(response, url, "parse", "no product found on the page", response.status)
        fields = self.product_fields(product, url)
        if self.suspicious(response.meta["product"], product):
            # A price ×5 or ÷5 is more often a glitch (wrong element, a sale banner) than a real change:
            # look once more before anyone is alerted.
            return self.request(url, self.confirm_product, dont_filter=True,
                                meta={"product": response.meta["product"], "first": fields,
                                      "first_status": response.status})
        self.ok += 1
        return self.observation(response, ok=True, http_status=response.status, **fields)

    def suspicious(self, known: dict, product) -> bool:
        before, after = known.get("notified_price"), product.price
        if before is None or after is None or before <= 0 or after <= 0:
            return False
        if known.get("notified_currency") != product.currency:
            return False
        factor = self.settings.getfloat("OBSRV_SUSPICIOUS_FACTOR", 5.0)
        return max(before, after) / min(before, after) >= factor

    def confirm_product(self, response):
        """The re-fetch of a suspicious change: agreeing, it stands; disagreeing, it is flagged and alerts no one."""
        first = response.meta["first"]
        try:
            again = self.extract(response) if self.is_html(response) and response.status < 400 else None
        except Exception:
            again = None
        agrees = again is not None and again.is_product and (again.price, again.currency) == (
            first["price"], first["currency"])
        self.ok += 1
        return self.observation(response, ok=True, http_status=response.meta["first_status"], flagged=not agrees,
                                error=None if agrees else "suspicious price change not confirmed by a re-fetch",
                                **first)

    def on_error(self, failure):
        request = failure.request
        error_type, message = classify_failure(failure)
        return self.failed(request, request.meta["product"]["url"], error_type, message)

    def summary(self) -> dict:
        failed = self.attempted - self.ok
        if self.attempted == 0:
            status = "succeeded"
        elif failed == 0:
            status = "succeeded"
        elif self.ok == 0:
            status = "failed"
        else:
            status = "partially_failed"
        error_type = self.error_types.most_common(1)[0][0] if self.error_types else None
        message = None
        if failed:
            counts = ", ".join(f"{n} {t}" for t, n in self.error_types.most_common())
            message = f"{failed} of {self.attempted} products failed ({counts})"
        return {"status": status, "error_type": error_type, "error_message": message, "error_products": self.errors}
