"""Amazon and eBay item pages (:mod:`crawler.extract.marketplaces`, `.amazon`, `.ebay`), on the real pages of
``../shared/fixtures/product-pages/`` (Amazon .com/.co.uk/.de/.fr/.it, eBay .com/.co.uk/.ie/.fr/.it/.ca)
and on small pages in the current layouts."""

from __future__ import annotations

import functools
import gzip
import json
from decimal import Decimal

import pytest

from crawler.extract import amazon, ebay, extract_product, platforms
from crawler.extract.page import Page
from tests.support.product_pages import load_pages, pages_dir


@functools.cache
def _truth() -> dict:
    return json.loads((pages_dir() / "ground-truth.json").read_text(encoding="utf-8"))


def _fixture(prefix: str) -> tuple[bytes, str]:
    """(html, url) of the benchmark page whose key starts with ``prefix``."""
    key = next(key for key in _truth() if key.startswith(prefix))
    with gzip.open(pages_dir() / "html" / f"{key}.html.gz", "rb") as handle:
        return handle.read(), _truth()[key]["url"]


def _extract(prefix: str, url: str | None = None):
    html, page_url = _fixture(prefix)
    return extract_product(html, url or page_url)


def _fields(product) -> tuple:
    return (product.name, product.price, product.currency, product.availability, product.sku)


ALL_AMAZON = dict.fromkeys(("name", "price", "currency", "availability", "sku", "platform_id"), "amazon")


# --- Amazon: the buy box -----------------------------------------------------------------


def test_amazon_buy_box_price_and_the_struck_rrp_as_list_price():
    product = _extract("27021c0c0a")  # amazon.co.uk, "RRP: £55.00", "Price: £48.99"
    assert _fields(product) == (
        "Tefal 5 Piece, Essential, Pots and Pans Set, Black, Aluminium, Non Stick",
        Decimal("48.99"),
        "GBP",
        "InStock",
        "B004SNMXRS",
    )
    assert (product.list_price, product.platform, product.platform_id) == (Decimal("55.00"), "amazon", "B004SNMXRS")
    assert product.sources.items() >= ALL_AMAZON.items()
    assert product.sources["list_price"] == "amazon"


@pytest.mark.parametrize(
    "prefix, price, currency, list_price",
    [
        ("64915d8c22", "66.75", "EUR", "88.99"),  # .fr deal price, "Prix conseillé 88,99 €"
        (
            "f09ca5f021",
            "8.33",
            "EUR",
            "9.99",
        ),  # .de, "Unverb. Preisempf.: 9,99 €"; Subscribe & Save 7,91 € is not the price
        ("95f9586d43", "8.71", "EUR", None),  # .de "Jetzt: 8,71 €", not the 8,27 € subscription
        ("01efbb7479", "87.11", "USD", None),  # .com, shipping and import fees not added
        ("2eca89a9c9", "12.44", "EUR", None),  # .fr "12,44 € + 6,99 € Livraison"
        ("cb06136493", "220.00", "GBP", None),
        ("e9879f3b5b", "100.00", "EUR", None),  # .it "Prezzo: 100,00 €"
    ],
)
def test_amazon_price_is_what_a_buyer_pays_now(prefix, price, currency, list_price):
    product = _extract(prefix)
    assert (product.price, product.currency) == (Decimal(price), currency)
    assert product.list_price == (Decimal(list_price) if list_price else None)
    assert product.sources["price"] == product.sources["currency"] == "amazon"


