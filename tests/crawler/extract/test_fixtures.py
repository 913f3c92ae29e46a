"""Recorded pages: ``tests/fixtures/extract/<case>.html`` against ``<case>.json``.

``<case>.json`` is a subset of ``ExtractedProduct.to_json()``: every key it lists must
match, and ``sources`` must match for the fields it lists. ``<case>.meta.json`` gives
the page's ``url`` and optionally ``selectors``, the HTTP ``status``, and ``html`` (the
file name of a page recorded for another case).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from crawler.extract import extract_product
from crawler.extract.product import CASCADE_FIELDS, SOURCES

from .conftest import CASES_DIR, case_names, load_case

JSON_KEYS = {
    "name", "price", "currency", "availability", "sku", "gtin", "brand", "image", "sources",
    "stock_quantity", "canonical_url", "platform", "platform_id", "list_price", "offers", "blocked", "is_product",
}


def test_every_recorded_page_has_an_expectation():
    names = case_names()
    assert len(names) >= 20
    pages = {path.stem for path in CASES_DIR.glob("*.html")}
    assert pages <= set(names), f"pages without expected JSON: {pages - set(names)}"


@pytest.mark.parametrize("case", case_names())
def test_recorded_page(case):
    html, meta, expected = load_case(case)
    product = extract_product(
        html,
        meta.get("url", f"https://shop.example/{case}"),
        selectors=meta.get("selectors"),
        status=meta.get("status", 200),
    )
    actual = product.to_json()

    assert set(actual) == JSON_KEYS
    for key, value in expected.items():
        if key == "sources":
            for field, source in value.items():
                assert actual["sources"].get(field) == source, f"sources[{field}]: {actual['sources']}"
            if value == {}:
                assert actual["sources"] == {}
        else:
            assert actual[key] == value, f"{key}: {actual[key]!r} != {value!r} (got {actual})"

    # invariants of every result
    assert set(actual["sources"]) <= set(CASCADE_FIELDS)
    assert {source.split()[0] for source in actual["sources"].values()} <= set(SOURCES)
    if actual["blocked"]:
        assert actual["availability"] is None and actual["price"] is None
        assert actual["is_product"] is False
    if actual["price"] is not None:
        assert "." in actual["price"] or actual["currency"] in ("JPY", "KRW")
        assert actual["sources"]["price"]
    if actual["offers"]:  # the product reports exactly one of its offers
        [reported] = [offer for offer in actual["offers"] if offer["selected"]]
        assert (reported["price"], reported["availability"]) == (actual["price"], actual["availability"])
        assert actual["sources"]["offers"]
    if actual["list_price"] is not None:
        assert Decimal(actual["list_price"]) > Decimal(actual["price"])
