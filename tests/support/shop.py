"""A fast, scriptable test shop served over real HTTP/1.1 on 127.0.0.1.

Integration tests, end-to-end tests and benchmarks point real Scrapy spiders at it::

    from tests.support.shop import Shop

    with Shop.books() as shop:              # the 200 recorded books.toscrape.com product pages
        url = shop.url(shop.product_paths[0])
        shop.set_price(shop.product_paths[0], Decimal("12.34"))
        shop.expected(shop.product_paths[0])   # ground truth of what is served now

    with Shop.generated(n_products=5000, hosts=[f"shop{i:02d}.test" for i in range(20)]) as shop:
        ...

The server is a small asyncio HTTP/1.1 server (keep-alive, pipelining, HEAD, request bodies skipped,
``Connection: close`` honoured) running its own event loop in a daemon thread. Pages are rendered
on first request (or all at once by ``shop.warm()``, ~0.1 ms a page) from the product state and kept
as encoded bytes, so serving a page is a dict lookup; any ``set_*`` call drops what it changes and
the next request re-renders it. Listings and sitemaps follow price/stock changes and removals.

Virtual hosts are chosen by the ``Host`` header (port stripped). In ``books()`` every host name gets
the one site. In ``generated()`` each listed host has its own site; ``127.0.0.1`` and ``localhost``
get the first host's site and, in addition, any product page of any host (paths are unique across
hosts), so ``shop.url(path)`` works without a DNS override; other host names get 404.

The fixtures directory is ``<repo>/../shared/fixtures`` unless ``OBSRV_FIXTURES_DIR`` is set. The
fixture files are only read, never written.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import html
import json
import math
import os
import posixpath
import re
import sys
import threading
import time
import traceback
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from email.utils import formatdate
from http import HTTPStatus
from pathlib import Path
from urllib.parse import unquote, urlsplit

__all__ = ["Shop", "fixtures_dir"]

REPO_ROOT = Path(__file__).resolve().parents[2]

HTML = "text/html; charset=utf-8"
XML = "application/xml"
TEXT = "text/plain; charset=utf-8"

PAGE_SIZE = 20  # products per listing page, as on books.toscrape.com
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
SERVER_NAME = "ObsrvTestShop/1.0"
RATING_WORDS = ("Zero", "One", "Two", "Three", "Four", "Five")
_CENT = Decimal("0.01")


def fixtures_dir() -> Path:
    """``$OBSRV_FIXTURES_DIR`` or ``<repo root>/../shared/fixtures``."""
    env = os.environ.get("OBSRV_FIXTURES_DIR")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "fixtures"


def slugify(text: str) -> str:
    """Django-style slug, as books.toscrape.com builds its URLs."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text.lower())
    return re.sub(r"[-\s_]+", "-", text).strip("-")[:100] or "item"


def _money(value: Decimal) -> str:
    return f"£{value:.2f}"


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


# --------------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------------


@dataclass(eq=False)
class _Category:
    slug_id: str  # "fantasy_19"
    name: str

    @property
    def path(self) -> str:
        return f"/catalogue/category/books/{self.slug_id}/index.html"


@dataclass(eq=False)
class _Product:
    path: str
    host: str | None  # the host whose site lists it (None: the single books site)
    name: str
    price: Decimal
    in_stock: bool
    quantity: int | None  # "In stock (N available)"; None: no count shown
    upc: str
    category: _Category
    rating: int
    image: str  # absolute path of the (missing) cover image
    description: str
    template: tuple | None = None  # recorded page: text segments and slot names
    original_quantity: int | None = None
    removed: bool = False
    neighbours: list[_Product] = field(default_factory=list)  # pods on its page (generated)
    shown_on: list[_Product] = field(default_factory=list)  # pages showing its pod
    resp: _Resp | None = None  # cached rendered page

    def expected(self) -> dict:
        return {
            "name": self.name,
            "price": self.price,
            "currency": "GBP",
            "availability": "InStock" if self.in_stock else "OutOfStock",
            "stock_quantity": self.quantity if self.in_stock else None,
            "sku": self.upc,
        }

    def availability_text(self) -> str:
        if not self.in_stock:
            return "Out of stock"
        if self.quantity is None:
            return "In stock"
        return f"In stock ({self.quantity} available)"

    def availability_block(self) -> str:
        """The ``<p class="... availability">`` block, in the exact layout of the recorded pages."""
        css, icon = ("instock", "icon-ok") if self.in_stock else ("outofstock", "icon-remove")
        return (
            f'<p class="{css} availability">\n    <i class="{icon}"></i>\n    \n'
            f"        {self.availability_text()}\n    \n</p>"
        )


class _Site:
    """One virtual host: its products in listing order and its categories."""

    def __init__(self, key: str, host: str | None, products: list[_Product], extra_products=None):
        self.key = key
        self.host = host
        self.products = products
        self.by_path: dict[str, _Product] = {p.path: p for p in products}
        if extra_products:
            for p in extra_products:
                self.by_path.setdefault(p.path, p)
        cats: dict[str, _Category] = {}
        for p in products:
            cats.setdefault(p.category.slug_id, p.category)
        self.categories = sorted(cats.values(), key=lambda c: c.name.lower())
        self.category_by_slug = {c.slug_id: c for c in self.categories}
        self.cache: dict[str, _Resp] = {}  # path -> response
        self.host_cache: dict[tuple[str, str], _Resp] = {}  # (path, Host header) -> response

    def live_products(self, category: _Category | None = None) -> list[_Product]:
        return [p for p in self.products if not p.removed and (category is None or p.category is category)]


# --------------------------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------------------------


