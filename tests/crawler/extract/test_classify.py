"""classify_page / analyze: product vs listing vs other, from one parse."""

from __future__ import annotations

import lxml.html
import pytest
from parsel import Selector

import crawler.extract.page as page_module
from crawler.extract import analyze, classify_page

from .conftest import load_case, shared_fixtures_dir

PRODUCT_CASES = [
    "jsonld_offer",
    "jsonld_aggregate_offer",
    "jsonld_graph",
    "microdata",
    "rdfa",
    "opengraph_meta",
    "shopify",
    "woocommerce_sale",
    "woocommerce_variable",
    "magento",
    "german_shop",
    "french_shop",
    "visible_text_only",
    "swiss_shop",
    "was_now",
]


def _classify_case(name: str):
    html, meta, _expected = load_case(name)
    return classify_page(html, meta["url"])


@pytest.mark.parametrize("case", PRODUCT_CASES)
def test_product_pages(case):
    result = _classify_case(case)
    assert result.kind == "product", result
    assert 0.5 <= result.score <= 1
    assert result.reasons


def test_category_listing():
    result = _classify_case("category_listing")
    assert result.kind == "listing", result
    assert "pagination" in result.reasons
    assert 0.5 <= result.score <= 1


def test_home_page_is_not_a_product():
    result = _classify_case("home_page")
    assert result.kind == "other", result


def test_books_product_page():
    path = shared_fixtures_dir() / "books-toscrape" / "catalogue" / "a-light-in-the-attic_1000" / "index.html"
    result = classify_page(
        path.read_bytes(), "https://books.toscrape.com/catalogue/a-light-in-the-attic_1000/index.html"
    )
    assert result.kind == "product", result
    assert "product-shaped URL" in result.reasons


def _books_listing_page() -> str:
    """A books.toscrape category page (those are not in the shared fixtures), built
    with the shop's own card markup from its product pages."""
    catalogue = shared_fixtures_dir() / "books-toscrape" / "catalogue"
    cards = []
    for path in sorted(catalogue.glob("*/index.html"))[:20]:
        page = Selector(text=path.read_text(encoding="utf-8"))
        title = page.css(".product_main h1::text").get()
        price = page.css(".product_main .price_color::text").get()
        slug = path.parent.name
        cards.append(
            f'<li class="col-xs-6 col-sm-4 col-md-3 col-lg-3"><article class="product_pod">'
            f'<div class="image_container"><a href="../../{slug}/index.html"><img src="x.jpg" alt="{title}" class="thumbnail"></a></div>'
            f'<p class="star-rating Three"></p><h3><a href="../../{slug}/index.html" title="{title}">{title[:20]}...</a></h3>'
            f'<div class="product_price"><p class="price_color">{price}</p><p class="instock availability">In stock</p>'
            f'<form><button type="submit" class="btn btn-primary btn-block">Add to basket</button></form></div>'
            f"</article></li>"
        )
    return (
        '<html lang="en-us"><head><title>Poetry | Books to Scrape - Sandbox</title></head><body>'
        '<div class="container-fluid page"><div class="page_inner"><div class="row"><aside class="sidebar col-sm-4 col-md-3">'
        '<ul class="nav nav-list"><li><a href="../books_1/index.html">Books</a></li></ul></aside>'
        '<div class="col-sm-8 col-md-9"><div class="page-header action"><h1>Poetry</h1></div>'
        '<form method="get" class="form-horizontal"><strong>20</strong> results.</form>'
        f'<section><div></div><ol class="row">{"".join(cards)}</ol>'
        '<div><ul class="pager"><li class="current">Page 1 of 2</li><li class="next"><a href="page-2.html">next</a></li></ul></div>'
        "</section></div></div></div></div></body></html>"
    )


def test_books_listing_page():
    url = "https://books.toscrape.com/catalogue/category/books/poetry_23/index.html"
    html = _books_listing_page()
    result = classify_page(html, url)
    assert result.kind == "listing", result
    product, page_class = analyze(html, url)
    assert page_class == result
    assert product.is_product is False
    assert product.price is None  # never one of the 20 cards' prices


def test_blocked_page_is_other():
    html, meta, _ = load_case("cloudflare_challenge")
    product, result = analyze(html, meta["url"])
    assert product.blocked
    assert result.kind == "other"


def test_accepts_trees_and_selectors():
    html, meta, _ = load_case("jsonld_offer")
    tree = lxml.html.fromstring(html)
    assert classify_page(tree, meta["url"]).kind == "product"
    assert classify_page(Selector(text=html.decode("utf-8")), meta["url"]).kind == "product"


def test_analyze_parses_once(monkeypatch):
    calls = []
    original = page_module.parse_tree

    def counting(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(page_module, "parse_tree", counting)
    html, meta, _ = load_case("german_shop")
    product, result = analyze(html, meta["url"])
    assert len(calls) == 1
    assert product.price is not None and result.kind == "product"
