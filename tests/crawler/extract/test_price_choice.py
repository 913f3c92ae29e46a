"""The price a buyer pays: structured data checked against the page, prices set aside by their labels."""

from __future__ import annotations

import json
from decimal import Decimal

from crawler.extract import extract_product

URL = "https://shop.example/item/widget"


def _page(body: str, head: str = "", lang: str = "en", title: str = "Widget") -> str:
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>{head}</head>'
        f"<body>{body}</body></html>"
    )


def _jsonld(price: str, currency: str = "USD") -> str:
    data = {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": "Widget",
        "offers": {"@type": "Offer", "price": price, "priceCurrency": currency, "availability": "InStock"},
    }
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


def test_structured_list_price_shown_struck_gives_way_to_the_sale_price():
    body = (
        '<div itemscope itemtype="http://schema.org/Product"><h1 itemprop="name">Soma Rosso</h1>'
        '<div itemprop="offers" itemscope itemtype="http://schema.org/Offer">'
        '<meta itemprop="priceCurrency" content="EUR"><meta itemprop="price" content="219.99">'
        '<meta itemprop="availability" content="InStock">'
        '<div class="price-block"><span class="original-price current-price">EUR219.99</span>'
        '<span class="discount-label">-50%</span>'
        '<div class="product-price"><span class="price-svg current-price">EUR110.00</span></div></div>'
        "<button>Add to cart</button></div></div>"
    )
    product = extract_product(_page(body, lang="lv"), URL)
    assert (product.price, product.currency, product.list_price) == (Decimal("110.00"), "EUR", Decimal("219.99"))
    assert product.sources["price"] == "heuristics (microdata 219.99 is shown as a former price)"
    assert product.sources["list_price"] == "microdata"


def test_current_bid_over_the_starting_price():
    body = (
        '<div class="right"><h1 class="title"><span>Pillows, pair</span></h1>'
        '<div class="estimateRow">Estimate <!-- -->$300<!-- --> - <!-- -->$500</div>'
        '<div class="biddingBox"><div class="status"><span class="price">$200</span>'
        '<span class="count">2 bids</span></div>'
        '<span class="displayOnPrint">Starting Price<!-- --> <!-- -->$150</span><button>Place bid</button></div></div>'
    )
    product = extract_product(_page(body, head=_jsonld("150")), URL)
    assert product.price == Decimal("200.00")
    assert product.sources["price"] == "heuristics (jsonld 150.00 is shown as 'starting price')"
    assert product.list_price is None


def test_structured_price_the_page_does_not_contradict_stands():
    body = "<h1>Widget</h1><p class='price'>$12.00</p><button>Add to cart</button>"
    product = extract_product(_page(body, head=_jsonld("10.00")), URL)
    assert (product.price, product.sources["price"]) == (Decimal("10.00"), "jsonld")


def test_price_with_vat_over_price_without():
    body = (
        "<h1>Bralne leče</h1><ul><li class='price'><span class='price-old-live'>40.00€</span></li>"
        "<li class='price-tax'>Brez DDV: <span class='price-tax-live'>36.53€</span></li></ul><button>V košarico</button>"
    )
    product = extract_product(_page(body, lang="sl"), URL)
    assert (product.price, product.currency) == (Decimal("40.00"), "EUR")


def test_excl_vat_in_other_languages():
    for label in ("zzgl. MwSt.", "excl. VAT", "Prix HT", "sin IVA"):
        body = f"<h1>Widget</h1><p>€121.00</p><p>{label} €100.00</p><button>Add to cart</button>"
        assert extract_product(_page(body), URL).price == Decimal("121.00"), label


def test_a_struck_price_is_never_taken_alone():
    body = "<h1>Widget</h1><p><del>€50.00</del></p><button>Add to cart</button>"
    assert extract_product(_page(body), URL).price is None


def test_bare_number_with_its_currency_beside_it():
    body = (
        '<ul class="t1"><li><div class="prd_right"><div class="title">西莎小羊肉餐盒</div>'
        '<div class="pdeal">最低價$<span>29</span>元起/罐</div></div></li></ul>'
    )
    product = extract_product(
        _page(body, lang="zh-TW", title="西莎小羊肉餐盒 - i3Fresh 愛上新鮮"), "https://i3fresh.tw/c_1.html"
    )
    assert product.name == "西莎小羊肉餐盒"  # no h1: the element titled as <title> names the product
    assert (product.price, product.currency) == (Decimal("29.00"), "TWD")


def test_table_layout_row_holding_the_h1_is_not_a_card():
    rows = "".join(f'<table><tr><td><a href="/c/{n}">Category {n}</a></td></tr></table>' for n in range(3))
    body = (
        f'<div class="content">{rows}<table><tr><td><h1>Goose floss 250 g</h1>'
        '<a href="/shop">shop</a><p>NT$294</p></td></tr></table></div>'
    )
    product = extract_product(_page(body, lang="zh-TW"), "https://shop.example.tw/M67296549.htm")
    assert (product.name, product.price, product.currency) == ("Goose floss 250 g", Decimal("294.00"), "TWD")
