"""Variants for real: a shop page with one offer per size, crawled by the crawler process into Postgres.

What is stored (offers and list price in products and history, amounts as strings) and what alerts: a
stock change only when the offer the product reports changes, never because another size sold out.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.crawler.extract.conftest import CASES_DIR
from tests.support.crawling import baseline_crawled, run_crawl
from tests.support.page_server import PageServer

PATH = "/ie/ribbed-wool-beanie-forest-green-2207.html"
PAGE = (CASES_DIR / "jsonld_product_group_sizes.html").read_text(encoding="utf-8")


class SizesPage(PageServer):
    """The recorded beanie page (sizes S, M, L; S sold out) on 127.0.0.1, with the sizes sold out that a
    test says; the query string (``?size=L``) is the shop's business, the page is the same."""

    path = PATH

    def __init__(self):
        self.sold_out: set[str] = set()
        super().__init__()

    def render(self, port: int) -> str:
        html = PAGE.replace("https://cnocknitwear.example", f"http://127.0.0.1:{port}")
        for size in self.sold_out:
            start = html.index(f'"size": "{size}",\n     "offers": {{')
            end = html.index("}}", start)
            html = html[:start] + html[start:end].replace("schema.org/InStock", "schema.org/OutOfStock") + html[end:]
        return html


@pytest.fixture
def page():
    page = SizesPage()
    yield page
    page.close()


def events_of(db, product_id):
    return db.execute(
        "SELECT type, before, after FROM change_events WHERE product_id = %s ORDER BY id", (product_id,)
    ).fetchall()


def test_offers_are_stored_and_only_the_reported_offer_alerts(db, crawl_env, page):
    website_id, (plain, large) = baseline_crawled(db, [page.url, page.url + "?size=L"])

    rows = {
        r["id"]: r
        for r in db.execute(
            "SELECT id, price, availability, sku, list_price, offers, sources FROM products WHERE website_id = %s",
            (website_id,),
        ).fetchall()
    }
    assert (rows[plain]["price"], rows[plain]["availability"], rows[plain]["sku"]) == (
        Decimal("28.00"),
        "InStock",
        "2207-FG-M",
    )  # S is sold out: the default is M, and the product is in stock
    assert rows[plain]["list_price"] == Decimal("35.00") and rows[plain]["sources"]["offers"] == "jsonld"
    offers = rows[plain]["offers"]
    assert [(o["sku"], o["price"], o["list_price"], o["availability"], o["selected"]) for o in offers] == [
        ("2207-FG-S", "24.00", None, "OutOfStock", False),
        ("2207-FG-M", "28.00", "35.00", "InStock", True),
        ("2207-FG-L", "28.00", "35.00", "InStock", False),
    ]
    assert offers[1]["url"] == page.url + "?size=M" and offers[1]["currency"] == "EUR"
    assert [o["selected"] for o in rows[large]["offers"]] == [False, False, True]
    history = db.execute("SELECT list_price, offers FROM observations WHERE product_id = %s", (plain,)).fetchone()
    assert history == {"list_price": Decimal("35.00"), "offers": offers}

    page.sold_out = {"M"}  # the plain URL's default size, and a size the ?size=L product does not watch
    assert run_crawl(website_id, "manual")["status"] == "succeeded"
    assert events_of(db, plain) == [] and events_of(db, large) == []
    state = db.execute(
        "SELECT availability, sku, notified_availability FROM products WHERE id = %s", (plain,)
    ).fetchone()
    assert state == {"availability": "InStock", "sku": "2207-FG-L", "notified_availability": "InStock"}

    page.sold_out = {"M", "L"}  # the watched size sells out (and with it the last size of all)
    assert run_crawl(website_id, "manual")["status"] == "succeeded"
    [event] = events_of(db, large)
    assert event["type"] == "stock_changed"
    assert event["before"] == {
        "price": "28.00",
        "currency": "EUR",
        "availability": "InStock",
        "list_price": "35.00",
        "sku": "2207-FG-L",
    }
    assert event["after"] == {
        "price": "28.00",
        "currency": "EUR",
        "availability": "OutOfStock",
        "list_price": "35.00",
        "sku": "2207-FG-L",
    }
    # no size left: the plain URL is out of stock at last (and reports the cheapest size, S, now)
    assert [(e["type"], e["after"]["availability"], e["after"]["sku"]) for e in events_of(db, plain)] == [
        ("price_changed", "OutOfStock", "2207-FG-S"),
        ("stock_changed", "OutOfStock", "2207-FG-S"),
    ]
    assert page.hits == 6
