"""The discovery spider: find a shop's product pages from its seeds, robots.txt sitemaps and links.

Bounded by OBSRV_DISCOVERY_MAX_PAGES (CLOSESPIDER_PAGECOUNT) and
OBSRV_DISCOVERY_MAX_DEPTH (DEPTH_LIMIT). Product pages become candidates
with a preview; listing and category pages are followed, not offered.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from scrapy.linkextractors import LinkExtractor
from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots

from crawler.errors import classify_failure
from crawler.items import CandidateItem
from crawler.spiders.base import ObsrvSpider

SKIP_EXTENSIONS = ["jpg", "jpeg", "png", "gif", "webp", "svg", "ico", "css", "js", "pdf", "zip", "mp4", "mp3",
                   "woff", "woff2", "ttf", "xml", "json", "txt"]
PRODUCT_PRIORITY = 20      # likely product pages (from sitemaps) first, so the page budget finds them


class DiscoverySpider(ObsrvSpider):
    name = "discovery"

    def __init__(self, website_id, crawl_run_id=0, kind="discovery", **kwargs):
        super().__init__(website_id, crawl_run_id, kind, **kwargs)
        self.pages = 0
        self.candidates: set[str] = set()
        self.seed_failures: list[tuple[str, str]] = []

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.min_score = crawler.settings.getfloat("OBSRV_DISCOVERY_MIN_SCORE", 0.5)
        spider.links = LinkExtractor(allow_domains=spider.allowed_domains, deny_extensions=SKIP_EXTENSIONS,
                                     unique=True)
        return spider

    async def start(self):
        seeds = self.website["seed_urls"]
        roots = []
        for seed in seeds:
            parts = urlsplit(seed)
            root = urlunsplit((parts.scheme, parts.netloc, "/robots.txt", "", ""))
            if root not in roots:
                roots.append(root)
        for robots in roots:
            yield self.request(robots, self.parse_robots, errback=self.ignore_error, priority=PRODUCT_PRIORITY + 1,
                               meta={"dont_obey_robotstxt": True})
        for seed in seeds:
            yield self.request(seed, self.parse_page, meta={"seed": True}, dont_filter=True)

    def parse_robots(self, response):
        if response.status != 200:
            return
        for url in sitemap_urls_from_robots(response.text, base_url=response.url):
            if self.same_site(url):
                yield self.request(url, self.parse_sitemap, errback=self.ignore_error, priority=PRODUCT_PRIORITY)

    def parse_sitemap(self, response):
        if response.status != 200:
            return
        try:
            sitemap = Sitemap(response.body)
        except Exception as exc:  # a broken sitemap is skipped, not fatal
            self.record_error(response.url, "parse", f"unreadable sitemap: {exc}")
            return
        for entry in sitemap:
            url = entry.get("loc")
            if not url or not self.same_site(url):
                continue
            if sitemap.type == "sitemapindex":
                yield self.request(url, self.parse_sitemap, errback=self.ignore_error, priority=PRODUCT_PRIORITY)
            else:
                yield self.request(url, self.parse_page, priority=PRODUCT_PRIORITY)

    def parse_page(self, response):
        self.pages += 1
        if response.status >= 400 or not self.is_html(response):
            if response.meta.get("seed"):
                kind = "http_status" if response.status >= 400 else "parse"
                self.seed_failures.append((kind, f"{response.url}: HTTP {response.status}, not a usable HTML page"))
            self.record_error(response.url, "http_status" if response.status >= 400 else "parse",
                              f"HTTP {response.status}")
            return
        try:
            product, page = self.analyze(response)
        except Exception as exc:  # one unreadable page must not end discovery
            self.logger.exception(f"extraction failed on {response.url}")
            self.record_error(response.url, "parse", f"extraction failed: {type(exc).__name__}: {exc}")
            return
        if product.blocked:
            self.record_error(response.url, "blocked", product.blocked)
            if response.meta.get("seed"):
                self.seed_failures.append(("blocked", f"{response.url}: {product.blocked}"))
            return
        if page.kind == "product" and product.is_product and page.score >= self.min_score:
            if response.url not in self.candidates:
                self.candidates.add(response.url)
                yield CandidateItem(website_id=self.website_id, score=round(page.score, 4),
                                    **self.product_fields(product, response.url))
        for link in self.links.extract_links(response):
            yield self.request(link.url, self.parse_page)

    def on_error(self, failure):
        request = failure.request
        error_type, message = classify_failure(failure)
        self.record_error(request.url, error_type, message)
        if request.meta.get("seed"):
            self.seed_failures.append((error_type, f"{request.url}: {message}"))

    def ignore_error(self, failure):
        """robots.txt and sitemaps are optional: their failures do not fail discovery."""
        return None

    def summary(self) -> dict:
        found = len(self.candidates)
        if found:
            status = "partially_failed" if self.errors else "succeeded"
            return {"status": status, "error_type": None if not self.errors else self.error_types.most_common(1)[0][0],
                    "error_message": None if not self.errors else f"{len(self.errors)} page(s) failed",
                    "error_products": self.errors, "candidates": found}
        if self.seed_failures:
            error_type, message = self.seed_failures[0]
            message = f"no seed URL could be crawled: {message}"
        elif self.error_types:
            error_type = self.error_types.most_common(1)[0][0]
            message = f"no product pages found; {len(self.errors)} page(s) failed"
        else:
            error_type, message = "parse", f"no product pages found in {self.pages} page(s)"
        return {"status": "failed", "error_type": error_type, "error_message": message,
                "error_products": self.errors, "candidates": 0}
