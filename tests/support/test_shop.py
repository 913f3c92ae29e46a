"""The test shop, checked through real HTTP on 127.0.0.1."""

from __future__ import annotations

import http.client
import json
import re
import socket
import time
from decimal import Decimal
from urllib.parse import urljoin, urlsplit
from xml.etree import ElementTree

import pytest
from parsel import Selector

from tests.support.shop import Shop
from tests.support.waiting import wait_until

HOSTS = ["shop00.test", "shop01.test", "shop02.test"]
SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


@pytest.fixture(scope="module")
def books():
    with Shop.books() as shop:
        yield shop


@pytest.fixture(scope="module")
def gen():
    with Shop.generated(n_products=60, hosts=HOSTS, jsonld=True) as shop:
        yield shop


@pytest.fixture
def fresh_books():
    with Shop.books() as shop:
        yield shop


class Client:
    """One keep-alive connection; requests carry the Host header of the URL."""

    def __init__(self, shop: Shop, timeout: float = 5.0):
        self.shop = shop
        self.conn = http.client.HTTPConnection("127.0.0.1", shop.port, timeout=timeout)

    def request(self, url_or_path: str, method: str = "GET", host: str | None = None, headers=None):
        if url_or_path.startswith("http"):
            parts = urlsplit(url_or_path)
            host_header = parts.netloc
            path = parts.path + (f"?{parts.query}" if parts.query else "")
        else:
            host_header = f"{host or '127.0.0.1'}:{self.shop.port}"
            path = url_or_path
        self.conn.request(method, path, headers={"Host": host_header, **(headers or {})})
        resp = self.conn.getresponse()
        return resp, resp.read()

    def get(self, url_or_path: str, host: str | None = None):
        return self.request(url_or_path, host=host)

    def close(self):
        self.conn.close()


@pytest.fixture
def client(books):
    c = Client(books)
    yield c
    c.close()


