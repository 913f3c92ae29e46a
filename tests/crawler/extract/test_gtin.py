"""normalize_gtin: GTINs with their check digit (python-stdnum), and what the extractors keep."""

from __future__ import annotations

import json

import pytest

from crawler.extract import extract_product
from crawler.extract.product import normalize_gtin


@pytest.mark.parametrize(
    "value, gtin",
    [
        ("4012345678901", "4012345678901"),  # EAN-13
        ("036000291452", "036000291452"),  # UPC-A (12)
        ("73513537", "73513537"),  # EAN-8
        ("98412345678908", "98412345678908"),  # GTIN-14
        ("978-0-306-40615-7", "9780306406157"),  # ISBN-13, hyphens dropped
        (" 4012345678901 ", "4012345678901"),
        ("4 012345 678901", "4012345678901"),
        (4012345678901, "4012345678901"),  # a JSON number
        ("0-306-40615-2", "9780306406157"),  # ISBN-10 -> its ISBN-13
        ("080442957X", "9780804429573"),
    ],
)
def test_valid_gtins(value, gtin):
    assert normalize_gtin(value) == gtin


@pytest.mark.parametrize(
    "value",
    [
        "4012345678900",  # wrong check digit
        "036000291453",
        "73513535",
        "98412345678907",
        "9780306406158",
        "0306406153",  # ISBN-10 with a wrong check digit
        "00000000",  # placeholder
        "0000000000000",
        "123456789",  # no GTIN length
        "123456789012345",
        "40123456789O1",  # a letter
        "",
        None,
        True,
    ],
)
def test_invalid_gtins_are_none(value):
    assert normalize_gtin(value) is None


def _jsonld_page(gtin: str) -> str:
    product = {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": "Mug",
        "gtin13": gtin,
        "offers": {
            "@type": "Offer",
            "price": "12.00",
            "priceCurrency": "EUR",
            "availability": "https://schema.org/InStock",
        },
    }
    return f'<html><head><script type="application/ld+json">{json.dumps(product)}</script></head><body></body></html>'


def test_structured_data_gtins_are_checked():
    assert extract_product(_jsonld_page("4012345678901"), "https://shop.example/mug").gtin == "4012345678901"
    assert extract_product(_jsonld_page("4012345678900"), "https://shop.example/mug").gtin is None
