"""The heart of the product, end to end through the real processes:

API → crawl work in Postgres → a real crawler process (`python -m crawler`) → pipelines → Postgres → API.
A shop built from the 200 recorded books.toscrape.com pages is served on 127.0.0.1.
"""

from __future__ import annotations

import pytest

from tests.conftest import bearer
from tests.support.crawling import run_crawler
from tests.support.shop import Shop

pytestmark = pytest.mark.slow


def run_worker(services, timeout=600):
    """A real crawler process, until no crawl work is due."""
    return run_crawler(
        timeout=timeout,
        env=services.env(
            OBSRV_ALLOW_PRIVATE_TARGETS="true",
            OBSRV_CRAWL_THROTTLE="false",
            OBSRV_RETRY_BACKOFF_BASE="0.01",
            OBSRV_LOG_LEVEL="WARNING",
        ),
    )


def test_register_discover_approve_100_and_baseline(make_app, new_client, services, db):
    _cid, key = new_client()
    api = make_app(OBSRV_ALLOW_PRIVATE_TARGETS=True).test_client()
    with Shop.books() as shop:
        registered = api.post(
            "/v1/websites",
            headers=bearer(key),
            json={"name": "Books to Scrape", "seed_urls": [shop.url("/")], "crawl_rate_per_minute": 120},
        )
        assert registered.status_code == 202, registered.get_json()
        website_id = registered.get_json()["id"]
        # a shop that cannot be reached, queued in the same worker's way: it must fail alone
        dead = api.post(
            "/v1/websites", headers=bearer(key), json={"name": "Gone", "seed_urls": ["http://127.0.0.1:9/"]}
        ).get_json()["id"]

        run_worker(services)  # both discoveries, one crawler process
        website = api.get(f"/v1/websites/{website_id}", headers=bearer(key)).get_json()
        assert website["status"] == "pending_approval", website
        gone = api.get(f"/v1/websites/{dead}", headers=bearer(key)).get_json()
        assert gone["status"] == "failed" and "127.0.0.1:9" in gone["status_reason"]

        candidates = []
        for page in (1, 2, 3):
            response = api.get(
                f"/v1/websites/{website_id}/discovered-products?page={page}&page_size=100", headers=bearer(key)
            )
            candidates += response.get_json()
        assert len(candidates) == 200
        assert {c["url"] for c in candidates} == {shop.url(p) for p in shop.product_paths}
        scores = [c["score"] for c in candidates]
        assert scores == sorted(scores, reverse=True)

        chosen = candidates[:100]
        approved = api.post(
            f"/v1/websites/{website_id}/approve-products",
            headers=bearer(key),
            json={"product_ids": [c["id"] for c in chosen]},
        )
        assert approved.status_code == 202, approved.get_json()
        assert approved.get_json()["total_approved"] == 100

        run_worker(services)  # baseline
        products = api.get(f"/v1/products?website_id={website_id}&page_size=100", headers=bearer(key)).get_json()
        assert len(products) == 100
        for product in products:
            truth = shop.expected(product["url"].split(str(shop.port), 1)[1])
            assert product["price"] == f"{truth['price']:.2f}", product
            assert product["currency"] == "GBP"
            assert product["availability"] == truth["availability"], product
            assert product["name"] == truth["name"] and product["sku"] == truth["sku"]
            assert product["last_observed_at"] and product["sources"]["price"]

    runs = db.execute(
        "SELECT kind, status, products_ok FROM crawl_runs WHERE website_id = %s ORDER BY id", (website_id,)
    ).fetchall()
    dead_run = db.execute("SELECT status, error_type FROM crawl_runs WHERE website_id = %s", (dead,)).fetchone()
    assert dead_run == {"status": "failed", "error_type": "network"}
    assert [(r["kind"], r["status"]) for r in runs] == [("discovery", "succeeded"), ("baseline", "succeeded")]
    assert runs[1]["products_ok"] == 100
    in_stock = api.get("/v1/products?availability=InStock&page_size=100", headers=bearer(key)).get_json()
    assert all(p["availability"] == "InStock" for p in in_stock)
