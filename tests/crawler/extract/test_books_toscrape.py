"""All 200 real books.toscrape.com product pages: visible values must come out.

The expectation is computed here with parsel from the page's own markup (the main
product block ``.product_main`` and the product-information table), independently of
the extractor's heuristics. Each page also lists "recently viewed" products with
their own prices and "In stock" labels, which must not win.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from parsel import Selector

from crawler.extract import extract_product

from .conftest import shared_fixtures_dir

BOOKS = sorted((shared_fixtures_dir() / "books-toscrape" / "catalogue").glob("*/index.html"))


def _expected(html: str) -> dict:
    page = Selector(text=html)
    main = page.css(".product_main")
    availability_text = " ".join(" ".join(main.css(".availability ::text").getall()).split())
    quantity = re.search(r"\((\d+) available\)", availability_text)
    return {
        "name": main.css("h1::text").get(),
        "price": main.css(".price_color::text").get().strip().removeprefix("£"),
        "availability": "OutOfStock" if "out of stock" in availability_text.lower() else "InStock",
        "stock_quantity": int(quantity.group(1)) if quantity else None,
        "sku": page.xpath("//table//tr[th='UPC']/td/text()").get(),
    }


def test_all_200_pages_are_there(books_dir):
    assert len(BOOKS) == 200


def test_most_pages_also_show_other_products_prices(books_dir):
    with_others = [
        path for path in BOOKS if len(Selector(text=path.read_text(encoding="utf-8")).css(".price_color")) > 1
    ]
    assert len(with_others) > 150


@pytest.mark.parametrize("path", BOOKS, ids=lambda path: path.parent.name)
def test_book_page(path: Path):
    html = path.read_bytes()
    url = f"https://books.toscrape.com/catalogue/{path.parent.name}/index.html"
    expected = _expected(html.decode("utf-8"))
    product = extract_product(html, url).to_json()

    assert product["name"] == expected["name"]
    assert product["price"] == expected["price"]
    assert product["currency"] == "GBP"
    assert product["availability"] == expected["availability"]
    assert product["stock_quantity"] == expected["stock_quantity"]
    assert product["sku"] == expected["sku"]
    assert product["is_product"] is True
    assert product["blocked"] is None
    assert product["sources"]["price"] == "heuristics"
