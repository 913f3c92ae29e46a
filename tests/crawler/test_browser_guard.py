"""#12 (8): render_js crawls pass the SSRF guard — the page, every redirect hop, every subresource, every lookup.

For real: the crawler process with Chromium (scrapy-playwright), the test shop and an "internal" service, all
on loopback. 127.0.0.1 (the shop) plays a public address (``tests.support.outside``); 127.0.0.2 plays the
deployment's own network, with ``OBSRV_ALLOW_PRIVATE_TARGETS`` off. The internal service is a bare TCP
listener that records every connection: whatever reached it, a request or only a handshake, would show.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
from decimal import Decimal

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.support.crawling import queue, run_crawler
from tests.support.factories import approve_products, last_run, make_website
from tests.support.shop import Shop

pytestmark = pytest.mark.skipif(
    not shutil.which("chromium") and not os.path.exists("/usr/bin/chromium"),
    reason="Debian's chromium is not installed (.ci/run installs it)",
)

INTERNAL = "127.0.0.2"

JS_PRICE = (
    "<div class='product'><h1>Rendered Widget</h1><p class='price' id='price'></p>"
    "<p class='availability'>In stock</p><form class='cart'><button type='submit'>Add to basket</button>"
    "</form></div><script>document.getElementById('price').textContent = '£' + (40 + 2.5).toFixed(2);"
    "</script>"
)


def page(body: str) -> bytes:
    return f"<html><head><title>JS product</title></head><body>{body}</body></html>".encode()


class Internal:
    """A TCP listener on 127.0.0.2 that records each connection's first bytes and answers nothing useful."""

    def __init__(self, port: int = 0):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((INTERNAL, port))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @property
    def authority(self) -> str:
        return f"{INTERNAL}:{self.port}"

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(1.0)
                try:
                    data = conn.recv(200)
                except OSError:
                    data = b""
                self.connections.append(data or b"<connected>")
                try:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nsecret")
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


@pytest.fixture(scope="module")
def books():
    with Shop.books() as shop:
        yield shop


@pytest.fixture
def internal():
    service = Internal()
    yield service
    service.close()


@pytest.fixture
def outside(crawl_env, monkeypatch):
    """Private targets refused, as in production; the shop's 127.0.0.1 counts as a public address."""
    monkeypatch.setenv("OBSRV_ALLOW_PRIVATE_TARGETS", "false")
    monkeypatch.setenv("OBSRV_TEST_PUBLIC_ADDRESSES", "127.0.0.1")


def crawl(website_id: int, kind: str, *, names: dict | None = None) -> tuple[dict, str]:
    """Queue the crawl, run the crawler process (with the outside world's stand-ins), return (run, its log)."""
    job_id = queue(website_id, kind)
    env = dict(os.environ)
    if names:
        env["OBSRV_TEST_NAMES"] = json.dumps(names)
    result = run_crawler(env=env, module="tests.support.outside", timeout=180)
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True, row_factory=dict_row) as conn:
        run = conn.execute(
            "SELECT r.* FROM crawl_runs r JOIN crawl_work w ON w.id = r.work_id WHERE w.job_id = %s "
            "ORDER BY r.id DESC LIMIT 1",
            (job_id,),
        ).fetchone()
    assert run is not None, result.stderr[-3000:]
    return run, result.stderr


def observation(db, product_id: int) -> dict:
    return db.execute(
        "SELECT ok, error_type, error FROM observations WHERE product_id = %s "
        "ORDER BY observed_at DESC, id DESC LIMIT 1",
        (product_id,),
    ).fetchone()


def test_subresources_of_a_rendered_page_never_reach_a_private_address(db, outside, books, internal):
    """(a) images, iframes, stylesheets, fetch (http and https), WebSockets (ws and wss) of the page: refused,
    logged, and the page itself still read."""
    at = internal.authority
    path = "/js/subresources.html"
    books.set_response(
        path,
        body=page(
            JS_PRICE + f"<img src='http://{at}/pixel.png'><iframe src='http://{at}/frame'></iframe>"
            f"<link rel='stylesheet' href='http://{at}/style.css'>"
            f"<script>fetch('http://{at}/api').catch(() => 0); fetch('https://{at}/api').catch(() => 0);"
            f"new WebSocket('ws://{at}/ws'); new WebSocket('wss://{at}/ws');</script>"
        ),
    )
    try:
        website_id = make_website(db, [books.url("/")], status="active", render_js=True)
        [product_id] = approve_products(db, website_id, [books.url(path)])
        run, log = crawl(website_id, "scheduled")
    finally:
        books.restore(path)
    assert internal.connections == []
    assert run["status"] == "succeeded", run
    assert db.execute("SELECT price FROM products WHERE id = %s", (product_id,)).fetchone()["price"] == Decimal("42.50")
    assert "browser request refused" in log and f"{INTERNAL} is a private, loopback or link-local address" in log