def raw_exchange(port: int, payload: bytes, timeout: float = 3.0) -> bytes:
    """Send raw bytes, read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(payload)
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                return b"".join(chunks)
            chunks.append(data)


# --------------------------------------------------------------------------------------------
# HTTP behaviour
# --------------------------------------------------------------------------------------------


def test_keep_alive_serves_many_requests_on_one_connection(books):
    c = Client(books)
    c.get("/")
    sock = c.conn.sock
    for path in books.product_paths[:10] + ["/robots.txt", "/nope", "/sitemap.xml"]:
        resp, body = c.get(path)
        assert not resp.will_close
        assert int(resp.headers["Content-Length"]) == len(body)
        assert c.conn.sock is sock  # no reconnect happened
    c.close()
    port_requests = [r for r in books.requests if r[3] == "/nope"]
    assert port_requests


def test_pipelined_requests_and_connection_close(books):
    path = books.product_paths[0]
    req = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    last = b"GET /robots.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    data = raw_exchange(books.port, req + req + last)  # returns only because the server closed
    assert data.count(b"HTTP/1.1 200 OK\r\n") == 3
    heads = re.findall(rb"HTTP/1\.1 200 OK\r\n(.*?)\r\n\r\n", data, re.S)
    assert b"Connection: close" in heads[-1] and b"Connection: close" not in heads[0]
    assert data.endswith(b"Sitemap: http://127.0.0.1/sitemap.xml\n")


def test_http10_closes_and_request_bodies_are_skipped(books):
    data = raw_exchange(books.port, b"GET /robots.txt HTTP/1.0\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 200 OK") and b"Connection: close" in data
    body = b"x" * 5000
    payload = (
        b"POST /cart HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n"
        + body
        + b"GET /robots.txt HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
        + b"GET /robots.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
    )
    data = raw_exchange(books.port, payload)
    assert data.startswith(b"HTTP/1.1 405 Method Not Allowed")
    assert data.count(b"HTTP/1.1 200 OK") == 2
    assert raw_exchange(books.port, b"garbage\r\n\r\n").startswith(b"HTTP/1.1 400")
    assert raw_exchange(books.port, b"GET / HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 400")  # no Host


def test_head_has_headers_but_no_body(books):
    c = Client(books)
    get, body = c.get(books.product_paths[0])
    head, head_body = c.request(books.product_paths[0], method="HEAD")
    assert head.status == 200 and head_body == b""
    assert head.headers["Content-Length"] == get.headers["Content-Length"] == str(len(body))
    # The connection is still in sync after HEAD.
    resp, body2 = c.get(books.product_paths[0])
    assert body2 == body
    c.close()
    raw = raw_exchange(books.port, b"HEAD /robots.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert raw.endswith(b"\r\n\r\n") and b"User-agent" not in raw


def test_content_types(client):
    assert client.get("/")[0].headers["Content-Type"] == "text/html; charset=utf-8"
    assert client.get(client.shop.product_paths[0])[0].headers["Content-Type"] == "text/html; charset=utf-8"
    assert client.get("/sitemap.xml")[0].headers["Content-Type"] == "application/xml"
    assert client.get("/sitemap-products.xml")[0].headers["Content-Type"] == "application/xml"
    assert client.get("/robots.txt")[0].headers["Content-Type"].startswith("text/plain")
    resp, _ = client.get("/catalogue/no-such-book_1/index.html")
    assert resp.status == 404


def test_recorded_pages_are_served_as_recorded(books, client):
    from tests.support.shop import fixtures_dir

    for path in books.product_paths[:20]:
        resp, body = client.get(path)
        assert body == (fixtures_dir() / "books-toscrape" / path.lstrip("/")).read_bytes()


# --------------------------------------------------------------------------------------------
# Virtual hosts
# --------------------------------------------------------------------------------------------


def test_host_routing_generated(gen):
    c = Client(gen)
    assert gen.hosts == HOSTS
    assert len(gen.all_product_paths) == 60
    for host in HOSTS:
        paths = gen.product_paths_for(host)
        assert len(paths) == 20
        resp, body = c.get(paths[0], host=host)
        assert resp.status == 200
        other = HOSTS[(HOSTS.index(host) + 1) % len(HOSTS)]
        assert c.get(paths[0], host=other)[0].status == 404  # a product lives on its own host only
        assert gen.product_url(paths[0]) == f"http://{host}:{gen.port}{paths[0]}"
    assert c.get("/", host="unknown.test")[0].status == 404
    assert c.get("/", host="SHOP01.TEST.")[0].status == 200  # case and trailing dot ignored
    # 127.0.0.1 gets the first host's site, plus every product page.
    assert gen.product_paths == gen.product_paths_for(HOSTS[0])
    resp, home = c.get("/")
    assert resp.status == 200
    assert c.get(gen.product_paths_for(HOSTS[2])[3])[0].status == 200
    c.close()
    seen = {(h, p) for _, h, _, p in gen.requests}
    assert ("shop01.test", "/") in seen and ("unknown.test", "/") in seen


def test_host_routing_books_serves_every_host(books, client):
    path = books.product_paths[5]
    a = client.get(path, host="shop07.test")[1]
    b = client.get(path)[1]
    assert a == b
    robots = client.get("/robots.txt", host="shop07.test")[1].decode()
    assert f"Sitemap: http://shop07.test:{books.port}/sitemap.xml" in robots
    assert books.url(path, host="shop03.test") == f"http://shop03.test:{books.port}{path}"
    assert books.url(path) == books.base_url + path == f"http://127.0.0.1:{books.port}{path}"


# --------------------------------------------------------------------------------------------
# Site structure
# --------------------------------------------------------------------------------------------


def test_every_breadcrumb_and_category_link_resolves(books, client):
    assert len(books.product_paths) == 200
    targets = set()
    for path in books.product_paths:
        url = books.url(path)
        resp, body = client.get(url)
        assert resp.status == 200
        sel = Selector(text=body.decode("utf-8"))
        links = sel.css("ul.breadcrumb a::attr(href)").getall() + sel.css("header a::attr(href)").getall()
        assert any("/category/books/" in link for link in links)
        targets.update(urljoin(url, link) for link in links)
    assert len(targets) > 30
    for url in sorted(targets):
        assert client.get(url)[0].status == 200, url


def crawl_listings(client: Client, start_url: str) -> tuple[list[str], int]:
    """Follow 'next' links from start_url; return the product URLs seen and the number of pages."""
    url, products, pages = start_url, [], 0
    while url:
        resp, body = client.get(url)
        assert resp.status == 200, url
        pages += 1
        sel = Selector(text=body.decode("utf-8"))
        pods = sel.css("article.product_pod")
        for pod in pods:
            assert pod.css("h3 a::attr(title)").get()
            assert pod.css("p.price_color::text").get().startswith("£")
            assert pod.css("p.availability")
            assert "Add to basket" in pod.css("button::text").get()
        products += [urljoin(url, h) for h in pods.css("h3 a::attr(href)").getall()]
        nxt = sel.css("li.next a::attr(href)").get()
        url = urljoin(url, nxt) if nxt else None
    return products, pages


def test_pagination_reaches_every_product(books, client):
    all_urls = {books.url(p) for p in books.product_paths}
    found, pages = crawl_listings(client, books.url("/"))  # home page 1, then /catalogue/page-2.html ...
    assert pages == 10 and len(found) == 200 and set(found) == all_urls
    found, _ = crawl_listings(client, books.url("/catalogue/page-1.html"))
    assert set(found) == all_urls
    found, _ = crawl_listings(client, books.url("/catalogue/category/books_1/index.html"))
    assert set(found) == all_urls
    # Through the home page's sidebar: every category, every page of it.
    resp, body = client.get("/")
    sel = Selector(text=body.decode())
    cat_links = sel.css(".side_categories ul ul a::attr(href)").getall()
    assert len(cat_links) == 37
    assert "catalogue/page-1.html" in sel.css(".side_categories a::attr(href)").getall()
    by_category = []
    for link in cat_links:
        urls, _ = crawl_listings(client, urljoin(books.url("/"), link))
        assert urls
        by_category += urls
    assert sorted(by_category) == sorted(all_urls)
    assert client.get("/catalogue/page-11.html")[0].status == 404
    assert client.get("/catalogue/category/books/fantasy_19/page-1.html")[0].status == 200


def test_generated_pagination_per_host():
    with Shop.generated(n_products=250, hosts=HOSTS[:2], jsonld=False) as shop:
        c = Client(shop)
        for host in HOSTS[:2]:
            found, pages = crawl_listings(c, shop.url("/", host=host))
            assert pages == 7
            assert set(found) == {shop.url(p, host=host) for p in shop.product_paths_for(host)}
        c.close()


def sitemap_urls(client: Client, base: str) -> list[str]:
    robots = client.get(base + "/robots.txt")[1].decode()
    assert "User-agent: *" in robots and "Disallow: /private/" in robots
    index_url = re.search(r"^Sitemap: (\S+)$", robots, re.M).group(1)
    root = ElementTree.fromstring(client.get(index_url)[1])
    assert root.tag == SM + "sitemapindex"
    urls = []
    for loc in root.iter(SM + "loc"):
        assert loc.text.endswith("/sitemap-products.xml")
        urls += [u.text for u in ElementTree.fromstring(client.get(loc.text)[1]).iter(SM + "loc")]
    return urls


def test_sitemap_lists_every_product(books, gen, client):
    urls = sitemap_urls(client, books.base_url)
    assert sorted(urls) == sorted(books.url(p) for p in books.product_paths)
    urls = sitemap_urls(client, f"http://shop09.test:{books.port}")
    assert sorted(urls) == sorted(books.url(p, host="shop09.test") for p in books.product_paths)
    c = Client(gen)
    for host in HOSTS:
        urls = sitemap_urls(c, f"http://{host}:{gen.port}")
        assert sorted(urls) == sorted(gen.url(p, host=host) for p in gen.product_paths_for(host))
    c.close()


def test_private_area_exists_and_is_linked_only_from_home(books, client):
    resp, body = client.get("/private/")
    assert resp.status == 200
    assert Selector(text=body.decode()).css("a").getall() == []
    home = Selector(text=client.get("/")[1].decode())
    assert "private/" in home.css("footer a::attr(href)").getall()


# --------------------------------------------------------------------------------------------
# Ground truth and scripting
# --------------------------------------------------------------------------------------------


def served_product(client: Client, url: str) -> dict:
    resp, body = client.get(url)
    assert resp.status == 200
    sel = Selector(text=body.decode("utf-8"))
    main = sel.css(".product_main")
    price = main.css(".price_color::text").get()
    availability = " ".join(" ".join(main.css(".availability ::text").getall()).split())
    qty = re.search(r"\((\d+) available\)", availability)
    table = {row.css("th::text").get(): (row.css("td::text").get() or "").strip() for row in sel.css("table tr")}
    assert table["Price (excl. tax)"] == table["Price (incl. tax)"] == price
    assert table["Availability"] == availability
    return {
        "name": main.css("h1::text").get(),
        "price": Decimal(price.lstrip("£")),
        "currency": "GBP" if price.startswith("£") else None,
        "availability": "OutOfStock" if "out of stock" in availability.lower() else "InStock",
        "stock_quantity": int(qty.group(1)) if qty else None,
        "sku": table["UPC"],
        "_jsonld": [json.loads(s) for s in sel.css('script[type="application/ld+json"]::text').getall()],
    }


def check(client: Client, shop: Shop, path: str, url: str | None = None) -> dict:
    served = served_product(client, url or shop.url(path))
    jsonld = served.pop("_jsonld")
    assert served == shop.expected(path)
    return {"jsonld": jsonld}


def test_expected_matches_served_pages_before_and_after_changes(fresh_books):
    shop = fresh_books
    c = Client(shop)
    sample = shop.product_paths[::25]
    for path in sample:
        assert check(c, shop, path)["jsonld"] == []  # the recorded pages have no structured data
    first = shop.expected(sample[0])
    assert first["availability"] == "InStock" and isinstance(first["stock_quantity"], int)
    shop.set_price(sample[0], Decimal("12.34"))
    shop.set_availability(sample[1], in_stock=False)
    shop.set_availability(sample[2], in_stock=True, quantity=3)
    shop.set_availability(sample[3], in_stock=True, show_quantity=False)
    assert shop.expected(sample[0])["price"] == Decimal("12.34")
    assert shop.expected(sample[1])["availability"] == "OutOfStock"
    assert shop.expected(sample[2])["stock_quantity"] == 3
    assert shop.expected(sample[3])["stock_quantity"] is None
    for path in sample:
        check(c, shop, path)
    # Listing pages follow the change too.
    found = Selector(text=c.get("/catalogue/category/books_1/index.html")[1].decode())
    pod = [
        p
        for p in found.css("article.product_pod")
        if p.css("h3 a::attr(href)").get().endswith(sample[0].split("/catalogue/")[1])
    ]
    assert pod and pod[0].css(".price_color::text").get() == "£12.34"
    # Back in stock restores the original count.
    shop.set_availability(sample[1], in_stock=True)
    check(c, shop, sample[1])
    assert shop.expected(sample[1])["stock_quantity"] is not None
    with pytest.raises(KeyError):
        shop.set_price("/not/a/product.html", Decimal("1"))
    c.close()


def test_generated_pages_carry_consistent_jsonld():
    with Shop.generated(n_products=2500, hosts=HOSTS, jsonld=True) as shop:
        c = Client(shop)
        paths = shop.all_product_paths
        assert len(set(paths)) == 2500
        upcs = {shop.expected(p)["sku"] for p in paths}
        assert len(upcs) == 2500
        sample = paths[::311] + [paths[-1]]
        out_of_stock = next(p for p in paths if shop.expected(p)["availability"] == "OutOfStock")
        sample.append(out_of_stock)
        shop.set_price(sample[0], "99.90")
        shop.set_availability(sample[1], in_stock=False)
        shop.set_availability(out_of_stock, in_stock=True, quantity=7)
        for path in sample:
            url = shop.product_url(path)
            jsonld = check(c, shop, path, url)["jsonld"]
            exp = shop.expected(path)
            (data,) = jsonld
            assert data["@type"] == "Product" and data["sku"] == exp["sku"] and data["name"] == exp["name"]
            assert Decimal(data["offers"]["price"]) == exp["price"]
            assert data["offers"]["priceCurrency"] == "GBP"
            assert data["offers"]["availability"] == f"https://schema.org/{exp['availability']}"
        assert shop.expected(sample[0])["price"] == Decimal("99.90")
        assert shop.expected(out_of_stock)["stock_quantity"] == 7
        size = len(c.get(shop.product_url(paths[7]))[1])
        assert 5_000 < size < 20_000
        c.close()


def test_generated_shop_of_5000_products_on_20_hosts():
    shop = Shop.generated(n_products=5000, hosts=[f"shop{i:02d}.test" for i in range(20)], jsonld=True)
    assert len(shop.all_product_paths) == 5000 and len(shop.hosts) == 20
    with shop:
        urls = shop.product_urls()
        assert len(urls) == 5000 and urls[1] == shop.url(shop.all_product_paths[1], host="shop01.test")


def test_custom_responses(fresh_books):
    shop = fresh_books
    c = Client(shop)
    blocked, looping, big, gone = shop.product_paths[:4]
    shop.set_response(blocked, status=403, body=b"<html>Access denied</html>", headers={"X-Block": "yes"})
    resp, body = c.get(blocked)
    assert (resp.status, body, resp.headers["X-Block"]) == (403, b"<html>Access denied</html>", "yes")
    assert c.get(blocked, host="other.test")[0].status == 403  # host=None: on every host

    shop.set_response("/error", status=500, body="boom", headers={"Content-Type": "text/plain"}, host="a.test")
    resp, body = c.get("/error", host="a.test")
    assert (resp.status, body, resp.headers["Content-Type"]) == (500, b"boom", "text/plain")
    assert c.get("/error", host="b.test")[0].status == 404

    shop.set_redirect_loop(looping)
    resp, body = c.get(looping, host="shop05.test")
    assert resp.status == 302
    assert resp.headers["Location"] == f"http://shop05.test:{shop.port}{looping}"

    shop.set_large_page(big, size=3 * 1024 * 1024)
    resp, body = c.get(big)
    assert resp.status == 200 and len(body) == int(resp.headers["Content-Length"]) == 3 * 1024 * 1024
    assert b'class="price_color"' in body[:20000]

    shop.remove(gone)
    assert c.get(gone)[0].status == 404
    assert gone not in "".join(sitemap_urls(c, shop.base_url))
    shop.restore(gone)
    shop.restore(blocked)
    assert c.get(gone)[0].status == 200 and c.get(blocked)[0].status == 200

    shop.set_response("/slow", status=200, body=b"late", delay=0.3)
    start = time.monotonic()
    assert c.get("/slow")[1] == b"late" and time.monotonic() - start >= 0.3
    c.close()


def test_hang_does_not_block_other_requests(fresh_books):
    shop = fresh_books
    shop.set_hang("/hang")
    hanging = socket.create_connection(("127.0.0.1", shop.port))
    try:
        hanging.sendall(b"GET /hang HTTP/1.1\r\nHost: x\r\n\r\n")
        wait_until(lambda: any(r[3] == "/hang" for r in shop.requests), timeout=5, message="/hang to be pending")
        c = Client(shop, timeout=10)
        for path in shop.product_paths[:5]:
            assert c.get(path)[0].status == 200
        c.close()
        hanging.setblocking(False)
        with pytest.raises(BlockingIOError):  # ... answered while /hang still waits for its answer
            hanging.recv(1)
    finally:
        hanging.close()


def test_requests_log(fresh_books):
    shop = fresh_books
    shop.reset_requests()
    c = Client(shop)
    before = time.monotonic()
    c.get("/robots.txt", host="shop02.test")
    c.request(shop.product_paths[0], method="HEAD")
    c.close()
    log = shop.requests
    assert [(h, m, p) for _, h, m, p in log] == [
        ("shop02.test", "GET", "/robots.txt"),
        ("127.0.0.1", "HEAD", shop.product_paths[0]),
    ]
    assert all(before <= t <= time.monotonic() for t, *_ in log)
    shop.reset_requests()
    assert shop.requests == []


def test_stop_frees_the_port():
    shop = Shop.books()
    shop.start()
    port = shop.port
    c = Client(shop)
    assert c.get("/")[0].status == 200  # leave a keep-alive connection open
    shop.set_hang("/hang")
    hanging = socket.create_connection(("127.0.0.1", port))
    hanging.sendall(b"GET /hang HTTP/1.1\r\nHost: x\r\n\r\n")
    wait_until(lambda: any(r[3] == "/hang" for r in shop.requests), timeout=5, message="/hang to be pending")
    shop.stop()  # returns although a request hangs and a keep-alive connection is open
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen()
    hanging.settimeout(1)
    assert hanging.recv(100) == b""  # the server closed the hanging connection
    hanging.close()
    c.close()
    # A stopped shop can be started again (on a new free port).
    with shop:
        assert Client(shop).get("/")[0].status == 200
