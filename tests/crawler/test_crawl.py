"""Crawls for real: the crawler process, a shop on 127.0.0.1, Postgres and Redis.

Discovery, baseline, and every kind of bad input ending as a clear crawl-run
error or failed observation, with nothing stored earlier lost.
"""

from __future__ import annotations

import re
import shutil
from decimal import Decimal

import pytest

from core import locks
from core.redis_client import get_redis
from tests.support.crawling import run_crawl
from tests.support.factories import approve_products, last_run, make_website
from tests.support.shop import Shop


@pytest.fixture(scope="module")
def books():
    with Shop.books() as shop:
        yield shop


def test_discovery_finds_every_product_page_and_only_product_pages(db, crawl_env, books):
    books.reset_requests()
    website_id = make_website(db, [books.url("/")])
    result = run_crawl(website_id, "discovery")
    assert result["status"] == "succeeded", last_run(db, website_id)
    rows = db.execute(
        "SELECT url, name, price, currency, availability, discovery_score, status FROM products WHERE website_id = %s",
        (website_id,),
    ).fetchall()
    found = {r["url"] for r in rows}
    expected = {books.url(p) for p in books.product_paths}
    assert expected <= found, f"missing {len(expected - found)} products"
    assert found == expected, f"not products: {sorted(found - expected)[:5]}"
    for row in rows[:50]:
        path = row["url"].split(str(books.port), 1)[1]
        truth = books.expected(path)
        assert (row["name"], row["price"], row["currency"], row["availability"]) == (
            truth["name"],
            truth["price"],
            truth["currency"],
            truth["availability"],
        )
        assert row["status"] == "discovered" and row["discovery_score"] > 0
    website = db.execute("SELECT status FROM websites WHERE id = %s", (website_id,)).fetchone()
    assert website["status"] == "pending_approval"
    assert not any(path.startswith("/private") for _t, _h, _m, path in books.requests), "robots.txt disobeyed"
    run = last_run(db, website_id)
    assert run["kind"] == "discovery" and run["pages_fetched"] > 200 and run["finished_at"]


def test_baseline_records_every_products_price_currency_and_stock(db, crawl_env, books):
    website_id = make_website(db, [books.url("/")], status="active")
    paths = books.product_paths[:100]
    ids = approve_products(db, website_id, [books.url(p) for p in paths])
    result = run_crawl(website_id, "baseline", product_ids=ids)
    assert result["status"] == "succeeded" and result["products_ok"] == 100
    rows = {
        r["url"]: r
        for r in db.execute(
            "SELECT url, name, price, currency, availability, sku, notified_price, notified_availability, sources, "
            "last_observed_at FROM products WHERE website_id = %s",
            (website_id,),
        ).fetchall()
    }
    for path in paths:
        row, truth = rows[books.url(path)], books.expected(path)
        assert row["price"] == truth["price"] and isinstance(row["price"], Decimal)
        assert row["currency"] == "GBP" and row["availability"] == truth["availability"]
        assert row["sku"] == truth["sku"] and row["name"] == truth["name"]
        assert row["notified_price"] == truth["price"]  # the baseline is what the client starts from
        assert row["sources"]["price"] and row["last_observed_at"]
    assert (
        db.execute(
            "SELECT count(*) AS n FROM observations o JOIN products p ON p.id = o.product_id "
            "WHERE p.website_id = %s AND o.ok",
            (website_id,),
        ).fetchone()["n"]
        == 100
    )