def test_amazon_name_is_the_product_title_never_a_feature_heading():
    names = {prefix: _extract(prefix).name for prefix in ("95f9586d43", "f09ca5f021", "64915d8c22", "871a0c6c91")}
    assert names == {
        "95f9586d43": "WELEDA Citrus Erfrischende Feuchtigkeitslotion, Naturkosmetik Bodylotion zur intensiven Pflege"
        " von trockener Haut, kühlt und beruhigt mit Aloe Vera und Kokosöl (1 x 200 ml)",
        "f09ca5f021": "Ankerkraut Texas Chicken, 230g im Streuer, BBQ-Rub Gewürzmischung für Chicken-Wings und Hähnchen",
        "64915d8c22": "PetSafe Siège de sécurité pour chiens Happy Ride – Pour voitures, grands véhicules et 4x4 -"
        " Ceinture de sécurité incluse - Doublure molletonnée résistante lavable à la machine, Marron clair matelassé",
        "871a0c6c91": "Retevis RT628B Walkie Talkie Bambini, Ricetrasmittenti Bambini, PMR446 3 Canali Volume"
        " Regolabile Blocco Tasti, Giocattolo Regalo per Ragazzi Ragazze Campeggio, Escursionismo, Giardino(Rosso,"
        " 1 Paio)",
    }


@pytest.mark.parametrize(
    "prefix, availability, quantity",
    [
        ("0094967f37", "OutOfStock", None),  # "Currently unavailable."
        ("2c036dd02f", "OutOfStock", None),  # "Derzeit nicht verfügbar."
        ("4ff590718c", "OutOfStock", None),  # "Actuellement indisponible."
        ("ed28f17905", "OutOfStock", None),  # "Non disponibile."
        ("871a0c6c91", "InStock", None),  # "Disponibilità immediata." (+ add to basket)
        ("2eca89a9c9", "InStock", None),  # "Habituellement expédié sous 3 à 4 jours." (+ add to basket)
        ("95f9586d43", "InStock", None),  # "Auf Lager."
        ("64915d8c22", "InStock", None),  # "En stock."
        ("c01d200ba5", "InStock", 2),  # "Only 2 left in stock."
        ("e9879f3b5b", "InStock", 1),  # "Disponibilità: solo 1"
        ("14dc707ee1", "InStock", None),  # no buy box winner: "See all buying choices"
    ],
)
def test_amazon_availability_in_five_languages(prefix, availability, quantity):
    product = _extract(prefix)
    assert (product.availability, product.stock_quantity) == (availability, quantity)
    assert product.sources["availability"] == "amazon"


def test_an_unavailable_amazon_product_has_no_price_the_heuristics_do_not_guess_one():
    product = _extract("2c036dd02f")  # "Derzeit nicht verfügbar", a "20 x ..." title and prices of other products
    assert _fields(product) == (
        "20 x Bamboo Wicker Geschenkkorb rund mittel, große, kleine, beige, SMALL= 14.5 cm DIA - 6 INCHES",
        None,
        None,
        "OutOfStock",
        "B00BRMIU7A",
    )
    assert not {"price", "currency", "list_price"} & set(product.sources)
    assert "heuristics" not in product.sources.values()
    assert product.blocked is None and product.is_product

    found = amazon.extract_amazon(Page.from_html(*_fixture("2c036dd02f")))
    assert found.absent == {"price", "currency", "list_price"}


def test_amazon_without_a_buy_box_winner_takes_the_lowest_offer_or_none():
    product = _extract("f17d4d9c99")  # "Alle Angebote"; "Neu und gebraucht (7) ab 99,12 €"
    assert (product.price, product.currency, product.availability) == (Decimal("99.12"), "EUR", "InStock")
    product = _extract("14dc707ee1")  # "Visualizza tutte le opzioni di acquisto", no offer price shown
    assert (product.price, product.availability, product.sku) == (None, "InStock", "B0756B4GVG")


def test_amazon_sku_is_the_asin_of_the_variant_shown_not_of_the_url():
    product = _extract("ec6f39428a")  # URL /dp/B08LZM5286, the page shows variant B08LZJV3BD
    assert (product.sku, product.platform_id, product.sources["sku"]) == ("B08LZJV3BD", "B08LZJV3BD", "amazon")
    assert (product.price, product.currency) == (Decimal("4.99"), "EUR")