class _Resp:
    """A pre-encoded response: head (status line + headers, no Date/Connection, no blank line) and body."""

    __slots__ = ("body", "head", "status")

    def __init__(self, status: int, body: bytes, content_type: str | None = HTML, headers=()):
        if 100 <= status < 200 or status in (204, 304):
            body = b""  # these responses never carry a body
        self.status = status
        self.body = body
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        lines = [f"HTTP/1.1 {status} {reason}", f"Server: {SERVER_NAME}"]
        names = set()
        for name, value in headers:
            names.add(name.lower())
            lines.append(f"{name}: {value}")
        if content_type and "content-type" not in names and (body or status >= 200):
            lines.append(f"Content-Type: {content_type}")
        if not (100 <= status < 200 or status in (204, 304)):
            lines.append(f"Content-Length: {len(body)}")
        self.head = ("\r\n".join(lines) + "\r\n").encode("latin-1")

    @classmethod
    def text(cls, status: int, text: str, content_type: str = HTML, headers=()) -> _Resp:
        return cls(status, text.encode("utf-8"), content_type, headers)


@dataclass
class _Override:
    kind: str  # "response" | "redirect_loop" | "hang" | "gone"
    resp: _Resp | None = None
    delay: float = 0.0
    status: int = 302


_NOT_FOUND_HTML = (
    "<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>"
    "<body><h1>Not Found</h1><p>The requested URL was not found on this server.</p></body></html>\n"
)
_NOT_FOUND = _Resp.text(404, _NOT_FOUND_HTML)
_BAD_REQUEST = _Resp.text(400, "<html><body><h1>400 Bad Request</h1></body></html>\n")
_TOO_LARGE = _Resp.text(431, "<html><body><h1>431 Request Header Fields Too Large</h1></body></html>\n")
_NOT_ALLOWED = _Resp.text(
    405, "<html><body><h1>405 Method Not Allowed</h1></body></html>\n", headers=[("Allow", "GET, HEAD")]
)
_VERSION = _Resp.text(505, "<html><body><h1>505 HTTP Version Not Supported</h1></body></html>\n")
_SERVER_ERROR = _Resp.text(500, "<html><body><h1>500 Internal Server Error</h1></body></html>\n")


# --------------------------------------------------------------------------------------------
# Loading the fixtures
# --------------------------------------------------------------------------------------------

_RE_H1 = re.compile(r"<h1>(.*?)</h1>", re.S)
_RE_PRICE = re.compile(r'<p class="price_color">([^<]*)</p>')
_RE_AVAIL_BLOCK = re.compile(r'<p class="(?:instock|outofstock) availability">.*?</p>', re.S)
_RE_EXCL = re.compile(r"<th>Price \(excl\. tax\)</th>\s*<td>([^<]*)</td>")
_RE_INCL = re.compile(r"<th>Price \(incl\. tax\)</th>\s*<td>([^<]*)</td>")
_RE_AVAIL_TD = re.compile(r"<th>Availability</th>\s*<td>([^<]*)</td>")
_RE_UPC = re.compile(r"<th>UPC</th>\s*<td>([^<]*)</td>")
_RE_BREADCRUMB = re.compile(r'<ul class="breadcrumb">(.*?)</ul>', re.S)
_RE_CATEGORY_LINK = re.compile(r'<a href="\.\./category/books/([^/"]+)/index\.html">([^<]*)</a>')
_RE_STARS = re.compile(r'<p class="star-rating (\w+)">')
_RE_IMAGE = re.compile(r'<div class="item active">\s*<img src="([^"]+)"')
_RE_DESCRIPTION = re.compile(r'<div id="product_description" class="sub-header">.*?</div>\s*<p>(.*?)</p>', re.S)
_RE_QTY = re.compile(r"\((\d+) available\)")


def _parse_price(text: str) -> Decimal:
    return Decimal(re.sub(r"[^\d.]", "", text))


@dataclass(frozen=True)
class _Recorded:
    slug: str
    segments: tuple  # str pieces alternating with slot names ("price", "avail_block", "avail_text")
    name: str
    price: Decimal
    in_stock: bool
    quantity: int | None
    upc: str
    category: tuple[str, str]
    rating: int
    image: str
    description: str


def _parse_recorded(slug: str, text: str) -> _Recorded:
    main = text.index("product_main")
    h1 = _RE_H1.search(text, main)
    price = _RE_PRICE.search(text, main)
    block = _RE_AVAIL_BLOCK.search(text, main)
    excl, incl, avail_td = _RE_EXCL.search(text), _RE_INCL.search(text), _RE_AVAIL_TD.search(text)
    upc = _RE_UPC.search(text)
    crumbs = _RE_BREADCRUMB.search(text)
    cats = _RE_CATEGORY_LINK.findall(crumbs.group(1)) if crumbs else []
    if not (h1 and price and block and upc and cats):
        raise ValueError(f"unexpected layout in recorded page {slug}")
    avail = re.sub(r"<[^>]+>", " ", block.group(0))
    avail = " ".join(avail.split())
    qty = _RE_QTY.search(avail)
    stars = _RE_STARS.search(text, main)
    image = _RE_IMAGE.search(text)
    desc = _RE_DESCRIPTION.search(text)
    slots = [(price.start(1), price.end(1), "price"), (block.start(), block.end(), "avail_block")]
    for m, slot in ((excl, "price"), (incl, "price"), (avail_td, "avail_text")):
        if m:
            slots.append((m.start(1), m.end(1), slot))
    slots.sort()
    segments: list[str] = []
    pos = 0
    for start, end, slot in slots:
        segments.append(text[pos:start])
        segments.append(slot)
        pos = end
    segments.append(text[pos:])
    image_path = posixpath.normpath(posixpath.join(f"/catalogue/{slug}/", image.group(1))) if image else ""
    return _Recorded(
        slug=slug,
        segments=tuple(segments),
        name=html.unescape(h1.group(1).strip()),
        price=_parse_price(price.group(1)),
        in_stock="out of stock" not in avail.lower(),
        quantity=int(qty.group(1)) if qty else None,
        upc=upc.group(1).strip(),
        category=(cats[-1][0], html.unescape(cats[-1][1].strip())),
        rating=RATING_WORDS.index(stars.group(1)) if stars and stars.group(1) in RATING_WORDS else 0,
        image=image_path,
        description=html.unescape(desc.group(1)) if desc else "",
    )


