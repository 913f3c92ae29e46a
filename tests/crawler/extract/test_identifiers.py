"""Identifiers a person reads on the page, and the URL's product id (crawler.extract.identifiers)."""

from __future__ import annotations

import json

import pytest

from crawler.extract import extract_product

URL = "https://shop.example/catalog/widget"


def _page(body: str, head: str = "") -> str:
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Widget</title>{head}</head>'
        f"<body><main>{body}</main><footer><p>SKU: FOOTER-1</p></footer></body></html>"
    )


def _jsonld(**fields) -> str:
    data = {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": "Widget",
        **fields,
        "offers": {"@type": "Offer", "price": "10.00", "priceCurrency": "EUR", "availability": "InStock"},
    }
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


@pytest.mark.parametrize(
    "line, sku",
    [
        ("<li><strong>Šifra:</strong> 0638</li>", "0638"),
        ('<span class="product-code-display">Cod produs: DR2401</span>', "DR2401"),
        ('<p class="prd-code">Product code: 141677</p>', "141677"),
        ("<div>Bestellnummer 79961</div>", "79961"),
        ("<div>〈商品編號：M67296549〉</div>", "M67296549"),
        ("<p>Артикул: 12-345</p>", "12-345"),
        ("<p>Kod produktu: AB123</p>", "AB123"),
    ],
)
def test_labelled_code_in_many_languages(line, sku):
    product = extract_product(_page(f"<h1>Widget</h1><div>{line}<button>Add to cart</button></div>"), URL)
    assert product.sku == sku
    assert product.sources["sku"] == "heuristics"


def test_structured_sku_the_page_never_shows_gives_way_to_the_shown_code():
    html = _page("<h1>Widget</h1><p>Cod produs: 5099873388655</p>", head=_jsonld(sku="DWFWKMMBM"))
    product = extract_product(html, URL)
    assert product.sku == "5099873388655"
    assert product.sources["sku"] == "heuristics (shown on the page; jsonld sku DWFWKMMBM is not)"
    assert product.sources["price"] == "jsonld"


def test_structured_sku_the_page_shows_is_kept():
    html = _page("<h1>Widget</h1><p>Product code: 141677</p><p>Ref W-1</p>", head=_jsonld(sku="W-1"))
    product = extract_product(html, URL)
    assert (product.sku, product.sources["sku"]) == ("W-1", "jsonld")


def test_a_variant_sku_extending_the_shown_code_is_kept():
    html = _page("<h1>Widget</h1><p>SKU: FT-PLANT</p>", head=_jsonld(sku="FT-PLANT-L"))
    assert extract_product(html, URL).sku == "FT-PLANT-L"


def test_shop_code_far_from_the_title_and_post_id_over_model():
    html = _page(
        "<h1>Washing machine</h1><p>£80</p><button>Buy</button>"
        "<section><div><div><div><p>make: Indesit</p><p>model name/number: XWSC61251</p></div></div></div>"
        '<p class="postinginfo">post id: 7235216655</p></section>'
    )
    product = extract_product(html, URL)
    assert product.sku == "7235216655"


def test_labels_in_site_chrome_are_not_read():
    product = extract_product(_page("<h1>Widget</h1><p>€10.00</p><button>Add to cart</button>"), URL)
    assert product.sku is None


@pytest.mark.parametrize(
    "url, repeated, sku",
    [
        ("https://shop.example/pots/TalleR_TR_1047-1609583.html", "1609583", "1609583"),
        ("https://shop.example/pchome24h/M67296549.htm?pc=promo", "M67296549", "M67296549"),
        ("https://shop.example/massivholz-regal-p400105394.html", "400105394", "400105394"),
        ("https://shop.example/store/122725?pid=260591", "260591", "260591"),
    ],
)
def test_url_product_id_when_the_markup_repeats_it(url, repeated, sku):
    images = "".join(f'<img src="/img/{repeated}_{n}.jpg">' for n in range(2))
    product = extract_product(_page(f"<h1>Widget</h1><p>€10.00</p>{images}"), url)
    assert (product.sku, product.sources["sku"]) == (sku, "url")


def test_url_id_the_markup_does_not_repeat_is_not_a_sku():
    product = extract_product(_page("<h1>Widget</h1><p>€10.00</p>"), "https://shop.example/pots/pan-1609583.html")
    assert product.sku is None