def test_amazon_digital_music_page():
    product = _extract("b03d8c978c")  # no #productTitle, no ASIN input: the MP3 buy box
    assert _fields(product) == (
        "The Movement Revisited: A Musical Portrait of Four Icons",
        Decimal("9.49"),
        "USD",
        "InStock",
        "B081ZQK4BZ",
    )
    assert product.image == "https://m.media-amazon.com/images/I/71hQVcypIyL._SS500_.jpg"


def test_amazon_is_detected_by_markup_on_any_host():
    html, _url = _fixture("27021c0c0a")
    product = extract_product(html, "https://mirror.example/some/path")
    assert (product.platform, product.sku, product.price, product.currency) == (
        "amazon",
        "B004SNMXRS",
        Decimal("48.99"),
        "GBP",
    )


def test_amazon_currency_from_the_marketplace_when_the_symbol_is_ambiguous():
    html, _url = _fixture("01efbb7479")  # "$87.11" on amazon.com (ue_mid ATVPDKIKX0DER)
    text = html.decode("utf-8").replace('lang="en-us"', 'lang="en-ca"', 1)  # a Canadian reader's locale
    assert extract_product(text, "https://mirror.example/dp/B01GOH7PKA").currency == "USD"


# --- eBay ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prefix, price, sku",
    [
        ("21e72a8e6d", "1.99", "302474151804"),  # ebay.com, Buy It Now "GBP 1.99"
        ("2d3e52568d", "12.99", "133588510845"),  # ebay.it auction, "GBP 12,99"
        ("359ca699f8", "115.00", "143863282131"),  # ebay.co.uk auction "£115.00"
        ("361022ee41", "11.19", "123808916008"),  # ebay.ca, not the converted "C $19.38"
        ("5cea6e89b1", "5100.00", "114532738197"),  # ebay.ie, winning bid "£5,100.00"
        ("9edbb12683", "25.00", "223820586800"),
        ("ccc114af83", "5.95", "293565036718"),  # ebay.fr "5,95 EUR"
    ],
)
def test_ebay_sku_is_the_item_number(prefix, price, sku):
    product = _extract(prefix)
    assert (product.price, product.sku, product.platform, product.platform_id) == (Decimal(price), sku, "ebay", sku)
    assert product.sources["sku"] == product.sources["platform_id"] == "ebay"
    assert product.sources["price"] == "microdata"  # the item's own microdata comes first in the cascade


def test_ebay_page_through_the_cascade_and_through_the_adapter():
    product = _extract("21e72a8e6d")
    assert _fields(product) == (
        # the microdata's name carries the h1's visually hidden "Details about" prefix
        "Details about Halloween Zombie Scars Tattoos Fake Blood Scab Scar Wound Costume Make-Up Kit UK",
        Decimal("1.99"),
        "GBP",
        "InStock",
        "302474151804",
    )
    found = ebay.extract_ebay(Page.from_html(*_fixture("21e72a8e6d")))
    assert found.fields == {
        "name": "Halloween Zombie Scars Tattoos Fake Blood Scab Scar Wound Costume Make-Up Kit UK",
        "price": Decimal("1.99"),
        "currency": "GBP",
        "availability": "InStock",  # "More than 10 available": not a quantity of 10
        "sku": "302474151804",
        "image": "https://i.ebayimg.com/images/g/zVYAAOSwGihfeKSa/s-l300.jpg",
        "platform_id": "302474151804",
    }
    italian = ebay.extract_ebay(Page.from_html(*_fixture("2d3e52568d")))  # "Dettagli su ... mostra il titolo originale"
    assert (italian.fields["name"], italian.fields["price"], italian.fields["availability"]) == (
        "Angel Teddy Bear",
        Decimal("12.99"),
        "InStock",
    )


# --- detection -----------------------------------------------------------------------------