def test_bad_pages_are_failed_observations_with_typed_errors_and_nothing_is_lost(db, crawl_env, books):
    paths = books.product_paths[100:108]
    website_id = make_website(db, [books.url("/")], status="active")
    ids = approve_products(db, website_id, [books.url(p) for p in paths])
    assert run_crawl(website_id, "baseline")["status"] == "succeeded"
    before = db.execute(
        "SELECT id, price, availability FROM products WHERE website_id = %s ORDER BY id", (website_id,)
    ).fetchall()

    captcha = (
        b"<html><head><title>Attention Required! | Cloudflare</title></head><body>"
        b"<h1>Please verify you are a human</h1><div class='cf-captcha-container'></div></body></html>"
    )
    books.set_response(paths[0], status=403, body=captcha)
    books.set_response(paths[1], status=503, body=b"<html><body>Service down</body></html>")
    books.set_redirect_loop(paths[2])
    books.set_response(paths[3], status=200, body=b"%PDF-1.4 not a page", headers={"Content-Type": "application/pdf"})
    books.set_large_page(paths[4], size=20 * 1024 * 1024)
    books.set_hang(paths[5])
    books.remove(paths[6])
    books.reset_requests()
    try:
        result = run_crawl(website_id, "scheduled")
    finally:
        for path in paths[:7]:
            books.restore(path)
    assert result["status"] == "partially_failed"
    obs = {
        r["product_id"]: r
        for r in db.execute(
            "SELECT DISTINCT ON (product_id) product_id, ok, error_type, error, http_status FROM observations "
            "WHERE product_id = ANY(%s) ORDER BY product_id, observed_at DESC, id DESC",
            (ids,),
        ).fetchall()
    }
    assert (obs[ids[0]]["ok"], obs[ids[0]]["error_type"]) == (False, "blocked")
    assert (obs[ids[1]]["ok"], obs[ids[1]]["error_type"], obs[ids[1]]["http_status"]) == (False, "http_status", 503)
    assert (obs[ids[2]]["ok"], obs[ids[2]]["error_type"]) == (False, "http_status")
    assert "redirect" in obs[ids[2]]["error"]
    assert (obs[ids[3]]["ok"], obs[ids[3]]["error_type"]) == (False, "parse")
    assert (obs[ids[4]]["ok"], obs[ids[4]]["error_type"]) == (False, "parse")
    assert (obs[ids[5]]["ok"], obs[ids[5]]["error_type"]) == (False, "timeout")
    assert (obs[ids[6]]["ok"], obs[ids[6]]["error_type"], obs[ids[6]]["http_status"]) == (False, "http_status", 404)
    assert obs[ids[7]]["ok"] is True
    # 503 was retried 3 times after the first try
    assert sum(1 for _t, _h, _m, path in books.requests if path == paths[1]) == 4
    # a blocked page is never "out of stock"; the last good state is kept
    after = db.execute(
        "SELECT id, price, availability FROM products WHERE website_id = %s ORDER BY id", (website_id,)
    ).fetchall()
    assert after == before
    run = last_run(db, website_id)
    assert run["products_failed"] == 7 and run["products_ok"] == 1 and run["error_message"]
    assert {e["product_id"] for e in run["error_products"]} == set(ids[:7])


@pytest.mark.parametrize(
    "seed, error_type",
    [
        ("http://127.0.0.1:9/", "network"),  # nothing listens on the discard port
        ("http://no-such-shop.invalid/", "dns"),
    ],
)
def test_unreachable_seeds_fail_discovery_clearly(db, crawl_env, seed, error_type):
    website_id = make_website(db, [seed])
    result = run_crawl(website_id, "discovery")
    assert result["status"] == "failed"
    run = last_run(db, website_id)
    assert run["error_type"] == error_type and run["error_message"]
    website = db.execute("SELECT status, status_reason FROM websites WHERE id = %s", (website_id,)).fetchone()
    assert website["status"] == "failed" and website["status_reason"]


def test_a_site_of_only_404s_fails_discovery(db, crawl_env):
    with Shop.books() as shop:
        for path in ("/", "/index.html", "/robots.txt"):
            shop.remove(path)
        website_id = make_website(db, [shop.url("/")])
        assert run_crawl(website_id, "discovery")["status"] == "failed"
    run = last_run(db, website_id)
    assert run["error_type"] == "http_status"


def test_private_targets_are_refused_by_the_crawler_when_not_allowed(db, crawl_env, books, monkeypatch):
    monkeypatch.setenv("OBSRV_ALLOW_PRIVATE_TARGETS", "false")
    website_id = make_website(db, [books.url("/")])
    assert run_crawl(website_id, "discovery")["status"] == "failed"
    assert last_run(db, website_id)["error_type"] == "dns"
    pinned = make_website(db, ["http://shop.test/"], domain="shop.test")
    monkeypatch.setenv("OBSRV_DNS_OVERRIDES", "shop.test=127.0.0.1")
    assert run_crawl(pinned, "discovery")["status"] == "failed"
    assert "private, loopback" in last_run(db, pinned)["error_message"]


