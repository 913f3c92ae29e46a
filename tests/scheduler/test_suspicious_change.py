"""A price moving ×5 or more is re-fetched once before any alert; if the re-fetch disagrees, it is flagged."""

from __future__ import annotations

import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.support.crawling import run_crawl
from tests.support.factories import approve_products, make_website
from tests.support.shop import fixtures_dir

PAGE = (fixtures_dir() / "books-toscrape" / "catalogue" / "a-light-in-the-attic_1000" / "index.html").read_text()


class FlakyPage:
    """Serves the product page with the prices given, one per request, the last one from then on."""

    def __init__(self, *prices: str):
        self.prices = list(prices)
        self.hits = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                if self.path == "/robots.txt":
                    body = b"User-agent: *\n"
                else:
                    owner.hits += 1
                    price = owner.prices.pop(0) if len(owner.prices) > 1 else owner.prices[0]
                    body = PAGE.replace("£51.77", f"£{price}").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/p/attic.html"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def baseline(db, page):
    website_id = make_website(db, [page.url], status="active")
    db.execute("UPDATE websites SET webhook_url = 'http://127.0.0.1:9/hook' WHERE id = %s", (website_id,))
    [product] = approve_products(db, website_id, [page.url])
    assert run_crawl(website_id, "baseline")["status"] == "succeeded"
    return website_id, product


@pytest.mark.parametrize("prices, confirmed", [
    (("51.77", "517.70", "517.70"), True),    # ×10, and the re-fetch agrees: a real change
    (("51.77", "517.70", "51.77"), False),    # ×10, but the re-fetch shows the old price: a glitch
])
def test_suspicious_change_is_confirmed_by_one_refetch(db, crawl_env, prices, confirmed):
    page = FlakyPage(*prices)
    try:
        website_id, product = baseline(db, page)
        run_crawl(website_id, "scheduled")
    finally:
        page.close()
    assert page.hits == 3  # baseline, the suspicious fetch, the re-fetch
    events = db.execute("SELECT type, after FROM change_events WHERE product_id = %s", (product,)).fetchall()
    last = db.execute("SELECT price, flagged FROM observations WHERE product_id = %s ORDER BY observed_at DESC, id DESC "
                      "LIMIT 1", (product,)).fetchone()
    state = db.execute("SELECT price, notified_price FROM products WHERE id = %s", (product,)).fetchone()
    if confirmed:
        assert [e["type"] for e in events] == ["price_changed"] and events[0]["after"]["price"] == "517.70"
        assert last == {"price": Decimal("517.70"), "flagged": False}
        assert state == {"price": Decimal("517.70"), "notified_price": Decimal("517.70")}
    else:
        assert events == []
        assert last == {"price": Decimal("517.70"), "flagged": True}
        assert state == {"price": Decimal("51.77"), "notified_price": Decimal("51.77")}