def test_detection_on_all_benchmark_pages():
    for page in load_pages():
        host = page.url.split("/")[2]
        expected = "amazon" if ".amazon." in host else "ebay" if ".ebay." in host else None
        detected = platforms.detect(Page.from_html(page.html, page.url))
        if expected:
            assert detected == expected, page.url
        else:
            assert detected not in ("amazon", "ebay"), page.url


AFFILIATE = """<!DOCTYPE html><html lang="en"><head><title>Best widgets</title>
<link rel="preconnect" href="https://m.media-amazon.com"></head><body><h1>The best widgets of the year</h1>
<div class="aawp-product" data-asin="B0TESTASIN"><span id="productTitle">Acme Widget</span>
<img src="https://m.media-amazon.com/images/I/widget.jpg"><span class="price">$19.99</span>
<a href="https://www.amazon.com/dp/B0TESTASIN?tag=x-20">Buy on Amazon</a></div></body></html>"""


def test_a_page_that_links_to_amazon_is_not_an_amazon_page():
    assert platforms.detect(Page.from_html(AFFILIATE, "https://blog.example/best-widgets")) is None


# --- current layouts (small pages in Amazon's and eBay's markup) --------------------------

AMAZON_CORE_PRICE = """<!DOCTYPE html><html lang="en-us" class="a-no-js"><head><title>Amazon.com: Acme Widget</title>
</head><body><div id="dp"><div id="dp-container"><div id="ppd"><div id="centerCol">
<div id="title_feature_div"><h1 id="title"><span id="productTitle" class="a-size-large">  Acme Widget, Blue  </span></h1></div>
<div id="apex_desktop"><div id="corePriceDisplay_desktop_feature_div">
<div class="a-section a-spacing-none aok-align-center aok-relative">
<span class="aok-offscreen">$19.99 with 20 percent savings</span>
<span class="a-size-large a-color-price savingPriceOverride savingsPercentage">-20%</span>
<span class="a-price aok-align-center reinventPricePriceToPayMargin priceToPay" data-a-size="xl"><span class="a-offscreen">$19.99</span>
<span aria-hidden="true"><span class="a-price-symbol">$</span><span class="a-price-whole">19<span class="a-price-decimal">.</span></span><span class="a-price-fraction">99</span></span></span>
<span class="a-size-mini aok-offscreen"> ($2.00 / Count) </span></div>
<div class="a-section a-spacing-small aok-align-center"><span class="a-size-small a-color-secondary aok-align-center basisPrice">List Price:
<span class="a-price a-text-price" data-a-size="s" data-a-strike="true"><span class="a-offscreen">$24.99</span><span aria-hidden="true">$24.99</span></span></span></div>
</div></div></div>
<div id="rightCol"><div id="buybox"><div id="availability"><span class="a-size-medium a-color-success"> In Stock </span></div>
<input type="hidden" id="ASIN" name="ASIN" value="B0TESTASIN"><input id="add-to-cart-button" type="submit" value="Add to Cart">
</div></div></div></div></div>
<div id="sims"><span class="a-price"><span class="a-offscreen">$5.99</span></span></div>
<script>var ue_mid = 'ATVPDKIKX0DER';</script></body></html>"""


def test_amazon_core_price_block():
    product = extract_product(AMAZON_CORE_PRICE, "https://www.amazon.com/dp/B0TESTASIN")
    assert _fields(product) == ("Acme Widget, Blue", Decimal("19.99"), "USD", "InStock", "B0TESTASIN")
    assert product.list_price == Decimal("24.99")
    assert product.sources.items() >= ALL_AMAZON.items()


