"""Recorded pages: ``tests/fixtures/extract/<case>.html`` against ``<case>.json``.

``<case>.json`` is the whole of ``ExtractedProduct.to_json()``: every field, ``sources``
and ``offers`` included, and nothing else, so a field the extractor gets wrong, a new
field nobody checked and a field that disappears all fail. ``<case>.meta.json`` gives
the page's ``url`` and optionally ``selectors``, the HTTP ``status``, ``html`` (the file
name of a page recorded for another case) and ``not_extracted``: values the page shows
that the extractor does not read today (the expected JSON has what it does read; a strict
xfail per value says so, and turns red the day the extractor learns it).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from crawler.extract import extract_product
from crawler.extract.product import CASCADE_FIELDS, SOURCES

from .conftest import CASES_DIR, case_names, load_case

JSON_KEYS = {
    "name",
    "price",
    "currency",
    "availability",
    "sku",
    "gtin",
    "brand",
    "image",
    "sources",
    "stock_quantity",
    "canonical_url",
    "platform",
    "platform_id",
    "list_price",
    "offers",
    "blocked",
    "is_product",
}


def extract_case(case: str) -> dict:
    html, meta, _expected = load_case(case)
    return extract_product(
        html,
        meta.get("url", f"https://shop.example/{case}"),
        selectors=meta.get("selectors"),
        status=meta.get("status", 200),
    ).to_json()


def differences(actual: dict, expected: dict) -> list[str]:
    """Every field (and every source, every offer) where the two items differ, one line each."""
    lines = []
    for key in sorted(set(actual) | set(expected)):
        if key not in expected:
            lines.append(f"{key}: not in the expected JSON (extracted {actual[key]!r})")
        elif key not in actual:
            lines.append(f"{key}: expected {expected[key]!r}, not extracted at all")
        elif key == "sources" and isinstance(actual[key], dict) and isinstance(expected[key], dict):
            lines += [
                f"sources[{field}]: {actual[key].get(field)!r} != expected {expected[key].get(field)!r}"
                for field in sorted(set(actual[key]) | set(expected[key]))
                if actual[key].get(field) != expected[key].get(field)
            ]
        elif key == "offers" and actual[key] != expected[key] and len(actual[key]) == len(expected[key]):
            lines += [
                f"offers[{n}]: {got!r} != expected {want!r}"
                for n, (got, want) in enumerate(zip(actual[key], expected[key]))
                if got != want
            ]
        elif actual[key] != expected[key]:
            lines.append(f"{key}: {actual[key]!r} != expected {expected[key]!r}")
    return lines


def assert_same_item(actual: dict, expected: dict) -> None:
    """The whole extracted item equals the expected JSON: no field missing, extra or different."""
    wrong = differences(actual, expected)
    assert not wrong and actual == expected, "extracted item differs from the expected JSON:\n  " + "\n  ".join(wrong)


def test_every_recorded_page_has_an_expectation():
    names = case_names()
    assert len(names) >= 20
    pages = {path.stem for path in CASES_DIR.glob("*.html")}
    assert pages <= set(names), f"pages without expected JSON: {pages - set(names)}"


def test_every_expectation_lists_every_field():
    """An expected JSON that leaves a field out would leave it unchecked."""
    incomplete = {case: sorted(JSON_KEYS ^ set(load_case(case)[2])) for case in case_names()}
    assert {case: keys for case, keys in incomplete.items() if keys} == {}


@pytest.mark.parametrize("case", case_names())
def test_recorded_page(case):
    _html, meta, expected = load_case(case)
    actual = extract_case(case)

    assert set(actual) == JSON_KEYS
    assert_same_item(actual, expected)
    for field, value in meta.get("not_extracted", {}).items():  # the expected JSON records today's reading
        assert expected[field] != value, f"{field} is extracted now: drop it from not_extracted in {case}.meta.json"

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


def _not_extracted() -> list:
    return [
        pytest.param(case, field, value, id=f"{case}-{field}")
        for case in case_names()
        for field, value in load_case(case)[1].get("not_extracted", {}).items()
    ]


@pytest.mark.xfail(
    strict=True, reason="the page shows it, the extractor does not read it yet (see the case's not_extracted_why)"
)
@pytest.mark.parametrize("case, field, value", _not_extracted())
def test_value_the_page_shows_but_the_extractor_misses(case, field, value):
    assert extract_case(case)[field] == value


# -- the comparison itself: a wrong, extra or missing field fails it ------------------------------------------
def _failure(actual: dict, expected: dict) -> str:
    with pytest.raises(AssertionError) as failed:
        assert_same_item(actual, expected)
    return str(failed.value)


@pytest.mark.parametrize("case", ["jsonld_offer", "shopify", "woocommerce_variable", "was_now"])
def test_a_wrong_extra_or_missing_field_fails_the_comparison(case):
    expected = load_case(case)[2]
    actual = extract_case(case)
    assert_same_item(actual, expected)  # as extracted: the same

    assert "brand: 'Not the brand' != expected" in _failure({**actual, "brand": "Not the brand"}, expected)
    assert "colour: not in the expected JSON" in _failure({**actual, "colour": "navy"}, expected)  # a new field
    missing = dict(actual)
    del missing["canonical_url"]
    assert "canonical_url: expected" in _failure(missing, expected)
    assert "sources[gtin]: 'jsonld' != expected None" in _failure(
        {**actual, "sources": {**actual["sources"], "gtin": "jsonld"}}, expected
    )
    assert "offers" in _failure({**actual, "offers": [*actual["offers"], {"sku": "extra"}]}, expected)
    if actual["offers"]:
        offers = [{**offer, "price": "0.01"} if offer["selected"] else offer for offer in actual["offers"]]
        assert "'price': '0.01'" in _failure({**actual, "offers": offers}, expected)
    # a null the expected JSON names is checked as well: extracting something there fails
    assert actual["gtin"] is None
    assert "gtin: '4006381333931' != expected None" in _failure({**actual, "gtin": "4006381333931"}, expected)