def test_robots_txt_is_obeyed_for_products(db, crawl_env, books):
    website_id = make_website(db, [books.url("/")], status="active")
    [product] = approve_products(db, website_id, [books.url("/private/secret.html")])
    run_crawl(website_id, "scheduled")
    obs = db.execute("SELECT ok, error_type FROM observations WHERE product_id = %s", (product,)).fetchone()
    assert obs == {"ok": False, "error_type": "robots"}


def test_per_domain_rate_spaces_requests(db, crawl_env, books, monkeypatch):
    monkeypatch.setenv("OBSRV_CRAWL_THROTTLE", "true")
    website_id = make_website(db, [books.url("/")], status="active", crawl_rate_per_minute=120)
    approve_products(db, website_id, [books.url(p) for p in books.product_paths[:4]])
    books.reset_requests()
    assert run_crawl(website_id, "scheduled")["status"] == "succeeded"
    times = [t for t, _h, _m, path in books.requests if path.startswith("/catalogue/")]
    assert len(times) == 4
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert min(gaps) >= 0.45, gaps  # 120/minute: one request every 0.5 s, never two at once


def test_a_domain_another_crawler_holds_waits_its_turn(db, crawl_env, services):
    website_id = make_website(db, ["http://127.0.0.1:9/"], status="active")
    redis = get_redis(services.redis_url)
    token = locks.acquire(redis, locks.domain_lock_key("127.0.0.1:9"), 60)
    assert token
    result = run_crawl(website_id, "scheduled")
    assert result["work"] == "queued" and "another crawler holds" in result["note"]
    work = db.execute("SELECT attempts, run_after > now() AS later FROM crawl_work").fetchone()
    assert work == {"attempts": 0, "later": True}  # handed back, tried again later, no attempt spent
    assert db.execute("SELECT count(*) AS n FROM crawl_runs").fetchone()["n"] == 0
    assert locks.release(redis, locks.domain_lock_key("127.0.0.1:9"), token)


def test_work_of_a_paused_website_is_skipped(db, crawl_env):
    website_id = make_website(db, ["http://127.0.0.1:9/"], status="paused")
    result = run_crawl(website_id, "scheduled")
    assert result["work"] == "done" and result["note"] == "skipped: website is paused"
    assert db.execute("SELECT count(*) AS n FROM crawl_runs").fetchone()["n"] == 0


JS_PAGE = """<html><head><title>JS product</title></head><body>
<div class="product"><h1>Rendered Widget</h1><p class="price" id="price"></p>
<p class="availability">In stock</p><form class="cart"><button type="submit">Add to basket</button></form></div>
<script>document.getElementById('price').textContent = '£' + (40 + 2.5).toFixed(2);</script>
</body></html>"""


@pytest.mark.skipif(
    not shutil.which("chromium") and not shutil.os.path.exists("/usr/bin/chromium"),
    reason="Debian's chromium is not installed (.ci/run installs it)",
)
def test_render_js_reads_a_price_written_by_javascript(db, crawl_env, books):
    path = "/js/widget.html"
    books.set_response(path, status=200, body=JS_PAGE.encode())
    try:
        plain = make_website(db, [books.url("/")], status="active", domain="plain.test")
        [plain_id] = approve_products(db, plain, [books.url(path)])
        run_crawl(plain, "scheduled")
        rendered = make_website(db, [books.url("/")], status="active", render_js=True)
        [rendered_id] = approve_products(db, rendered, [books.url(path)])
        result = run_crawl(rendered, "scheduled")
    finally:
        books.restore(path)
    assert result["status"] == "succeeded", last_run(db, rendered)
    without_js = db.execute("SELECT price FROM products WHERE id = %s", (plain_id,)).fetchone()
    with_js = db.execute("SELECT name, price, currency FROM products WHERE id = %s", (rendered_id,)).fetchone()
    assert without_js["price"] is None
    assert with_js == {"name": "Rendered Widget", "price": Decimal("42.50"), "currency": "GBP"}


