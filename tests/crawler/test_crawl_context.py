"""A crawl's context and limits, built the way the crawler builds them (no process needed)."""

from core.settings import load_settings
from crawler.spiders.discovery import DiscoveryCrawl
from crawler.spiders.products import ProductCrawl


def product_crawl(n, rate, **settings):
    products = [{"id": i, "url": f"http://shop.test/p/{i}"} for i in range(n)]
    return ProductCrawl(
        products=products,
        work={"id": 1, "kind": "scheduled"},
        run={"id": 1},
        website={"id": 1, "domain": "shop.test:8080", "crawl_rate_per_minute": rate},
        settings={**load_settings({}), **settings},
    )


def test_time_limit_follows_size_and_rate():
    assert product_crawl(100, 1).time_limit() == 2 * 100 * 60.0  # 100 products at 1/min can finish
    assert product_crawl(10, 10).time_limit() == 3600  # small crawls: OBSRV_CRAWL_TIMEOUT
    assert product_crawl(100, 1, OBSRV_CRAWL_THROTTLE=False).time_limit() == 3600


def test_a_crawl_keeps_at_most_its_window_in_scrapy():
    crawl = product_crawl(100, 10)
    crawl.spider = type("Spider", (), {"on_response": print, "on_failure": print})()
    first = list(crawl.refill())
    assert len(first) == crawl.window == 2 and crawl.outstanding == 2
    assert [r.meta["product"]["id"] for r in first] == [0, 1]
    assert {r.meta["download_slot"] for r in first} == {"shop.test:8080"}
    assert list(crawl.refill()) == []  # full: the rest waits in the frontier
    crawl.outstanding -= 1
    assert [r.meta["product"]["id"] for r in crawl.refill()] == [2]
    crawl.stop("time limit")
    crawl.outstanding = 0
    assert list(crawl.refill()) == []  # stopped: nothing more is fetched


def test_discovery_budget_and_depth():
    crawl = DiscoveryCrawl(
        identities={},
        work={"id": 1, "kind": "discovery"},
        run={"id": 1},
        website={"id": 1, "domain": "shop.test", "crawl_rate_per_minute": 10, "seed_urls": ["http://shop.test/"]},
        settings={**load_settings({}), "OBSRV_DISCOVERY_MAX_PAGES": 3, "OBSRV_DISCOVERY_MAX_DEPTH": 1},
    )
    crawl.spider = type("Spider", (), {"on_response": print, "on_failure": print})()
    crawl.window = 10
    crawl.visit("http://shop.test/a#top", "parse_page", depth=1)
    crawl.visit("http://shop.test/a", "parse_page", depth=1)  # the same page: once
    crawl.visit("http://shop.test/deep", "parse_page", depth=2)  # beyond the depth limit
    crawl.visit("http://shop.test/b", "parse_page", depth=1)
    urls = [r.url for r in crawl.refill()]
    assert urls == ["http://shop.test/robots.txt", "http://shop.test/", "http://shop.test/a"]  # 3 pages at most