def test_amazon_core_price_table_with_list_price_row():
    table = """<div id="corePrice_desktop"><table class="a-lineitem a-align-top"><tr>
    <td class="a-color-secondary a-size-base a-text-right a-nowrap">List Price:</td><td><span class="a-price a-text-price a-size-base"
    data-a-strike="true"><span class="a-offscreen">£39.99</span><span aria-hidden="true">£39.99</span></span></td></tr><tr>
    <td class="a-color-secondary a-size-base a-text-right a-nowrap">Price:</td><td><span class="a-price a-text-price a-size-medium
    apexPriceToPay"><span class="a-offscreen">£29.99</span><span aria-hidden="true">£29.99</span></span></td></tr></table></div>"""
    start = AMAZON_CORE_PRICE.index('<div id="apex_desktop">')
    end = AMAZON_CORE_PRICE.index('<div id="rightCol">')
    html = (AMAZON_CORE_PRICE[:start] + table + "</div>" + AMAZON_CORE_PRICE[end:]).replace("en-us", "en-gb")
    product = extract_product(html.replace("ATVPDKIKX0DER", "A1F83G8C2ARO7P"), "https://www.amazon.co.uk/dp/B0TESTASIN")
    assert (product.price, product.currency, product.list_price) == (Decimal("29.99"), "GBP", Decimal("39.99"))


def test_amazon_currently_unavailable_in_the_current_layout():
    html = (
        AMAZON_CORE_PRICE.replace("priceToPay", "somethingElse")
        .replace('<span class="a-offscreen">$19.99</span>', "")
        .replace(" In Stock ", "Currently unavailable. We don't know when or if this item will be back in stock.")
        .replace('<input id="add-to-cart-button" type="submit" value="Add to Cart">', "")
    )
    html = html[: html.index('<div id="apex_desktop">')] + "</div>" + html[html.index('<div id="rightCol">') :]
    product = extract_product(html, "https://www.amazon.com/dp/B0TESTASIN")
    assert (product.price, product.currency, product.availability, product.sku) == (
        None,
        None,
        "OutOfStock",
        "B0TESTASIN",
    )


EBAY_ITEM = """<!DOCTYPE html><html lang="en"><head><title>Vintage Lamp | eBay</title>
<link rel="stylesheet" href="https://ir.ebaystatic.com/rs/c/itemview.css">
<link rel="canonical" href="https://www.ebay.com/itm/Vintage-Lamp/123456789012"></head><body>
<div class="x-item-title"><h1 class="x-item-title__mainTitle"><span class="ux-textspans ux-textspans--BOLD">Vintage Lamp</span></h1></div>
<div class="x-price-section"><div class="x-price-primary" data-testid="x-price-primary"><span class="ux-textspans">US $25.00</span></div>
<div class="x-additional-info"><span class="ux-textspans ux-textspans--STRIKETHROUGH">US $40.00</span></div></div>
<div class="x-quantity__availability"><span class="ux-textspans ux-textspans--SECONDARY">3 available</span></div>
<div data-testid="x-bin-action"><a class="ux-call-to-action" href="#">Buy It Now</a></div>
<div class="ux-image-carousel-item"><img src="https://i.ebayimg.com/images/g/lamp/s-l1600.jpg"></div>
</body></html>"""


def test_ebay_item_page_in_the_current_layout():
    product = extract_product(EBAY_ITEM, "https://www.ebay.com/itm/123456789012?hash=x")
    assert _fields(product) == ("Vintage Lamp", Decimal("25.00"), "USD", "InStock", "123456789012")
    assert (product.list_price, product.stock_quantity, product.platform) == (Decimal("40.00"), 3, "ebay")
    assert product.image == "https://i.ebayimg.com/images/g/lamp/s-l1600.jpg"
    assert set(product.sources.values()) == {"ebay"}


def test_ebay_out_of_stock_message():
    html = EBAY_ITEM.replace(
        '<div data-testid="x-bin-action">',
        '<div class="d-statusmessage"><span>This item is out of stock.</span></div><div>',
    ).replace("3 available", "")
    product = extract_product(html, "https://www.ebay.com/itm/123456789012")
    assert (product.availability, product.stock_quantity) == ("OutOfStock", None)