def test_a_page_of_thousands_of_prices_is_a_failed_reading_not_a_vanished_price(db, crawl_env, books):
    """#12 (9, 10): 10,000 prices in one list is read in linear time (no price can be told apart there),
    and the observation fails as ``parse``: no price_changed event to null, the last good price is kept."""
    [path] = books.product_paths[120:121]
    website_id = make_website(db, [books.url("/")], status="active")
    [product_id] = approve_products(db, website_id, [books.url(path)])
    assert run_crawl(website_id, "baseline")["status"] == "succeeded"
    before = db.execute("SELECT price FROM products WHERE id = %s", (product_id,)).fetchone()["price"]
    rows = "".join(f'<li class="row"><span class="price">£{n % 997}.{n % 100:02d}</span></li>' for n in range(10_000))
    page = (
        f"<html><head><title>Prices</title></head><body><div><h1>Price list</h1><p class='instock'>In stock</p>"
        f"<ul>{rows}</ul></div></body></html>"
    ).encode()
    books.set_response(path, status=200, body=page)
    try:
        result = run_crawl(website_id, "scheduled")
    finally:
        books.restore(path)
    assert result["status"] == "failed"
    [obs] = db.execute(
        "SELECT ok, error_type, error FROM observations WHERE product_id = %s AND NOT ok", (product_id,)
    ).fetchall()
    assert (obs["ok"], obs["error_type"], obs["error"]) == (False, "parse", "no price could be told apart on the page")
    assert db.execute("SELECT price FROM products WHERE id = %s", (product_id,)).fetchone()["price"] == before
    assert (
        db.execute("SELECT count(*) AS n FROM change_events WHERE product_id = %s", (product_id,)).fetchone()["n"] == 0
    )


def test_discovery_follows_links_and_pagination_on_a_shop_with_a_port(db, crawl_env, books):
    """#12 (1, 2): no sitemap, a shop on a port, a listing of 10 pages joined by "next" links: every product
    is offered (pagination does not spend depth), and the run says how much of the page budget it used."""
    books.set_response(
        "/robots.txt", status=200, body=b"User-agent: *\nDisallow: /private/\n", headers={"Content-Type": "text/plain"}
    )
    try:
        website_id = make_website(db, [books.url("/catalogue/page-1.html")])
        result = run_crawl(website_id, "discovery")
    finally:
        books.restore("/robots.txt")
    assert result["status"] == "succeeded", last_run(db, website_id)
    found = {r["url"] for r in db.execute("SELECT url FROM products WHERE website_id = %s", (website_id,))}
    assert found == {books.url(p) for p in books.product_paths}
    run = last_run(db, website_id)
    assert re.match(
        r"fetched \d+ of 500 page\(s\) allowed \(OBSRV_DISCOVERY_MAX_PAGES\); every link within reach was followed",
        run["summary"],
    ), run["summary"]
    assert run["summary"].endswith("200 product page(s) found"), run["summary"]


def test_a_gzip_bomb_is_a_failed_observation_that_says_so(db, crawl_env, books):
    """#12 (19): a small gzip body that inflates past OBSRV_DOWNLOAD_MAXSIZE says what happened."""
    import gzip

    [path] = books.product_paths[121:122]
    website_id = make_website(db, [books.url("/")], status="active")
    [product_id] = approve_products(db, website_id, [books.url(path)])
    bomb = gzip.compress(b"<html><body>" + b" " * (64 * 1024 * 1024) + b"</body></html>", compresslevel=9)
    books.set_response(path, status=200, body=bomb, headers={"Content-Encoding": "gzip"})
    try:
        result = run_crawl(website_id, "baseline")
    finally:
        books.restore(path)
    assert result["status"] == "failed"
    [obs] = db.execute("SELECT ok, error_type, error FROM observations WHERE product_id = %s", (product_id,)).fetchall()
    assert (obs["ok"], obs["error_type"]) == (False, "parse")
    assert obs["error"].startswith(f"compressed page inflates past the download size limit: {len(bomb):,} bytes"), obs
    assert re.search(r"decompressed, limit [\d,]+ \(OBSRV_DOWNLOAD_MAXSIZE\)$", obs["error"]), obs
    assert "Ignored response" not in obs["error"]