@functools.lru_cache(maxsize=4)
def _load_recorded(root: str) -> tuple[_Recorded, ...]:
    catalogue = Path(root) / "books-toscrape" / "catalogue"
    pages = []
    for page in sorted(catalogue.glob("*/index.html")):
        pages.append(_parse_recorded(page.parent.name, page.read_text(encoding="utf-8")))
    if not pages:
        raise FileNotFoundError(f"no recorded product pages under {catalogue}")
    return tuple(pages)


@functools.lru_cache(maxsize=4)
def _load_data(root: str) -> dict:
    with open(Path(root) / "zyte-ecommerce" / "data.json", encoding="utf-8") as fh:
        return json.load(fh)


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def _rel(from_path: str, to_path: str) -> str:
    """Relative link from the page at ``from_path`` to ``to_path`` (both absolute paths)."""
    base = from_path if from_path.endswith("/") else posixpath.dirname(from_path) + "/"
    rel = posixpath.relpath(to_path, base)
    if to_path.endswith("/") and not rel.endswith("/"):
        rel += "/"
    return rel


def _short_title(name: str) -> str:
    if len(name) <= 40:
        return name
    cut = name[:37].rsplit(" ", 1)[0]
    return cut + " ..."


def _stars() -> str:
    return "".join('\n        <i class="icon-star"></i>' for _ in range(5))


def _pod(p: _Product, from_path: str) -> str:
    href = _esc(_rel(from_path, p.path))
    name = _esc(p.name)
    css, icon = ("instock", "icon-ok") if p.in_stock else ("outofstock", "icon-remove")
    stock = "In stock" if p.in_stock else "Out of stock"
    return f"""
    <li class="col-xs-6 col-sm-4 col-md-3 col-lg-3">
    <article class="product_pod">
        <div class="image_container">
            <a href="{href}"><img src="{_esc(_rel(from_path, p.image))}" alt="{name}" class="thumbnail"></a>
        </div>
        <p class="star-rating {RATING_WORDS[p.rating]}">{_stars()}
        </p>
        <h3><a href="{href}" title="{name}">{_esc(_short_title(p.name))}</a></h3>
        <div class="product_price">
            <p class="price_color">{_money(p.price)}</p>
            <p class="{css} availability">
                <i class="{icon}"></i>
                {stock}
            </p>
            <form>
                <button type="submit" class="btn btn-primary btn-block" data-loading-text="Adding...">Add to basket</button>
            </form>
        </div>
    </article>
    </li>"""


def _head(title: str, from_path: str, extra: str = "", description: str = "") -> str:
    static = _esc(_rel(from_path, "/static/oscar/css/styles.css"))
    desc = f'\n        <meta name="description" content="{_esc(description)}" />' if description else ""
    return f"""<!DOCTYPE html>
<html lang="en-us" class="no-js">
    <head>
        <title>
    {_esc(title)} | Books to Scrape - Sandbox
</title>
        <meta http-equiv="content-type" content="text/html; charset=UTF-8" />{desc}
        <meta name="viewport" content="width=device-width" />
        <meta name="robots" content="NOARCHIVE,NOCACHE" />
        <link rel="stylesheet" type="text/css" href="{static}" />{extra}
    </head>
    <body id="default" class="default">
    <header class="header container-fluid">
        <div class="page_inner">
            <div class="row">
                <div class="col-sm-8 h1"><a href="{_esc(_rel(from_path, "/index.html"))}">Books to Scrape</a><small> We love being scraped!</small>
</div>
            </div>
        </div>
    </header>
    <div class="container-fluid page">
        <div class="page_inner">
"""


_FOOT = """
        </div>
    </div>
    <footer class="footer container-fluid">{extra}
    </footer>
    </body>
</html>
"""

ALL_BOOKS = "/catalogue/category/books_1/index.html"


