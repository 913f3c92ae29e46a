"""A price moving ×5 or more is re-fetched once before any alert; if the re-fetch disagrees, it is flagged."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.support.crawling import baseline_crawled, run_crawl
from tests.support.page_server import PageServer
from tests.support.shop import fixtures_dir

PAGE = (fixtures_dir() / "books-toscrape" / "catalogue" / "a-light-in-the-attic_1000" / "index.html").read_text()


class FlakyPage(PageServer):
    """Serves the product page with the prices given, one per request, the last one from then on."""

    path = "/p/attic.html"

    def __init__(self, *prices: str):
        self.prices = list(prices)
        super().__init__()

    def render(self, port: int) -> str:
        price = self.prices.pop(0) if len(self.prices) > 1 else self.prices[0]
        return PAGE.replace("£51.77", f"£{price}")


def baseline(db, page):
    website_id, [product] = baseline_crawled(db, [page.url], webhook_url="http://127.0.0.1:9/hook")
    return website_id, product


@pytest.mark.parametrize(
    "prices, confirmed",
    [
        (("51.77", "517.70", "517.70"), True),  # ×10, and the re-fetch agrees: a real change
        (("51.77", "517.70", "51.77"), False),  # ×10, but the re-fetch shows the old price: a glitch
    ],
)
def test_suspicious_change_is_confirmed_by_one_refetch(db, crawl_env, prices, confirmed):
    page = FlakyPage(*prices)
    try:
        website_id, product = baseline(db, page)
        run_crawl(website_id, "scheduled")
    finally:
        page.close()
    assert page.hits == 3  # baseline, the suspicious fetch, the re-fetch
    events = db.execute("SELECT type, after FROM change_events WHERE product_id = %s", (product,)).fetchall()
    last = db.execute(
        "SELECT price, flagged FROM observations WHERE product_id = %s ORDER BY observed_at DESC, id DESC LIMIT 1",
        (product,),
    ).fetchone()
    state = db.execute("SELECT price, notified_price FROM products WHERE id = %s", (product,)).fetchone()
    if confirmed:
        assert [e["type"] for e in events] == ["price_changed"] and events[0]["after"]["price"] == "517.70"
        assert last == {"price": Decimal("517.70"), "flagged": False}
        assert state == {"price": Decimal("517.70"), "notified_price": Decimal("517.70")}
    else:
        assert events == []
        assert last == {"price": Decimal("517.70"), "flagged": True}
        assert state == {"price": Decimal("51.77"), "notified_price": Decimal("51.77")}
