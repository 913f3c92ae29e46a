"""The product crawl: one observation per approved product per crawl."""

from __future__ import annotations

import logging
from decimal import Decimal

from core.vocabulary import SOLD_OUT
from crawler.errors import classify_failure
from crawler.items import ObservationItem
from crawler.spiders.base import Crawl

log = logging.getLogger("obsrv.crawl")

#: availabilities under which a page may rightly show no price


class ProductCrawl(Crawl):
    """One observation per approved product per crawl (the products and their notified state come with it)."""

    kind_name = "products"

    def __init__(self, *, products: list[dict], **kwargs):
        super().__init__(**kwargs)
        self.products = products
        self.notified = {p["id"]: dict(p) for p in products}  # DiffPipeline's state, per product
        self.threshold = Decimal(str(self.website.get("price_threshold_pct", 1)))
        self.attempted = self.ok = 0
        for product in products:
            self.follow(product["url"], "parse_product", product=product)

    def expected_pages(self) -> int:
        return len(self.products)

    def observation(self, response_or_request, **fields) -> ObservationItem:
        product = response_or_request.meta["product"]
        self.attempted += 1
        return self.item(
            ObservationItem(
                website_id=self.website["id"],
                product_id=product["id"],
                crawl_run_id=self.run_id,
                observed_at=self.now(),
                **fields,
            )
        )

    def failed(self, source, url: str, error_type: str, message: str, status: int | None = None):
        product = source.meta["product"]
        self.record_error(url, error_type, message, product["id"])
        return self.observation(
            source, url=product["url"], ok=False, http_status=status, error_type=error_type, error=message
        )

    def parse_product(self, response):
        url = response.meta["product"]["url"]
        if not self.is_html(response):
            content_type = response.headers.get("Content-Type", b"").decode("latin-1") or "unknown"
            kind = "http_status" if response.status >= 400 else "parse"
            return self.failed(
                response, url, kind, f"not an HTML page (HTTP {response.status}, {content_type})", response.status
            )
        try:
            product = self.extract(response)
        except Exception as exc:  # an extractor bug must cost one observation, never the product's history
            log.exception("extraction failed", extra={"url": response.url, "crawl_run_id": self.run_id})
            return self.failed(
                response, url, "parse", f"extraction failed: {type(exc).__name__}: {exc}", response.status
            )
        if product.blocked:
            return self.failed(
                response, url, "blocked", f"block page (HTTP {response.status}): {product.blocked}", response.status
            )
        if response.status >= 400:
            return self.failed(response, url, "http_status", f"HTTP {response.status}", response.status)
        if not product.is_product:
            return self.failed(response, url, "parse", "no product found on the page", response.status)
        if product.price is None and product.availability not in SOLD_OUT:
            # a listing-like page or a price table: no price told apart is a failed reading, never a price
            # that vanished (a sold-out page may show no price; that is its stock, not a missing price)
            return self.failed(response, url, "parse", "no price could be told apart on the page", response.status)
        fields = self.product_fields(product, url)
        if self.suspicious(response.meta["product"], product):
            # A price ×5 or ÷5 is more often a glitch (wrong element, a sale banner) than a real change:
            # look once more before anyone is alerted.
            self.follow(
                url,
                "confirm_product",
                priority=10,
                product=response.meta["product"],
                first=fields,
                first_status=response.status,
            )
            return None
        self.ok += 1
        return self.observation(response, ok=True, http_status=response.status, **fields)

    def suspicious(self, known: dict, product) -> bool:
        before, after = known.get("notified_price"), product.price
        if before is None or after is None or before <= 0 or after <= 0:
            return False
        if known.get("notified_currency") != product.currency:
            return False
        factor = float(self.settings["OBSRV_SUSPICIOUS_FACTOR"])
        return max(before, after) / min(before, after) >= factor

    def confirm_product(self, response):
        """The re-fetch of a suspicious change: agreeing, it stands; disagreeing, it is flagged and alerts no one."""
        first = response.meta["first"]
        try:
            again = self.extract(response) if self.is_html(response) and response.status < 400 else None
        except Exception:  # noqa: BLE001 -- a second look that fails is no second look
            again = None
        agrees = (
            again is not None
            and again.is_product
            and (again.price, again.currency) == (first["price"], first["currency"])
        )
        self.ok += 1
        return self.observation(
            response,
            ok=True,
            http_status=response.meta["first_status"],
            flagged=not agrees,
            error=None if agrees else "suspicious price change not confirmed by a re-fetch",
            **first,
        )

    def on_error(self, failure):
        request = failure.request
        error_type, message = classify_failure(failure)
        return self.failed(request, request.meta["product"]["url"], error_type, message)

    def summary(self) -> dict:
        failed = self.attempted - self.ok
        if self.attempted == 0 or failed == 0:
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