def _listing_page(
    site: _Site,
    path: str,
    title: str,
    products: list[_Product],
    page: int,
    first_page_path: str,
    crumbs: list[tuple[str, str]],
    footer: str = "",
) -> _Resp | None:
    """Page ``page`` of a listing (``page-N.html`` siblings of ``first_page_path``)."""
    n_pages = max(1, math.ceil(len(products) / PAGE_SIZE))
    if page < 1 or page > n_pages:
        return None
    directory = posixpath.dirname(first_page_path).rstrip("/") + "/"
    chunk = products[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    sidebar = "".join(
        f'\n                    <li><a href="{_esc(_rel(path, c.path))}">{_esc(c.name)}</a></li>'
        for c in site.categories
    )
    crumb_html = "".join(f'\n    <li><a href="{_esc(_rel(path, href))}">{_esc(text)}</a></li>' for href, text in crumbs)
    pager = []
    if page > 1:
        prev = directory + f"page-{page - 1}.html"
        pager.append(f'<li class="previous"><a href="{_esc(_rel(path, prev))}">previous</a></li>')
    pager.append(f'<li class="current">\n            Page {page} of {n_pages}\n        </li>')
    if page < n_pages:
        nxt = (directory if directory != "/" else "/catalogue/") + f"page-{page + 1}.html"
        pager.append(f'<li class="next"><a href="{_esc(_rel(path, nxt))}">next</a></li>')
    start = (page - 1) * PAGE_SIZE + 1 if products else 0
    body = f"""
<ul class="breadcrumb">
    <li><a href="{_esc(_rel(path, "/index.html"))}">Home</a></li>{crumb_html}
    <li class="active">{_esc(title)}</li>
</ul>
<div class="row">
    <aside class="sidebar col-sm-4 col-md-3">
        <div class="side_categories">
            <ul class="nav nav-list">
                <li>
                    <a href="{_esc(_rel(path, ALL_BOOKS))}">Books</a>
                    <ul>{sidebar}
                    </ul>
                </li>
                <li><a href="{_esc(_rel(path, "/catalogue/page-1.html"))}">All products</a></li>
            </ul>
        </div>
    </aside>
    <div class="col-sm-8 col-md-9">
        <div class="page-header action">
            <h1>{_esc(title)}</h1>
        </div>
        <form method="get" class="form-horizontal">
            <strong>{len(products)}</strong> results - showing <strong>{start}</strong> to <strong>{start + len(chunk) - 1 if chunk else 0}</strong>.
        </form>
        <section>
            <div>
                <ol class="row">{"".join(_pod(p, path) for p in chunk)}
                </ol>
                <div>
                    <ul class="pager">
                        {"".join(pager)}
                    </ul>
                </div>
            </div>
        </section>
    </div>
</div>"""
    return _Resp.text(200, _head(title, path) + body + _FOOT.format(extra=footer))


def _render_recorded(p: _Product) -> str:
    values = {"price": _money(p.price), "avail_block": p.availability_block(), "avail_text": p.availability_text()}
    segments = p.template
    return "".join(seg if i % 2 == 0 else values[seg] for i, seg in enumerate(segments))


def _jsonld(p: _Product) -> str:
    offer = {
        "@type": "Offer",
        "url": p.path,
        "price": f"{p.price:.2f}",
        "priceCurrency": "GBP",
        "availability": "https://schema.org/InStock" if p.in_stock else "https://schema.org/OutOfStock",
        "itemCondition": "https://schema.org/NewCondition",
    }
    if p.in_stock and p.quantity is not None:
        offer["inventoryLevel"] = {"@type": "QuantitativeValue", "value": p.quantity}
    data = {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": p.name,
        "description": p.description[:300],
        "sku": p.upc,
        "gtin": None,
        "image": p.image,
        "category": p.category.name,
        "offers": offer,
    }
    del data["gtin"]
    text = json.dumps(data, ensure_ascii=False, indent=2).replace("</", "<\\/")
    return f'\n        <script type="application/ld+json">\n{text}\n        </script>'


def _render_generated(p: _Product, jsonld: bool) -> str:
    path = p.path
    name = _esc(p.name)
    price = _money(p.price)
    pods = "".join(_pod(n, path) for n in p.neighbours)
    extra = _jsonld(p) if jsonld else ""
    desc = p.description
    body = f"""
<ul class="breadcrumb">
    <li>
        <a href="../../index.html">Home</a>
    </li>
    <li>
        <a href="../category/books_1/index.html">Books</a>
    </li>
    <li>
        <a href="../category/books/{p.category.slug_id}/index.html">{_esc(p.category.name)}</a>
    </li>
    <li class="active">{name}</li>
</ul>
<div id="messages">
</div>
<div class="content">
    <div id="promotions">
    </div>
    <div id="content_inner">
<article class="product_page"><!-- Start of product page -->
    <div class="row">
        <div class="col-sm-6">
        <div id="product_gallery" class="carousel">
            <div class="thumbnail">
                <div class="carousel-inner">
                    <div class="item active">
                            <img src="{_esc(_rel(path, p.image))}" alt="{name}" />
                    </div>
                </div>
            </div>
        </div>
        </div>
        <div class="col-sm-6 product_main">
            <h1>{name}</h1>
        <p class="price_color">{price}</p>
{p.availability_block()}
    <p class="star-rating {RATING_WORDS[p.rating]}">{_stars()}
    </p>
            <hr/>
            <div class="alert alert-warning" role="alert"><strong>Warning!</strong> This is a demo website for web scraping purposes. Prices and ratings here were randomly assigned and have no real meaning.</div>
        </div><!-- /col-sm-6 -->
    </div><!-- /row -->
        <div id="product_description" class="sub-header">
            <h2>Product Description</h2>
        </div>
        <p>{_esc(desc)}</p>
    <div class="sub-header">
        <h2>Product Information</h2>
    </div>
    <table class="table table-striped">
        <tr>
            <th>UPC</th><td>{_esc(p.upc)}</td>
        </tr>
        <tr>
            <th>Product Type</th><td>Books</td>
        </tr>
            <tr>
                <th>Price (excl. tax)</th><td>{price}</td>
            </tr>
                <tr>
                    <th>Price (incl. tax)</th><td>{price}</td>
                </tr>
                <tr>
                    <th>Tax</th><td>£0.00</td>
                </tr>
            <tr>
                <th>Availability</th>
                <td>{p.availability_text()}</td>
            </tr>
            <tr>
                <th>Number of reviews</th>
                <td>0</td>
            </tr>
    </table>
        <div class="sub-header">
            <h2>Products you recently viewed</h2>
        </div>
        <ul class="row">{pods}
        </ul>
</article><!-- End of product page -->
    </div>
</div>"""
    return _head(p.name, path, extra, desc[:160]) + body + _FOOT.format(extra="")


# --------------------------------------------------------------------------------------------
# The shop
# --------------------------------------------------------------------------------------------


class Shop:
    """A test shop on 127.0.0.1; build it with :meth:`books` or :meth:`generated`."""

    def __init__(
        self,
        sites: dict[str | None, _Site],
        default_site: _Site,
        local_site: _Site,
        products: list[_Product],
        *,
        jsonld: bool = False,
        unknown_hosts_default: bool = True,
        port: int = 0,
    ):
        self._sites = sites  # host name -> site (None key unused)
        self._default_site = default_site
        self._local_site = local_site
        self._products = products
        self._by_path = {p.path: p for p in products}
        self._jsonld = jsonld
        self._unknown_default = unknown_hosts_default
        self._wanted_port = port
        self._lock = threading.RLock()
        self._log_lock = threading.Lock()
        self._log: list[tuple[float, str, str, str]] = []
        self._overrides: dict[tuple[str | None, str], _Override] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self._port: int | None = None
        self._date_sec = -1
        self._date_line = b""

    # ---- construction ------------------------------------------------------------------

    @classmethod
    def books(cls, *, port: int = 0) -> Shop:
        """The 200 recorded books.toscrape.com product pages plus generated home/listing/category pages."""
        root = str(fixtures_dir())
        categories: dict[str, _Category] = {}
        products = []
        for rec in _load_recorded(root):
            cat = categories.setdefault(rec.category[0], _Category(*rec.category))
            products.append(
                _Product(
                    path=f"/catalogue/{rec.slug}/index.html",
                    host=None,
                    name=rec.name,
                    price=rec.price,
                    in_stock=rec.in_stock,
                    quantity=rec.quantity,
                    upc=rec.upc,
                    category=cat,
                    rating=rec.rating,
                    image=rec.image,
                    description=rec.description,
                    template=rec.segments,
                    original_quantity=rec.quantity,
                )
            )
        # Listing order like the real site: newest (highest id) first.
        products.sort(key=lambda p: -int(p.path.rsplit("_", 1)[1].split("/")[0]))
        site = _Site("books", None, products)
        return cls({}, site, site, products, jsonld=False, unknown_hosts_default=True, port=port)

    @classmethod
    def generated(
        cls,
        n_products: int = 1000,
        hosts: Iterable[str] = ("shop00.test",),
        jsonld: bool = True,
        *,
        port: int = 0,
    ) -> Shop:
        """``n_products`` products from data.json (cycled), spread round-robin over ``hosts``."""
        hosts = [h.lower().rstrip(".") for h in hosts]
        if not hosts:
            raise ValueError("generated() needs at least one host")
        if len(set(hosts)) != len(hosts):
            raise ValueError("duplicate host names")
        data = _load_data(str(fixtures_dir()))
        base = sorted(data["products"], key=lambda x: x["id"])
        cat_names = {c["id"]: c["name"] for c in data["categories"]}
        categories: dict[int, _Category] = {}
        per_host: dict[str, list[_Product]] = {h: [] for h in hosts}
        products = []
        for i in range(n_products):
            src = base[i % len(base)]
            cycle = i // len(base)
            name = src["name"] if cycle == 0 else f"{src['name']} (Edition {cycle + 1})"
            cid = src["category_id"]
            cat = categories.get(cid)
            if cat is None:
                cname = cat_names.get(cid, "Default")
                cat = categories[cid] = _Category(f"{slugify(cname)}_{cid}", cname)
            props = src.get("properties") or {}
            qty = _RE_QTY.search(props.get("Availability", ""))
            upc = props.get("UPC") or hashlib.md5(src["name"].encode()).hexdigest()[:16]
            slug = f"{slugify(src['name'])}_{i + 1}"
            digest = hashlib.md5(slug.encode()).hexdigest()
            host = hosts[i % len(hosts)]
            in_stock = bool(src.get("instock"))
            quantity = int(qty.group(1)) if qty else (1 if in_stock else None)
            p = _Product(
                path=f"/catalogue/{slug}/index.html",
                host=host,
                name=name,
                price=_parse_price(src["price"]),
                in_stock=in_stock,
                quantity=quantity if in_stock else None,
                upc=upc if cycle == 0 else f"{upc}-{cycle}",
                category=cat,
                rating=int(src.get("rating") or 0) % 6,
                image=f"/media/cache/{digest[:2]}/{digest[2:4]}/{digest}.jpg",
                description=src.get("description") or "",
                original_quantity=quantity,
            )
            products.append(p)
            per_host[host].append(p)
        sites: dict[str | None, _Site] = {}
        for h in hosts:
            plist = per_host[h]
            for j, p in enumerate(plist):
                p.neighbours = [plist[(j + k) % len(plist)] for k in range(1, 4) if len(plist) > k]
                for n in p.neighbours:
                    n.shown_on.append(p)
            sites[h] = _Site(h, h, plist)
        default = sites[hosts[0]]
        local = _Site("*local*", hosts[0], default.products, extra_products=products)
        return cls(sites, default, local, products, jsonld=jsonld, unknown_hosts_default=False, port=port)

    # ---- lifecycle ---------------------------------------------------------------------

    def start(self) -> Shop:
        if self._thread is not None:
            raise RuntimeError("shop already started")
        started = threading.Event()
        errors: list[BaseException] = []
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(self._handle, "127.0.0.1", self._wanted_port, reuse_address=True, backlog=1024)
                )
                self._port = self._server.sockets[0].getsockname()[1]
            except BaseException as exc:  # noqa: BLE001 - reported to start()
                errors.append(exc)
                started.set()
                loop.close()
                return
            started.set()
            try:
                loop.run_forever()
            finally:
                loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="obsrv-test-shop", daemon=True)
        self._thread.start()
        started.wait(10)
        if errors:
            self._thread.join()
            self._thread = self._loop = None
            raise errors[0]
        return self

    def stop(self) -> None:
        """Close the listening socket and every open connection (hanging ones included)."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            self._thread = self._loop = self._server = None
            self._port = None

    async def _shutdown(self) -> None:
        server = self._server
        if server is not None:
            server.close()
        tasks = [t for t in self._tasks if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    def __enter__(self) -> Shop:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"port={self._port}" if self._port else "stopped"
        return f"<Shop {len(self._products)} products, {len(self._sites) or 1} host(s), {state}>"

    # ---- addresses ---------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("shop not started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def hosts(self) -> list[str]:
        """The virtual host names of a generated shop (empty for books())."""
        return [h for h in self._sites if h is not None]

    def url(self, path: str, host: str | None = None) -> str:
        if not path.startswith("/"):
            path = "/" + path
        return f"http://{host or '127.0.0.1'}:{self.port}{path}"

    def product_url(self, path: str) -> str:
        """Absolute URL of a product on the host that lists it (127.0.0.1 for books())."""
        return self.url(path, self._by_path[path].host)

    def product_urls(self) -> list[str]:
        """Every product URL, each on its own host name (the benchmark's start URLs)."""
        return [self.url(p.path, p.host) for p in self._products]

    @property
    def product_paths(self) -> list[str]:
        """Product paths of the default site (books: all 200; generated: the first host's)."""
        return [p.path for p in self._default_site.products]

    def product_paths_for(self, host: str) -> list[str]:
        site = self._sites.get(host.lower()) if self._sites else self._default_site
        if site is None:
            raise KeyError(f"unknown host {host!r}")
        return [p.path for p in site.products]

    @property
    def all_product_paths(self) -> list[str]:
        return [p.path for p in self._products]

    def host_of(self, path: str) -> str | None:
        """The host name listing a generated product (None for books())."""
        return self._by_path[path].host

    # ---- ground truth and scripting ----------------------------------------------------

    def expected(self, path: str) -> dict:
        """What the product page at ``path`` currently shows."""
        with self._lock:
            return self._product(path).expected()

    def set_price(self, path: str, price: Decimal | str | float) -> None:
        price = Decimal(str(price)).quantize(_CENT, rounding=ROUND_HALF_UP)
        if price < 0:
            raise ValueError("negative price")
        with self._lock:
            p = self._product(path)
            p.price = price
            self._changed(p)

    def set_availability(
        self, path: str, in_stock: bool = False, quantity: int | None = None, *, show_quantity: bool = True
    ) -> None:
        """Out of stock, or in stock with ``quantity`` (default: the previous/original count, else 1).

        ``show_quantity=False`` shows a bare "In stock" (stock_quantity None)."""
        with self._lock:
            p = self._product(path)
            if in_stock:
                if not show_quantity:
                    quantity = None
                elif quantity is None:
                    quantity = p.quantity if p.in_stock and p.quantity is not None else (p.original_quantity or 1)
                p.in_stock, p.quantity = True, quantity
            else:
                p.in_stock, p.quantity = False, None
            self._changed(p)

    def set_response(
        self,
        path: str,
        status: int = 200,
        body: bytes | str = b"",
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        delay: float = 0.0,
        host: str | None = None,
    ) -> None:
        """Serve this response for ``path`` (on ``host`` only, or on every host), after ``delay`` seconds."""
        if isinstance(body, str):
            body = body.encode("utf-8")
        items = list(headers.items()) if isinstance(headers, Mapping) else list(headers or ())
        items = [(k, v) for k, v in items if k.lower() not in ("content-length", "connection", "date")]
        resp = _Resp(status, bytes(body), HTML, items)
        self._set_override(path, host, _Override("response", resp, delay))

    def set_redirect_loop(self, path: str, host: str | None = None, status: int = 302) -> None:
        """``path`` answers with a redirect to itself, forever."""
        self._set_override(path, host, _Override("redirect_loop", status=status))

    def set_large_page(self, path: str, size: int = 20 * 1024 * 1024, host: str | None = None) -> None:
        """An HTML page of exactly ``size`` bytes (the product page padded, if ``path`` is a product)."""
        with self._lock:
            p = self._by_path.get(path)
            page = (
                self._product_html(p)
                if p is not None
                else ("<!DOCTYPE html>\n<html><head><title>Large page</title></head><body>\n<h1>Large page</h1>\n")
            )
        start = page.encode("utf-8")
        end = b"\n</body></html>\n" if p is None else b""
        filler_len = size - len(start) - len(end)
        if filler_len < 0:
            body = (start + end)[:size]
        else:
            unit = b"<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit.</p>\n"
            body = start + (unit * (filler_len // len(unit) + 1))[:filler_len] + end
        self._set_override(path, host, _Override("response", _Resp(200, body, HTML)))

    def set_hang(self, path: str, host: str | None = None) -> None:
        """Requests for ``path`` are read and never answered (until the client gives up or stop())."""
        self._set_override(path, host, _Override("hang"))

    def remove(self, path: str, host: str | None = None) -> None:
        """404 from now on; a removed product also leaves the listings and the sitemap."""
        with self._lock:
            p = self._by_path.get(path)
            if p is not None and host is None:
                p.removed = True
                self._changed(p)
        self._set_override(path, host, _Override("gone", _NOT_FOUND))

    def restore(self, path: str, host: str | None = None) -> None:
        """Undo set_response/set_redirect_loop/set_large_page/set_hang/remove for ``path``."""
        with self._lock:
            self._overrides.pop((host.lower().rstrip(".") if host else None, path), None)
            p = self._by_path.get(path)
            if p is not None and p.removed and host is None:
                p.removed = False
                self._changed(p)

    @property
    def requests(self) -> list[tuple[float, str, str, str]]:
        """(time.monotonic(), host without port, method, request target) of every request received."""
        with self._log_lock:
            return list(self._log)

    def reset_requests(self) -> None:
        with self._log_lock:
            self._log.clear()

    def warm(self) -> None:
        """Render every product page now (otherwise each is rendered on its first request)."""
        with self._lock:
            for p in self._products:
                self._product_resp(p)

    # ---- internals: state --------------------------------------------------------------

    def _product(self, path: str) -> _Product:
        try:
            return self._by_path[path]
        except KeyError:
            raise KeyError(f"no product at {path!r}") from None

    def _set_override(self, path: str, host: str | None, ov: _Override) -> None:
        if not path.startswith("/"):
            raise ValueError("path must start with '/'")
        with self._lock:
            self._overrides[(host.lower().rstrip(".") if host else None, path)] = ov

    def _changed(self, p: _Product) -> None:
        """Drop every cached response showing ``p`` (caller holds the lock)."""
        p.resp = None
        for other in p.shown_on:
            other.resp = None
        for site in {id(s): s for s in (*self._sites.values(), self._default_site, self._local_site)}.values():
            site.cache = {}
            site.host_cache = {}

    def _product_html(self, p: _Product) -> str:
        return _render_recorded(p) if p.template else _render_generated(p, self._jsonld)

    def _product_resp(self, p: _Product) -> _Resp:
        resp = p.resp
        if resp is None:
            resp = p.resp = _Resp.text(200, self._product_html(p))
        return resp

    # ---- internals: routing ------------------------------------------------------------

    _RE_ALL_PAGE = re.compile(r"/catalogue/page-(\d+)\.html")
    _RE_ALL_CAT = re.compile(r"/catalogue/category/books_1/(?:index|page-(\d+))\.html")
    _RE_CAT = re.compile(r"/catalogue/category/books/([^/]+)/(?:index|page-(\d+))\.html")

    def _site_for(self, hostname: str) -> _Site | None:
        if not self._sites:
            return self._default_site
        site = self._sites.get(hostname)
        if site is not None:
            return site
        if hostname in LOCAL_HOSTS or not hostname:
            return self._local_site
        return self._default_site if self._unknown_default else None

    def _render(self, site: _Site, path: str, host_header: str) -> _Resp:
        """Build (and cache) the response for ``path`` on ``site``; caller need not hold the lock."""
        with self._lock:
            resp = site.cache.get(path)
            if resp is not None:
                return resp
            resp = site.host_cache.get((path, host_header))
            if resp is not None:
                return resp
            resp, per_host = self._route(site, path, host_header)
            if resp is None:
                return _NOT_FOUND
            if per_host:
                site.host_cache[(path, host_header)] = resp
            else:
                site.cache[path] = resp
            return resp

    def _route(self, site: _Site, path: str, host_header: str) -> tuple[_Resp | None, bool]:
        p = site.by_path.get(path)
        if p is not None:
            return (None if p.removed else self._product_resp(p)), False
        if path in ("/", "/index.html"):
            products = site.live_products()
            title = "All products"
            resp = _listing_page(
                site,
                path,
                title,
                products,
                1,
                "/index.html",
                [],
                footer=(f'\n        <a href="{_rel(path, "/private/")}">Staff area</a>'),
            )
            return resp, False
        base = f"http://{host_header or f'127.0.0.1:{self._port}'}"
        if path == "/robots.txt":
            text = f"User-agent: *\nDisallow: /private/\n\nSitemap: {base}/sitemap.xml\n"
            return _Resp.text(200, text, TEXT), True
        if path == "/sitemap.xml":
            text = (
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
                f"  <sitemap>\n    <loc>{_esc(base)}/sitemap-products.xml</loc>\n  </sitemap>\n"
                "</sitemapindex>\n"
            )
            return _Resp.text(200, text, XML), True
        if path == "/sitemap-products.xml":
            urls = "".join(
                f"  <url>\n    <loc>{_esc(base)}{_esc(p.path)}</loc>\n  </url>\n" for p in site.live_products()
            )
            text = (
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{urls}</urlset>\n'
            )
            return _Resp.text(200, text, XML), True
        if path in ("/private/", "/private/index.html"):
            text = (
                "<!DOCTYPE html>\n<html><head><title>Staff only</title></head>"
                "<body><h1>Staff only</h1><p>Nothing to see here.</p></body></html>\n"
            )
            return _Resp.text(200, text), False
        m = self._RE_ALL_PAGE.fullmatch(path)
        if m:
            return _listing_page(
                site, path, "All products", site.live_products(), int(m.group(1)), "/catalogue/page-1.html", []
            ), False
        m = self._RE_ALL_CAT.fullmatch(path)
        if m:
            page = int(m.group(1) or 1)
            return _listing_page(site, path, "Books", site.live_products(), page, ALL_BOOKS, []), False
        m = self._RE_CAT.fullmatch(path)
        if m:
            cat = site.category_by_slug.get(m.group(1))
            if cat is None:
                return None, False
            page = int(m.group(2) or 1)
            return _listing_page(
                site, path, cat.name, site.live_products(cat), page, cat.path, [(ALL_BOOKS, "Books")]
            ), False
        return None, False

    # ---- internals: HTTP ---------------------------------------------------------------

    def _date(self) -> bytes:
        now = int(time.time())
        if now != self._date_sec:
            self._date_line = f"Date: {formatdate(now, usegmt=True)}\r\n".encode("ascii")
            self._date_sec = now
        return self._date_line

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._tasks.add(task)
        transport = writer.transport
        try:
            await self._serve(reader, writer, transport)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        except Exception:  # noqa: BLE001 - a test server must keep serving
            traceback.print_exc(file=sys.stderr)
            try:
                transport.write(_SERVER_ERROR.head + b"Connection: close\r\n\r\n" + _SERVER_ERROR.body)
            except Exception:  # noqa: BLE001
                pass
        finally:
            self._tasks.discard(task)
            transport.close()

    async def _serve(self, reader, writer, transport) -> None:
        log, log_lock = self._log, self._log_lock
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                return  # client closed between requests
            except asyncio.LimitOverrunError:
                transport.write(_TOO_LARGE.head + self._date() + b"Connection: close\r\n\r\n" + _TOO_LARGE.body)
                return
            if head[:2] == b"\r\n":  # stray CRLFs before a request line are allowed (RFC 9112 2.2)
                head = head.lstrip(b"\r\n")
                if not head:
                    continue
            lines = head.decode("latin-1").split("\r\n")
            parts = lines[0].split(" ")
            if len(parts) != 3:
                return self._send_close(transport, _BAD_REQUEST)
            method, target, version = parts
            if version == "HTTP/1.1":
                keep_alive = True
            elif version == "HTTP/1.0":
                keep_alive = False
            else:
                return self._send_close(transport, _VERSION if version.startswith("HTTP/") else _BAD_REQUEST)
            host = None
            conn = ""
            length = 0
            chunked = False
            expect = False
            for line in lines[1:]:
                if not line:
                    continue
                name, sep, value = line.partition(":")
                if not sep or name != name.strip():
                    return self._send_close(transport, _BAD_REQUEST)
                name = name.lower()
                if name == "host":
                    if host is not None:
                        return self._send_close(transport, _BAD_REQUEST)
                    host = value.strip()
                elif name == "connection":
                    conn = value.lower()
                elif name == "content-length":
                    try:
                        length = int(value.strip())
                    except ValueError:
                        return self._send_close(transport, _BAD_REQUEST)
                    if length < 0:
                        return self._send_close(transport, _BAD_REQUEST)
                elif name == "transfer-encoding":
                    chunked = "chunked" in value.lower()
                elif name == "expect":
                    expect = value.strip().lower() == "100-continue"
            if conn:
                tokens = [t.strip() for t in conn.split(",")]
                if "close" in tokens:
                    keep_alive = False
                elif "keep-alive" in tokens and version == "HTTP/1.0":
                    keep_alive = True
            if target[:4].lower() == "http":  # absolute-form (proxy style)
                split = urlsplit(target)
                if host is None:
                    host = split.netloc
                target = (split.path or "/") + (f"?{split.query}" if split.query else "")
            if host is None:
                if version == "HTTP/1.1":
                    return self._send_close(transport, _BAD_REQUEST)
                host = ""
            # Skip any request body so that the next request on this connection parses.
            if chunked:
                if expect:
                    transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                await self._skip_chunked(reader)
            elif length:
                if expect:
                    transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                while length > 0:
                    chunk = await reader.read(min(length, 1 << 16))
                    if not chunk:
                        return
                    length -= len(chunk)

            host_header = host.lower()
            if host_header[:1] == "[":
                hostname = host_header[: host_header.find("]") + 1]
            else:
                hostname = host_header.partition(":")[0]
            if hostname[-1:] == ".":
                hostname = hostname.rstrip(".")
            path = target.partition("?")[0].partition("#")[0]
            if "%" in path:
                path = unquote(path)
            with log_lock:
                log.append((time.monotonic(), hostname, method, target))

            if method != "GET" and method != "HEAD":
                resp = _NOT_ALLOWED
            else:
                resp = None
                if self._overrides:
                    ov = (
                        self._overrides.get((hostname, target))
                        or self._overrides.get((hostname, path))
                        or self._overrides.get((None, target))
                        or self._overrides.get((None, path))
                    )
                    if ov is not None:
                        if ov.kind == "hang":
                            while await reader.read(1 << 16):
                                pass
                            return
                        if ov.delay:
                            await asyncio.sleep(ov.delay)
                        if ov.kind == "redirect_loop":
                            location = f"http://{host or f'127.0.0.1:{self._port}'}{target}"
                            resp = _Resp.text(
                                ov.status,
                                f'<html><body>Redirecting to <a href="{_esc(location)}">{_esc(location)}</a></body></html>\n',
                                headers=[("Location", location)],
                            )
                        else:
                            resp = ov.resp
                if resp is None:
                    site = self._site_for(hostname)
                    if site is None:
                        resp = _NOT_FOUND
                    else:
                        resp = site.cache.get(path)
                        if resp is None:
                            resp = self._render(site, path, host_header)

            end = b"\r\n" if keep_alive else b"Connection: close\r\n\r\n"
            if keep_alive and version == "HTTP/1.0":
                end = b"Connection: keep-alive\r\n\r\n"
            body = resp.body
            if method == "HEAD" or not body:
                transport.write(resp.head + self._date() + end)
            elif len(body) < (1 << 18):
                transport.write(b"".join((resp.head, self._date(), end, body)))
            else:
                transport.write(resp.head + self._date() + end)
                transport.write(body)
            if transport.get_write_buffer_size() > (1 << 18):
                await writer.drain()
            if not keep_alive:
                await writer.drain()
                return

    def _send_close(self, transport, resp: _Resp) -> None:
        transport.write(resp.head + self._date() + b"Connection: close\r\n\r\n" + resp.body)

    @staticmethod
    async def _skip_chunked(reader: asyncio.StreamReader) -> None:
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                    pass
                return
            await reader.readexactly(size + 2)


def main(argv: list[str] | None = None) -> int:
    """``python -m tests.support.shop [--port 8800]``: serve the books shop until Ctrl-C (a local demo target)."""
    import argparse
    import signal
    import threading

    parser = argparse.ArgumentParser(prog="python -m tests.support.shop")
    parser.add_argument("--port", type=int, default=8800)
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with Shop.books(port=args.port) as shop:
        print(f"demo shop: {shop.base_url}/  ({len(shop.product_paths)} books; Ctrl-C stops)", flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