@pytest.mark.parametrize("how", ["302 to http", "302 to https", "script"])
def test_a_rendered_page_that_sends_the_browser_to_a_private_address_fails_as_refused(
    db, outside, books, internal, how
):
    """(b) an HTTP redirect (the browser's own hop, which Playwright's interception never sees) or a JS
    location change to the internal service: nothing reaches it, and discovery fails saying why."""
    path = "/go/" + how.replace(" ", "-") + ".html"
    if how == "script":
        books.set_response(path, body=page(f"<script>location.href = 'http://{internal.authority}/admin';</script>"))
    else:
        scheme = how.rsplit(" ", 1)[1]
        books.set_response(path, status=302, body=b"", headers={"Location": f"{scheme}://{internal.authority}/admin"})
    try:
        website_id = make_website(db, [books.url(path)], render_js=True)
        run, _log = crawl(website_id, "discovery")
    finally:
        books.restore(path)
    assert internal.connections == []
    assert run["status"] == "failed"
    assert run["error_type"] == "dns", run
    assert f"{INTERNAL} is a private, loopback or link-local address" in run["error_message"]
    assert db.execute("SELECT status FROM websites WHERE id = %s", (website_id,)).fetchone()["status"] == "failed"


def test_a_name_that_rebinds_to_a_private_address_cannot_reach_it(db, outside, books):
    """(c) DNS rebinding: rebind.test answers the shop's address to the first lookups and the internal one
    afterwards (the internal service listens on the shop's port). The page is fetched from the address that
    was checked, and the later lookups (the page's image) are refused."""
    internal = Internal(books.port)
    try:
        host = f"rebind.test:{books.port}"
        path = "/js/rebind.html"
        books.set_response(path, body=page(JS_PRICE + f"<img src='http://{host}/pixel.png'>"))
        # lookup 1: robots.txt (Scrapy); 2: the page (the browser's proxy); then the image
        names = {"rebind.test": [["127.0.0.1"], ["127.0.0.1"], [INTERNAL]]}
        try:
            website_id = make_website(db, [f"http://{host}/"], status="active", render_js=True, domain=host)
            [product_id] = approve_products(db, website_id, [f"http://{host}{path}"])
            run, log = crawl(website_id, "scheduled", names=names)
        finally:
            books.restore(path)
        assert internal.connections == []
        assert observation(db, product_id)["ok"] is True, last_run(db, website_id)
        assert db.execute("SELECT price FROM products WHERE id = %s", (product_id,)).fetchone()["price"] == Decimal(
            "42.50"
        )
        assert f"rebind.test: {INTERNAL} is a private, loopback or link-local address" in log
    finally:
        internal.close()


def test_an_allowed_rendered_crawl_works_through_the_guard_with_pinned_names(db, outside, books, internal, monkeypatch):
    """(d) with private targets refused, a render_js crawl of a public website works end to end — by a name
    pinned with OBSRV_DNS_OVERRIDES, which the browser honours like the plain crawl does."""
    host = f"js.test:{books.port}"
    path = "/js/widget.html"
    books.set_response(path, body=page(JS_PRICE))
    books.reset_requests()
    monkeypatch.setenv("OBSRV_DNS_OVERRIDES", "js.test=127.0.0.1")
    try:
        website_id = make_website(db, [f"http://{host}/"], status="active", render_js=True, domain=host)
        [product_id] = approve_products(db, website_id, [f"http://{host}{path}"])
        run, _log = crawl(website_id, "scheduled")
    finally:
        books.restore(path)
    assert run["status"] == "succeeded", run
    row = db.execute("SELECT name, price, currency FROM products WHERE id = %s", (product_id,)).fetchone()
    assert row == {"name": "Rendered Widget", "price": Decimal("42.50"), "currency": "GBP"}
    assert any(h == "js.test" and target == path for _t, h, _m, target in books.requests)
    assert internal.connections == []
