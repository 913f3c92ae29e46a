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
    "offers": {
        "@type": "Offer",
        "price": "10.00",
        "priceCurrency": "GBP",
        "availability": "https://schema.org/InStock",
    },
}


def test_to_json_shape():
    product = ExtractedProduct(name="x", price=Decimal("1299"), currency="EUR")
    assert product.to_json() == {
        "name": "x",
        "price": "1299.00",
        "currency": "EUR",
        "availability": None,
        "sku": None,
        "gtin": None,
        "brand": None,
        "image": None,
        "sources": {},
        "stock_quantity": None,
        "canonical_url": None,
        "platform": None,
        "platform_id": None,
        "list_price": None,
        "offers": [],
        "blocked": None,
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
    # No variant in the URL: the price metas only give the lowest price of all variants (a "from" price);
    # the product reports the variant the page pre-selects, Sand, as its variant data says.
    plain = extract_product(html, url.split("?")[0])
    assert (plain.price, plain.sku, plain.sources["price"]) == (Decimal("28.00"), "NCC-MUG-SAND", "shopify")
    assert plain.reported_offer.sku == "NCC-MUG-SAND" and len(plain.offers) == 3


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
    product = extract_product(
        _page("<h1>All widgets</h1>", _jsonld({"@type": "ItemList", "itemListElement": items})), URL
    )
    assert product.price is None and not product.is_product


def test_one_broken_jsonld_script_does_not_hide_the_others():
    html = _page(
        "<h1>Widget</h1>", '<script type="application/ld+json">{"@type": "Product", oops</script>' + _jsonld(PRODUCT_LD)
    )
    assert extract_product(html, URL).price == Decimal("10.00")


def test_price_specification_with_sale_and_strikethrough():
    offer = {
        "@type": "Offer",
        "availability": "InStock",
        "priceSpecification": [
            {
                "@type": "UnitPriceSpecification",
                "priceType": "https://schema.org/StrikethroughPrice",
                "price": 20,
                "priceCurrency": "EUR",
            },
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
        (
            '<html><head><title>Access to this page has been denied.</title></head><body><div id="px-captcha"></div></body></html>',
            200,
        ),
        (
            "<html><head><title>Attention Required! | Cloudflare</title></head><body><h1>Sorry, you have been blocked</h1></body></html>",
            403,
        ),
        (
            "<html><head><title>Pardon Our Interruption</title></head><body><p>As you were browsing something about your browser made us think you were a bot.</p></body></html>",
            200,
        ),
        ("<html><body><h1>Robot Check</h1><p>Out of stock</p></body></html>", 200),
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
    [
        "",
        "   ",
        b"",
        b"\x00\xff\xfe garbage",
        "<html>",
        "just text",
        "<?xml version='1.0' encoding='utf-8'?><html><body><h1>x</h1></body></html>",
        _page(
            "<h1>Widget</h1><p class='price'>call us</p><p class='price'>0</p><p class='price'>-4.00 €</p><p class='price'>€ 99999999999999999999</p>"
        ),
    ],
)
def test_odd_input_does_not_crash(html):
    product = extract_product(html, URL)
    assert product.price is None


def test_bytes_are_decoded_with_the_declared_charset():
    html = (
        _page('<h1>Caf\u00e9 Mug</h1><p class="price">\u00a312.00</p>').replace("utf-8", "iso-8859-1").encode("latin-1")
    )
    product = extract_product(html, URL)
    assert (product.name, product.price, product.currency) == ("Caf\u00e9 Mug", Decimal("12.00"), "GBP")
    by_header = extract_product(
        html.replace(b"iso-8859-1", b"x"), URL, headers={b"Content-Type": [b"text/html; charset=latin-1"]}
    )
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
    from crawler.extract.shopify import extract_shopify
    from crawler.extract.woocommerce import extract_woocommerce

    html, meta, _ = load_case("woocommerce_variable")
    woo = extract_woocommerce(Page.from_html(html, meta["url"].split("?")[0]))
    assert (woo.fields["price"], woo.fields["sku"]) == (Decimal("23.40"), "FT-PLANT-L")  # selected='selected'

    html, meta, _ = load_case("shopify")
    shopify = extract_shopify(Page.from_html(html, meta["url"].split("?")[0]))
    assert (shopify.fields["price"], shopify.fields["sku"]) == (Decimal("28.00"), "NCC-MUG-SAND")


def test_lowest_in_stock_variant_without_any_selection():
    from crawler.extract.woocommerce import extract_woocommerce

    html, meta, _ = load_case("woocommerce_variable")
    text = html.decode("utf-8").replace("  selected='selected'", "")
    woo = extract_woocommerce(Page.from_html(text, meta["url"].split("?")[0]))
    assert woo.fields["price"] == Decimal("18.00") and woo.fields["availability"] == "InStock"


def _offers_page(offers, **product) -> str:
    return _page("<h1>Widget</h1>", _jsonld(dict(PRODUCT_LD, offers=offers, **product)))


def _offer(sku, price, availability="InStock", **extra):
    return {
        "@type": "Offer",
        "sku": sku,
        "price": price,
        "priceCurrency": "GBP",
        "availability": f"https://schema.org/{availability}",
        **extra,
    }


def test_one_size_sold_out_never_makes_the_product_out_of_stock():
    sizes = [_offer("W-S", "10.00", "OutOfStock"), _offer("W-M", "12.00"), _offer("W-L", "12.00", "OutOfStock")]
    product = extract_product(_offers_page(sizes), URL)
    assert (product.price, product.availability, product.sku) == (Decimal("12.00"), "InStock", "W-M")
    assert [o.selected for o in product.offers] == [False, True, False]
    all_gone = [_offer("W-S", "10.00", "OutOfStock"), _offer("W-M", "12.00", "OutOfStock")]
    assert extract_product(_offers_page(all_gone), URL).availability == "OutOfStock"


def test_the_size_the_url_selects_is_reported_even_sold_out():
    sizes = [_offer("W-S", "10.00", "OutOfStock", url=URL + "?size=S"), _offer("W-M", "12.00", url=URL + "?size=M")]
    product = extract_product(_offers_page(sizes), URL + "?size=S")
    assert (product.price, product.availability, product.reported_offer.sku) == (Decimal("10.00"), "OutOfStock", "W-S")
    by_sku = extract_product(_offers_page(sizes), URL + "?sku=W-M")
    assert (by_sku.availability, by_sku.reported_offer.sku) == ("InStock", "W-M")


def test_buyable_later_beats_sold_out_and_unpriced_offers_still_choose_by_stock():
    sizes = [_offer("W-S", "10.00", "OutOfStock"), _offer("W-M", "14.00", "PreOrder")]
    assert extract_product(_offers_page(sizes), URL).availability == "PreOrder"
    unpriced = [
        {"@type": "Offer", "sku": "W-S", "availability": "OutOfStock"},
        {"@type": "Offer", "sku": "W-M", "availability": "InStock"},
    ]
    product = extract_product(_offers_page(unpriced), URL)
    assert (product.availability, product.sku) == ("InStock", "W-M")


def test_aggregate_offer_is_one_offer_and_its_high_price_no_list_price():
    aggregate = {
        "@type": "AggregateOffer",
        "lowPrice": "20.00",
        "highPrice": "35.00",
        "offerCount": 4,
        "priceCurrency": "GBP",
        "availability": "https://schema.org/InStock",
    }
    product = extract_product(_offers_page(aggregate), URL)
    assert (product.price, product.list_price) == (Decimal("20.00"), None)
    [offer] = product.offers
    assert (offer.price, offer.high_price, offer.offer_count, offer.selected) == (
        Decimal("20.00"),
        Decimal("35.00"),
        4,
        True,
    )
    # sizes listed only for their stock under a price range: the aggregate is what the product reports
    sizes = dict(
        aggregate,
        offers=[
            {"@type": "Offer", "name": "S", "availability": "OutOfStock"},
            {"@type": "Offer", "name": "M", "availability": "InStock"},
        ],
    )
    product = extract_product(_offers_page(sizes), URL)
    assert (product.price, product.availability) == (Decimal("20.00"), "InStock")
    assert [(o.name, o.selected) for o in product.offers] == [("S", False), ("M", False), (None, True)]


def test_list_price_only_above_the_price():
    offer = _offer(
        "W-1",
        "15.00",
        priceSpecification=[
            {"@type": "UnitPriceSpecification", "priceType": "https://schema.org/StrikethroughPrice", "price": "15.00"}
        ],
    )
    assert extract_product(_offers_page(offer), URL).list_price is None
    offer["priceSpecification"][0]["price"] = "19.99"
    product = extract_product(_offers_page(offer), URL)
    assert (product.list_price, product.sources["list_price"], product.offers) == (Decimal("19.99"), "jsonld", [])


def test_sale_price_metas_keep_the_regular_price_as_list_price():
    head = (
        '<meta property="og:type" content="product"><meta property="og:title" content="Widget">'
        '<meta property="product:price:amount" content="40.00"><meta property="product:price:currency" '
        'content="EUR"><meta property="product:sale_price:amount" content="32.00">'
        '<meta property="product:sale_price:currency" content="EUR">'
        '<meta property="product:availability" content="in stock">'
    )
    product = extract_product(_page("<h1>Widget</h1>", head), URL)
    assert (product.price, product.list_price, product.sources["list_price"]) == (
        Decimal("32.00"),
        Decimal("40.00"),
        "meta",
    )


def test_selectors_keep_the_availability_they_name_over_the_offer():
    sizes = [_offer("W-S", "10.00", "OutOfStock"), _offer("W-M", "12.00")]
    html = _offers_page(sizes).replace("<h1>Widget</h1>", '<h1>Widget</h1><p id="st">Out of stock</p>')
    product = extract_product(html, URL, selectors={"availability": "#st"})
    assert (product.availability, product.sources["availability"]) == ("OutOfStock", "selectors")


def test_platform_variants_and_sale_prices():
    from crawler.extract.shopify import extract_shopify
    from crawler.extract.woocommerce import extract_woocommerce

    html, meta, _ = load_case("shopify")
    shopify = extract_shopify(Page.from_html(html, meta["url"].replace("40123456789012", "40123456789013")))
    assert shopify.fields["list_price"] == Decimal("28.00")  # Ocean's compare_at_price
    assert [(o.sku, o.selected) for o in shopify.fields["offers"]] == [
        ("NCC-MUG-SAND", False),
        ("NCC-MUG-OCEAN", True),
        ("NCC-MUG-CHAR", False),
    ]
    html, meta, _ = load_case("woocommerce_sale")
    woo = extract_woocommerce(Page.from_html(html, meta["url"]))
    assert (woo.fields["price"], woo.fields["list_price"], woo.fields.get("offers")) == (
        Decimal("29.50"),
        Decimal("38.00"),
        None,
    )


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
    from crawler.extract.merge import _Merge
    from crawler.extract.product import Found

    merge = _Merge(Page.from_html(PRICE_NEAR_H1, URL))
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
        Decimal("19.50"),
        Decimal("25.00"),
        "jsonld",
    )
    assert product.to_json()["list_price"] == "25.00"

    _with_first_stage(monkeypatch, lambda page: Found.of(price=Decimal("19.5"), currency="GBP"))
    from crawler.extract import visible

    monkeypatch.setattr(visible, "extract", lambda page: Found.of(list_price=Decimal("30"), name="Widget"))
    product = extract_product(PRICE_NEAR_H1, URL)
    assert product.list_price is None and "list_price" not in product.sources
