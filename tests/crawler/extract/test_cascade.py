"""The cascade's rules: precedence and provenance, variants, blocks, odd input."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from crawler.extract import ExtractedProduct, analyze, extract_product
from crawler.extract.page import Page

from .conftest import load_case

URL = "https://shop.example/products/widget"


def _page(body: str, head: str = "", lang: str = "en-GB") -> str:
    return f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>Widget | Shop</title>{head}</head><body>{body}</body></html>'


def _jsonld(data: dict) -> str:
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


PRODUCT_LD = {
    "@context": "https://schema.org",
    "@type": "Product",
    "name": "Widget",
    "sku": "W-1",
    "offers": {"@type": "Offer", "price": "10.00", "priceCurrency": "GBP", "availability": "https://schema.org/InStock"},
}


def test_to_json_shape():
    product = ExtractedProduct(name="x", price=Decimal("1299"), currency="EUR")
    assert product.to_json() == {
        "name": "x", "price": "1299.00", "currency": "EUR", "availability": None, "sku": None, "gtin": None,
        "brand": None, "image": None, "sources": {}, "stock_quantity": None, "canonical_url": None,
        "platform": None, "platform_id": None, "list_price": None, "offers": [], "blocked": None,
        "is_product": False,
    }


def test_structured_data_stops_the_cascade_early():
    html = _page('<h1>Widget</h1><p class="price">£99.00</p><p>Out of stock</p>', _jsonld(PRODUCT_LD))
    product = extract_product(html, URL)
    assert (product.price, product.availability) == (Decimal("10.00"), "InStock")
    assert set(product.sources.values()) == {"jsonld"}


def test_selectors_win_over_structured_data_for_the_fields_they_name():
    html = _page('<h1>Widget</h1><span class="promo">£8.50</span><div id="st">Sold out</div>', _jsonld(PRODUCT_LD))
    product = extract_product(html, URL, selectors={"price": ".promo", "availability": "//div[@id='st']"})
    assert (product.price, product.currency, product.availability) == (Decimal("8.50"), "GBP", "OutOfStock")
    assert product.sources["price"] == product.sources["availability"] == "selectors"
    assert product.sources["name"] == product.sources["sku"] == "jsonld"


@pytest.mark.parametrize(
    "selectors",
    [{"price": "[[[nonsense"}, {"price": "//*[@"}, {"price": ".nothing-matches"}, {"price": ""}, {"sku": None}],
)
def test_broken_or_empty_selectors_fall_through(selectors):
    product = extract_product(_page("<h1>Widget</h1>", _jsonld(PRODUCT_LD)), URL, selectors=selectors)
    assert product.price == Decimal("10.00")
    assert product.sources["price"] == "jsonld"


def test_selector_xpath_and_css_forms():
    html = _page('<h1>Widget</h1><div class="box"><span data-v="12.40">x</span></div>', lang="en-US")
    by_xpath = extract_product(html, URL, selectors={"price": "(//span/@data-v)[1]"})
    by_css = extract_product(html, URL, selectors={"price": "div.box span::attr(data-v)"})
    assert by_xpath.price == by_css.price == Decimal("12.40")


def test_variant_selected_by_url_beats_variant_blind_metas():
    html, meta, _ = load_case("shopify")
    url = meta["url"].replace("40123456789012", "40123456789013")  # Ocean, on sale
    product = extract_product(html, url)
    assert (product.price, product.sku, product.sources["price"]) == (Decimal("22.40"), "NCC-MUG-OCEAN", "shopify")
    plain = extract_product(html, url.split("?")[0])  # no variant in the URL: the metas speak
    assert (plain.price, plain.sources["price"]) == (Decimal("22.40"), "meta")


def test_magento_adapter_without_microdata_or_metas():
    html, meta, _ = load_case("magento")
    text = html.decode("utf-8").replace('itemtype="http://schema.org/Product" itemscope="itemscope"', "")
    text = "\n".join(line for line in text.splitlines() if "product:price" not in line)
    product = extract_product(text, meta["url"])
    assert (product.name, product.price, product.currency) == ("Joust Duffle Bag", Decimal("27.20"), "USD")
    assert product.sources["price"] == product.sources["sku"] == "magento"
    assert product.platform_id == "1"


def test_jsonld_graph_several_products_prefers_the_page_url():
    other = dict(PRODUCT_LD, name="Gadget", url="https://shop.example/products/gadget", sku="G-1")
    this = dict(PRODUCT_LD, url=URL, offers=dict(PRODUCT_LD["offers"], price="12.00"))
    product = extract_product(_page("", _jsonld({"@graph": [other, this]})), URL)
    assert (product.sku, product.price) == ("W-1", Decimal("12.00"))


def test_jsonld_item_list_is_not_a_product():
    items = [{"@type": "ListItem", "position": i, "item": dict(PRODUCT_LD, name=f"P{i}")} for i in range(5)]
    product = extract_product(_page("<h1>All widgets</h1>", _jsonld({"@type": "ItemList", "itemListElement": items})), URL)
    assert product.price is None and not product.is_product


def test_one_broken_jsonld_script_does_not_hide_the_others():
    html = _page("<h1>Widget</h1>", '<script type="application/ld+json">{"@type": "Product", oops</script>' + _jsonld(PRODUCT_LD))
    assert extract_product(html, URL).price == Decimal("10.00")


def test_price_specification_with_sale_and_strikethrough():
    offer = {
        "@type": "Offer", "availability": "InStock",
        "priceSpecification": [
            {"@type": "UnitPriceSpecification", "priceType": "https://schema.org/StrikethroughPrice", "price": 20, "priceCurrency": "EUR"},
            {"@type": "UnitPriceSpecification", "price": 15, "priceCurrency": "EUR"},
        ],
    }
    product = extract_product(_page("", _jsonld(dict(PRODUCT_LD, offers=offer))), URL)
    assert (product.price, product.currency) == (Decimal("15.00"), "EUR")


def test_zero_decimal_currency():
    ld = dict(PRODUCT_LD, offers={"@type": "Offer", "price": "1299", "priceCurrency": "JPY"})
    assert extract_product(_page("", _jsonld(ld)), URL).to_json()["price"] == "1299"


def test_a_bare_503_is_an_outage_not_a_block():
    product = extract_product("<html><body>Service down</body></html>", URL, status=503)
    assert not product.blocked and not product.is_product and product.availability is None


@pytest.mark.parametrize(
    "html, status",
    [
        ("", 401),
        ("<html><body><p>Please verify you are a human</p></body></html>", 503),
        ("<html><body><h1>Widget</h1><p>Sold out</p></body></html>", 403),
        ("<html><body><p>Too many requests</p></body></html>", 429),
        ('<html><head><title>Access to this page has been denied.</title></head><body><div id="px-captcha"></div></body></html>', 200),
        ("<html><head><title>Attention Required! | Cloudflare</title></head><body><h1>Sorry, you have been blocked</h1></body></html>", 403),
        ("<html><head><title>Pardon Our Interruption</title></head><body><p>As you were browsing something about your browser made us think you were a bot.</p></body></html>", 200),
        ('<html><body><h1>Robot Check</h1><p>Out of stock</p></body></html>', 200),
    ],
)
def test_block_pages_are_never_out_of_stock(html, status):
    product = extract_product(html, URL, status=status)
    assert product.blocked
    assert product.availability is None and product.price is None and not product.is_product


def test_captcha_widget_on_a_real_product_page_is_not_a_block():
    body = '<h1>Widget</h1><p class="price">£10.00</p><form class="review"><div class="g-recaptcha"></div></form>'
    product = extract_product(_page(body), URL)
    assert product.blocked is None and product.price == Decimal("10.00")


def test_not_found_page_is_not_blocked_but_not_a_product():
    product = extract_product(_page("<h1>Page not found</h1><p>Sorry.</p>"), URL, status=404)
    assert product.blocked is None and not product.is_product


@pytest.mark.parametrize(
    "html",
    ["", "   ", b"", b"\x00\xff\xfe garbage", "<html>", "just text", "<?xml version='1.0' encoding='utf-8'?><html><body><h1>x</h1></body></html>",
     _page("<h1>Widget</h1><p class='price'>call us</p><p class='price'>0</p><p class='price'>-4.00 €</p><p class='price'>€ 99999999999999999999</p>")],
)
def test_odd_input_does_not_crash(html):
    product = extract_product(html, URL)
    assert product.price is None


def test_bytes_are_decoded_with_the_declared_charset():
    html = _page('<h1>Caf\u00e9 Mug</h1><p class="price">\u00a312.00</p>').replace("utf-8", "iso-8859-1").encode("latin-1")
    product = extract_product(html, URL)
    assert (product.name, product.price, product.currency) == ("Caf\u00e9 Mug", Decimal("12.00"), "GBP")
    by_header = extract_product(html.replace(b"iso-8859-1", b"x"), URL, headers={b"Content-Type": [b"text/html; charset=latin-1"]})
    assert by_header.name == "Caf\u00e9 Mug"


def test_page_language_decides_ambiguous_separators():
    body = '<h1>Lampe</h1><p class="preis">1.299 €</p><button>In den Warenkorb</button>'
    assert extract_product(_page(body, lang="de-DE"), URL).price == Decimal("1299.00")


def test_analyze_returns_both_from_one_page():
    html, meta, expected = load_case("woocommerce_sale")
    product, page_class = analyze(html, meta["url"])
    assert product.to_json()["price"] == expected["price"]
    assert page_class.kind == "product"


def test_page_memoizes_shared_work():
    page = Page.from_html(_page("<h1>Widget</h1>", _jsonld(PRODUCT_LD)), URL)
    from crawler.extract import jsonld

    assert jsonld.items(page) is jsonld.items(page)


def test_a_failing_stage_costs_only_that_stage(monkeypatch, caplog):
    from crawler.extract import cascade

    def broken(page):
        raise RuntimeError("boom")

    monkeypatch.setattr(cascade, "STRUCTURED_STAGES", (("jsonld", broken), *cascade.STRUCTURED_STAGES[1:]))
    html = _page("<h1>Widget</h1><p class='price'>£12.00</p><button>Add to basket</button>", _jsonld(PRODUCT_LD))
    product = extract_product(html, URL)
    assert (product.price, product.sources["price"]) == (Decimal("12.00"), "heuristics")
    assert "stage jsonld failed" in caplog.text


def test_platform_adapters_take_the_preselected_variant():
    from crawler.extract import platforms

    html, meta, _ = load_case("woocommerce_variable")
    woo = platforms.extract_woocommerce(Page.from_html(html, meta["url"].split("?")[0]))
    assert (woo.fields["price"], woo.fields["sku"]) == (Decimal("23.40"), "FT-PLANT-L")  # selected='selected'

    html, meta, _ = load_case("shopify")
    shopify = platforms.extract_shopify(Page.from_html(html, meta["url"].split("?")[0]))
    assert (shopify.fields["price"], shopify.fields["sku"]) == (Decimal("28.00"), "NCC-MUG-SAND")


def test_lowest_in_stock_variant_without_any_selection():
    from crawler.extract import platforms

    html, meta, _ = load_case("woocommerce_variable")
    text = html.decode("utf-8").replace("  selected='selected'", "")
    woo = platforms.extract_woocommerce(Page.from_html(text, meta["url"].split("?")[0]))
    assert woo.fields["price"] == Decimal("18.00") and woo.fields["availability"] == "InStock"


def _with_first_stage(monkeypatch, stage):
    from crawler.extract import cascade

    monkeypatch.setattr(cascade, "STRUCTURED_STAGES", (("jsonld", stage), *cascade.STRUCTURED_STAGES[1:]))


PRICE_NEAR_H1 = _page("<h1>Widget</h1><p class='price'>£20.00</p><button>Add to basket</button>")


def test_a_field_vouched_absent_is_not_filled_by_a_later_stage(monkeypatch):
    from crawler.extract.product import Found

    assert extract_product(PRICE_NEAR_H1, URL).price == Decimal("20.00")  # what the heuristics would guess

    _with_first_stage(monkeypatch, lambda page: Found.of(absent={"price", "currency"}, name="Widget"))
    product = extract_product(PRICE_NEAR_H1, URL)
    assert (product.price, product.currency) == (None, None)
    assert "price" not in product.sources and "currency" not in product.sources
    assert (product.availability, product.sources["availability"]) == ("InStock", "heuristics")  # others still fill


def test_known_absence_counts_as_known_for_the_early_stop(monkeypatch):
    from crawler.extract import visible
    from crawler.extract.product import Found

    def unavailable(page):
        return Found.of(absent={"price", "currency"}, name="Widget", availability="OutOfStock")

    _with_first_stage(monkeypatch, unavailable)
    monkeypatch.setattr(visible, "extract", lambda page: pytest.fail("the heuristics ran"))
    product = extract_product(PRICE_NEAR_H1, URL)
    assert (product.price, product.availability, product.is_product) == (None, "OutOfStock", True)


def test_an_earlier_value_stands_against_a_later_absence(monkeypatch):
    from crawler.extract import cascade
    from crawler.extract.product import Found

    merge = cascade._Merge(Page.from_html(PRICE_NEAR_H1, URL))
    merge.add("jsonld", Found.of(price=Decimal("10.00")))
    merge.add("amazon", Found.of(absent={"price", "currency"}, name="Widget"))
    merge.add("heuristics", Found.of(price=Decimal("20.00"), currency="GBP"))
    assert merge.values == {"price": Decimal("10.00"), "name": "Widget"}
    assert Found.of(absent={"price"}, price=Decimal("1")).absent == frozenset()  # a value is not an absence


def test_list_price_comes_only_with_the_price_of_its_source(monkeypatch):
    from crawler.extract.product import Found

    def sale(page):  # list_price given before price: the order inside one stage does not matter
        return Found.of(list_price=Decimal("25"), price=Decimal("19.5"), currency="GBP", name="Widget")

    _with_first_stage(monkeypatch, sale)
    product = extract_product(PRICE_NEAR_H1, URL)
    assert (product.price, product.list_price, product.sources["list_price"]) == (
        Decimal("19.50"), Decimal("25.00"), "jsonld"
    )
    assert product.to_json()["list_price"] == "25.00"

    _with_first_stage(monkeypatch, lambda page: Found.of(price=Decimal("19.5"), currency="GBP"))
    from crawler.extract import visible

    monkeypatch.setattr(visible, "extract", lambda page: Found.of(list_price=Decimal("30"), name="Widget"))
    product = extract_product(PRICE_NEAR_H1, URL)
    assert product.list_price is None and "list_price" not in product.sources
