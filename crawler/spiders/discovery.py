"""The discovery crawl: find a shop's product pages from its seeds, robots.txt sitemaps and links.

Bounded by OBSRV_DISCOVERY_MAX_PAGES (requests issued) and OBSRV_DISCOVERY_MAX_DEPTH (link depth
from the seeds; sitemap entries count as depth 1). Product pages become candidates with a preview;
listing and category pages are followed, not offered.

The page budget goes first to sitemap entries, then to product-shaped links, then to pagination
("next" links, ``rel=next``, numbered pages), then to everything else. Following pagination does not
spend depth: page 10 of a category is as near the seed as page 1. Links are the site's own by host
name (any port: a shop on ``:8080`` links to itself with its port). The run's ``summary`` says how
much of the budget was used and why discovery stopped.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urljoin, urlsplit, urlunsplit

from scrapy.linkextractors import LinkExtractor
from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots

from crawler.errors import classify_failure
from crawler.extract.classify import product_shaped_url
from crawler.items import CandidateItem
from crawler.spiders.base import Crawl

log = logging.getLogger("obsrv.crawl")

SKIP_EXTENSIONS = [
    "jpg",
    "jpeg",
    "png",
    "gif",
    "webp",
    "svg",
    "ico",
    "css",
    "js",
    "pdf",
    "zip",
    "mp4",
    "mp3",
    "woff",
    "woff2",
    "ttf",
    "xml",
    "json",
    "txt",
]
PRODUCT_PRIORITY = 20  # likely product pages (from sitemaps) first, so the page budget finds them
PRODUCT_LINK_PRIORITY = 12  # then product-shaped links
PAGINATION_PRIORITY = 11  # then the next pages of listings
_NEXT_TEXT_RE = re.compile(
    r"(?i)\s*(?:next|next page|more products|weiter|nächste(?: seite)?|suivant|suivante|page suivante|siguiente"
    r"|successiv[ao]|avanti|volgende|następna|dalej|další|következő|seuraava|nästa|neste|næste|далее|следующая"
    r"|下一页|下一頁|次へ|次のページ|다음)?\s*[›»>→]*\s*"
)
_PAGE_URL_RE = re.compile(r"(?i)[?&](?:page|p|pg|paged|pagina|seite|strona|sayfa)=\d+|/page[-/]?\d+|page-\d+\.html?$")


class DiscoveryCrawl(Crawl):
    """Finds a website's product pages; bounded by OBSRV_DISCOVERY_MAX_PAGES and OBSRV_DISCOVERY_MAX_DEPTH."""

    kind_name = "discovery"

    def __init__(self, *, identities: dict[str, str], **kwargs):
        super().__init__(**kwargs)
        self.identities = identities  # identity -> url of the website's products: each offered once
        self.max_pages = int(self.settings["OBSRV_DISCOVERY_MAX_PAGES"])
        self.max_depth = int(self.settings["OBSRV_DISCOVERY_MAX_DEPTH"])
        self.min_score = float(self.settings["OBSRV_DISCOVERY_MIN_SCORE"])
        # no allow_domains: Scrapy compares it with the URL's netloc, port included ("shop:8080" != "shop")
        self.links = LinkExtractor(deny_extensions=SKIP_EXTENSIONS, unique=True)
        self.beyond_depth = 0
        self.dead_links = 0
        self.disallowed = 0
        self.pages_parsed = 0
        self.issued = 0
        self.seen: set[str] = set()
        self.candidates: set[str] = set()
        self.seed_failures: list[tuple[str, str]] = []
        seeds = self.website["seed_urls"]
        roots = []
        for seed in seeds:
            parts = urlsplit(seed)
            root = urlunsplit((parts.scheme, parts.netloc, "/robots.txt", "", ""))
            if root not in roots:
                roots.append(root)
        for robots in roots:
            self.follow(
                robots, "parse_robots", errback="ignore_error", priority=PRODUCT_PRIORITY + 1, dont_obey_robotstxt=True
            )
        for seed in seeds:
            self.seen.add(seed)
            self.follow(seed, "parse_page", seed=True, obsrv_depth=0)

    def expected_pages(self) -> int:
        return self.max_pages

    def may_fetch(self) -> bool:
        return self.issued < self.max_pages

    def request(self, url, handler, **kwargs):
        self.issued += 1
        return super().request(url, handler, **kwargs)

    def visit(self, url: str, handler: str, *, depth: int, priority: int = 0, **meta) -> None:
        """Follow a page of the site once (fragments aside), within the depth limit."""
        url = url.split("#", 1)[0]
        if url in self.seen:
            return
        if depth > self.max_depth:
            self.beyond_depth += 1
            return
        self.seen.add(url)
        self.follow(url, handler, priority=priority, obsrv_depth=depth, **meta)

    def parse_robots(self, response):
        if response.status != 200:
            return
        for url in sitemap_urls_from_robots(response.text, base_url=response.url):
            if self.same_site(url):
                self.visit(url, "parse_sitemap", depth=0, errback="ignore_error", priority=PRODUCT_PRIORITY)

    def parse_sitemap(self, response):
        if response.status != 200:
            return
        try:
            sitemap = Sitemap(response.body)
        except Exception as exc:  # noqa: BLE001 -- a broken sitemap is skipped, not fatal
            self.record_error(response.url, "parse", f"unreadable sitemap: {exc}")
            return
        for entry in sitemap:
            url = entry.get("loc")
            if not url or not self.same_site(url):
                continue
            if sitemap.type == "sitemapindex":
                self.visit(url, "parse_sitemap", depth=0, errback="ignore_error", priority=PRODUCT_PRIORITY)
            else:
                self.visit(url, "parse_page", depth=1, priority=PRODUCT_PRIORITY)

    def parse_page(self, response):
        self.pages_parsed += 1
        if response.status in (404, 410) and not response.meta.get("seed"):
            self.dead_links += 1  # the shop's broken link, not a failure of discovery (the summary counts them)
            return
        if response.status >= 400 or not self.is_html(response):
            if response.meta.get("seed"):
                kind = "http_status" if response.status >= 400 else "parse"
                self.seed_failures.append((kind, f"{response.url}: HTTP {response.status}, not a usable HTML page"))
            self.record_error(
                response.url, "http_status" if response.status >= 400 else "parse", f"HTTP {response.status}"
            )
            return
        try:
            product, page = self.analyze(response)
        except Exception as exc:  # one unreadable page must not end discovery
            log.exception("extraction failed", extra={"url": response.url, "crawl_run_id": self.run_id})
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
                yield self.item(
                    CandidateItem(
                        website_id=self.website["id"],
                        crawl_run_id=self.run_id,
                        score=round(page.score, 4),
                        **self.product_fields(product, response.url),
                    )
                )
        depth = response.meta.get("obsrv_depth", 0)
        next_pages = {
            urljoin(response.url, href)
            for href in response.xpath("//a[@rel='next']/@href | //link[@rel='next']/@href").getall()
        }
        for link in self.links.extract_links(response):
            if not self.same_site(link.url):
                continue
            if link.url in next_pages or self._is_pagination(link):
                self.visit(link.url, "parse_page", depth=depth, priority=PAGINATION_PRIORITY)
            elif product_shaped_url(link.url):
                self.visit(link.url, "parse_page", depth=depth + 1, priority=PRODUCT_LINK_PRIORITY)
            else:
                self.visit(link.url, "parse_page", depth=depth + 1)

    @staticmethod
    def _is_pagination(link) -> bool:
        text = " ".join((link.text or "").split())
        if text and len(text) <= 30 and _NEXT_TEXT_RE.fullmatch(text):
            return True
        return bool(_PAGE_URL_RE.search(link.url)) and (not text or text.isdigit() or len(text) <= 3)

    def on_error(self, failure):
        request = failure.request
        error_type, message = classify_failure(failure)
        if error_type == "robots" and not request.meta.get("seed"):
            self.disallowed += 1  # a link robots.txt keeps us from: obeyed, not a failure (the summary counts it)
            return
        self.record_error(request.url, error_type, message)
        if request.meta.get("seed"):
            self.seed_failures.append((error_type, f"{request.url}: {message}"))

    def ignore_error(self, failure):
        """robots.txt and sitemaps are optional: their failures do not fail discovery."""
        return None

    def budget_summary(self) -> str:
        """How much of the page budget discovery used, and why it stopped."""
        left = len(self._frontier)
        used = f"fetched {self.issued} of {self.max_pages} page(s) allowed (OBSRV_DISCOVERY_MAX_PAGES)"
        if self.stopped:
            why = f"stopped early: {self.stopped}"
        elif left and self.issued >= self.max_pages:
            why = f"stopped at the page budget with {left} page(s) not visited"
        else:
            why = "every link within reach was followed"
        if self.beyond_depth:
            why += f"; {self.beyond_depth} link(s) deeper than OBSRV_DISCOVERY_MAX_DEPTH={self.max_depth} not followed"
        if self.dead_links:
            why += f"; {self.dead_links} link(s) led to 404/410"
        if self.disallowed:
            why += f"; {self.disallowed} link(s) disallowed by robots.txt"
        return f"{used}; {why}; {len(self.candidates)} product page(s) found"

    def summary(self) -> dict:
        return {**self._outcome(), "summary": self.budget_summary()}

    def _outcome(self) -> dict:
        found = len(self.candidates)
        if found:
            status = "partially_failed" if self.errors else "succeeded"
            return {
                "status": status,
                "error_type": None if not self.errors else self.error_types.most_common(1)[0][0],
                "error_message": None if not self.errors else f"{len(self.errors)} page(s) failed",
                "error_products": self.errors,
                "candidates": found,
            }
        if self.seed_failures:
            error_type, message = self.seed_failures[0]
            message = f"no seed URL could be crawled: {message}"
        elif self.error_types:
            error_type = self.error_types.most_common(1)[0][0]
            message = f"no product pages found; {len(self.errors)} page(s) failed"
        else:
            error_type, message = "parse", f"no product pages found in {self.pages_parsed} page(s)"
        return {
            "status": "failed",
            "error_type": error_type,
            "error_message": message,
            "error_products": self.errors,
            "candidates": 0,
        }
