"""prices.py, currencies.py, availability.py: number formats, currencies, availability vocabulary, decimal formatting."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crawler.extract.availability import (
    availability_from_text,
    normalize_availability,
    stock_quantity_from_text,
)
from crawler.extract.currencies import NO_CONTEXT, CurrencyContext, normalize_currency
from crawler.extract.prices import format_amount, parse_display_price, parse_price

GERMAN = CurrencyContext(lang="de", region="de")
ENGLISH = CurrencyContext(lang="en", region="gb")


@pytest.mark.parametrize(
    "text, context, amount, currency",
    [
        ("1.299,00 €", NO_CONTEXT, "1299.00", "EUR"),
        ("1,299.00", NO_CONTEXT, "1299.00", None),
        ("£1,299", NO_CONTEXT, "1299.00", "GBP"),
        ("CHF 1'299.50", NO_CONTEXT, "1299.50", "CHF"),
        ("1 299,00 zł", NO_CONTEXT, "1299.00", "PLN"),
        ("1\u00a0299,00\u00a0zł", NO_CONTEXT, "1299.00", "PLN"),
        ("1.299 €", GERMAN, "1299.00", "EUR"),  # German page: "." groups thousands
        ("1,299 €", GERMAN, "1.299", "EUR"),  # ... and "," is the decimal separator
        ("1.299 €", ENGLISH, "1.299", "EUR"),
        ("29,95 €", GERMAN, "29.95", "EUR"),
        ("€19.99", NO_CONTEXT, "19.99", "EUR"),
        ("$19.99", NO_CONTEXT, "19.99", "USD"),
        ("CA$ 12.99", NO_CONTEXT, "12.99", "CAD"),
        ("A$12", NO_CONTEXT, "12.00", "AUD"),
        ("US$5", NO_CONTEXT, "5.00", "USD"),
        ("$12.99", CurrencyContext(region="ca"), "12.99", "CAD"),
        ("$12.99", CurrencyContext(currency="NZD"), "12.99", "NZD"),
        ("12 kr", CurrencyContext(lang="sv"), "12.00", "SEK"),
        ("12 kr", CurrencyContext(lang="da"), "12.00", "DKK"),
        ("¥1,299", NO_CONTEXT, "1299", "JPY"),
        ("1,299円", NO_CONTEXT, "1299", "JPY"),
        ("₹1,299", NO_CONTEXT, "1299.00", "INR"),
        ("R$ 10,50", NO_CONTEXT, "10.50", "BRL"),
        ("EUR 12,50", NO_CONTEXT, "12.50", "EUR"),
        ("12.5 USD", NO_CONTEXT, "12.50", "USD"),
        ("Fr. 12.50", NO_CONTEXT, "12.50", "CHF"),
    ],
)
def test_parse_display_prices(text, context, amount, currency):
    parsed_amount, parsed_currency = parse_price(text, context)
    assert (format(parsed_amount, "f"), parsed_currency) == (amount, currency)


@pytest.mark.parametrize(
    "text",
    [
        "call us",
        "Price on request",
        "0",
        "0,00 €",
        "£0.00",
        "-5 €",
        "€ -5,00",
        "-€5",
        "−5 €",
        "123456789012345678901",
        "99999999999999999999.99",
        "",
        "   ",
        None,
        True,
        [],
        "x" * 500,
    ],
)
def test_garbage_prices_are_none(text):
    assert parse_price(text) == (None, None)


def test_machine_numbers_follow_schema_org():
    assert parse_price("1.299", machine=True)[0] == Decimal("1.299")
    assert parse_price("1299.00", machine=True)[0] == Decimal("1299.00")
    assert parse_price("1,299.00", machine=True)[0] == Decimal("1299.00")
    assert parse_price(15.0)[0] == Decimal("15.00")
    assert parse_price(1299)[0] == Decimal("1299.00")
    # display text inside structured data is still read as display text
    assert parse_price("1.299,00 €", GERMAN, machine=True) == (Decimal("1299.00"), "EUR")


@pytest.mark.parametrize(
    "text, amount",
    [
        ("Was £20 Now £15", "15.00"),
        ("£15 (RRP £20)", "15.00"),
        ("Now £15 was £20", "15.00"),
        ("statt 20,00 € jetzt 15,00 €", "15.00"),
        ("UVP 1.599,00 € 1.299,00 €", "1299.00"),
        ("au lieu de 59,90 € 49,90 €", "49.90"),
    ],
)
def test_was_now(text, amount):
    assert format(parse_display_price(text, GERMAN if "€" in text else ENGLISH)[0], "f") == amount


@pytest.mark.parametrize(
    "raw, code",
    [
        ("£", "GBP"),
        ("€", "EUR"),
        ("$", "USD"),
        ("zł", "PLN"),
        ("円", "JPY"),
        ("¥", "JPY"),
        ("₹", "INR"),
        ("gbp", "GBP"),
        ("EUR", "EUR"),
        ("CHF", "CHF"),
        ("Kč", "CZK"),
        ("XYZ", None),
        ("", None),
        (None, None),
    ],
)
def test_currencies(raw, code):
    assert normalize_currency(raw) == code


def test_ambiguous_symbols_use_the_page_context():
    assert normalize_currency("¥", CurrencyContext(lang="zh")) == "CNY"
    assert normalize_currency("kr", CurrencyContext(region="no")) == "NOK"
    assert normalize_currency("kr", CurrencyContext(lang="da")) == "DKK"
    assert normalize_currency("kr", CurrencyContext(lang="is")) == "ISK"
    assert normalize_currency("kr") == "SEK"  # nothing says otherwise: the biggest krona market
    assert normalize_currency("$", CurrencyContext(region="au")) == "AUD"


@pytest.mark.parametrize(
    "value, expected",
    [
        ("http://schema.org/InStock", "InStock"),
        ("https://schema.org/OutOfStock", "OutOfStock"),
        ("schema:PreOrder", "PreOrder"),
        ("SoldOut", "OutOfStock"),
        ("InStoreOnly", "InStock"),
        ("OnlineOnly", "InStock"),
        ("https://schema.org/BackOrder", "BackOrder"),
        ("LimitedAvailability", "LimitedAvailability"),
        ("http://schema.org/Discontinued", "Discontinued"),
        ("in stock", "InStock"),
        ("oos", "OutOfStock"),
        ("available for order", "BackOrder"),
        (True, "InStock"),
        (False, "OutOfStock"),
        ({"@id": "http://schema.org/InStock"}, "InStock"),
        ("", None),
        (None, None),
        ("blue", None),
    ],
)
def test_normalize_availability(value, expected):
    assert normalize_availability(value) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("In stock", "InStock"),
        ("In stock (22 available)", "InStock"),
        ("Out of stock", "OutOfStock"),
        ("Sold out", "OutOfStock"),
        ("Currently unavailable", "OutOfStock"),
        ("Pre-order", "PreOrder"),
        ("Backorder", "BackOrder"),
        ("Available on backorder", "BackOrder"),
        ("Auf Lager", "InStock"),
        ("Ausverkauft", "OutOfStock"),
        ("Nicht vorrätig", "OutOfStock"),
        ("Nicht auf Lager", "OutOfStock"),
        ("Sofort lieferbar", "InStock"),
        ("En stock", "InStock"),
        ("Rupture de stock", "OutOfStock"),
        ("Épuisé", "OutOfStock"),
        ("Indisponible", "OutOfStock"),
        ("Disponible", "InStock"),
        ("Agotado", "OutOfStock"),
        ("Sin stock", "OutOfStock"),
        ("No disponible", "OutOfStock"),
        ("Disponibile", "InStock"),
        ("Non disponibile", "OutOfStock"),
        ("Esaurito", "OutOfStock"),
        ("Op voorraad", "InStock"),
        ("Niet op voorraad", "OutOfStock"),
        ("Uitverkocht", "OutOfStock"),
        ("Back in stock soon", "OutOfStock"),
        ("Limited stock", "LimitedAvailability"),
        ("No longer available", "Discontinued"),
        ("Available in 3 colours", None),
        ("Free delivery", None),
        ("", None),
    ],
)
def test_availability_phrases(text, expected):
    assert availability_from_text(text) == expected


@pytest.mark.parametrize(
    "text, quantity",
    [
        ("In stock (22 available)", 22),
        ("7 in stock", 7),
        ("Only 3 left", 3),
        ("Nur noch 2 auf Lager", 2),
        ("Plus que 4 en stock", 4),
        ("In stock", None),
        ("Out of stock", None),
    ],
)
def test_stock_quantity(text, quantity):
    assert stock_quantity_from_text(text) == quantity


@pytest.mark.parametrize(
    "amount, currency, text",
    [
        ("51.77", "GBP", "51.77"),
        ("1299", "EUR", "1299.00"),
        ("1299.00", "JPY", "1299"),
        ("1.5", None, "1.50"),
        ("9.999", "USD", "9.999"),
        ("15.000", "GBP", "15.00"),
        ("12.5", "KWD", "12.500"),
        ("0", "EUR", None),
        ("-1", "EUR", None),
    ],
)
def test_decimal_formatting(amount, currency, text):
    assert format_amount(Decimal(amount), currency) == text


# --- currencies from CLDR, context, word boundaries, signs -----------------------------


@pytest.mark.parametrize(
    "raw, context, code",
    [
        ("$", CurrencyContext(currency="AUD", region="ca"), "AUD"),  # the declared currency first
        ("$", CurrencyContext(lang="en", region="ca"), "CAD"),  # then the page's country
        ("$", CurrencyContext(lang="es", region="mx"), "MXN"),
        ("kr", CurrencyContext(lang="nb"), "NOK"),  # then its language's country
        ("kr.", CurrencyContext(region="is"), "ISK"),
        ("¥", CurrencyContext(lang="ja"), "JPY"),
        ("元", CurrencyContext(lang="zh", region="tw"), "TWD"),
        ("元", NO_CONTEXT, "CNY"),
        ("£", CurrencyContext(region="eg"), "EGP"),
        ("£", CurrencyContext(region="us"), "GBP"),  # no match: the default
        ("Rs.", NO_CONTEXT, "INR"),
        ("Rs", CurrencyContext(region="pk"), "PKR"),
        ("Euro", NO_CONTEXT, "EUR"),
        ("US Dollar", NO_CONTEXT, "USD"),
        ("руб.", NO_CONTEXT, "RUB"),
        ("руб.", CurrencyContext(region="by"), "BYN"),
        ("R", NO_CONTEXT, "ZAR"),  # a whole currency field: "R" is the rand
        ("₸", NO_CONTEXT, "KZT"),
        ("HRK", NO_CONTEXT, "HRK"),  # retired since 2015 still counts
        ("RUR", NO_CONTEXT, "RUB"),  # Yandex Market's priceCurrency
    ],
)
def test_currency_resolution(raw, context, code):
    assert normalize_currency(raw, context) == code


@pytest.mark.parametrize(
    "text, amount, currency",
    [
        # a currency inside a word or a model number is none
        ("20 x Bamboo Geschenkkorb, kleine, beige, SMALL= 14.5 cm", "14.50", None),
        ("TP-Link TL-WR841N 300Mbps", "841.00", None),
        ("Top 10", "10.00", None),
        ("16.00 ft", "16.00", None),
        ("5 km", "5.00", None),
        ("R273.00", "273.00", None),  # "R" alone needs the page to be South African
        ("Ruby 12,99", "12.99", None),
        # quantities are skipped, the price after them is taken
        ("2 x 14,99 €", "14.99", "EUR"),
        ("€ 2 x 14,99", "14.99", "EUR"),
        # a dash between words and an amount is a separator, not a sign
        ("Sale - $6.75", "6.75", "USD"),
        ("Price-$5", "5.00", "USD"),
        # codes win next to the amount, symbols elsewhere lose to them
        ("NZD $100.70", "100.70", "NZD"),
        ("12.99 $ (approx. 11.50 EUR)", "12.99", "USD"),
        ("44 890 тг.", "44890.00", "KZT"),
        ("29,000원", "29000", "KRW"),
        ("NT$1,160", "1160.00", "TWD"),
        ("KD 12.500", "12.500", "KWD"),
    ],
)
def test_currency_in_text(text, amount, currency):
    parsed_amount, parsed_currency = parse_price(text)
    assert (format(parsed_amount, "f"), parsed_currency) == (amount, currency)


def test_negative_amounts_only_when_asked_for():
    for text in ("- $44.99", "-$44.99", "€ -44,99", "−44,99 €"):
        assert parse_price(text) == (None, None), text
    assert parse_price("- $44.99", allow_negative=True) == (Decimal("-44.99"), "USD")
    assert parse_price("€ -5,00", allow_negative=True) == (Decimal("-5.00"), "EUR")
    assert parse_price(-3, allow_negative=True) == (Decimal("-3.00"), None)
    assert parse_price(-3) == (None, None)
    assert parse_display_price("Angebot - 5,00 €", GERMAN) == (Decimal("5.00"), "EUR")  # a separator


def test_minor_units_come_from_cldr():
    assert format_amount(Decimal("1299"), "HUF") == "1299"
    assert format_amount(Decimal("12.5"), "BHD") == "12.500"
    assert format_amount(Decimal("12.5"), "CLP") == "12.5"
    assert format_amount(Decimal("12"), "XYZ") == "12.00"


def test_warm_up_builds_the_tables_without_keeping_every_locale_in_memory():
    """The crawler builds the CLDR tables at start; reading ~1,100 locales' data in the process itself
    left ~190 MB it never returned. warm_up builds them in a child and keeps only the tables."""
    import subprocess
    import sys

    script = (
        "import crawler.spiders.obsrv\n"
        "rss = lambda: int(next(l for l in open('/proc/self/status') if l.startswith('VmRSS')).split()[1])\n"
        "before = rss()\n"
        "from crawler.extract.currencies import CurrencyContext\n"
        "from crawler.extract.currency_tables import _built, warm_up\n"
        "from crawler.extract.prices import parse_price\n"
        "warm_up()\n"
        "assert _built, 'no tables'\n"
        "print(rss() - before, parse_price('1 299 kr', CurrencyContext(lang='sv', region='se')))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    growth_kb, parsed = done.stdout.split(" ", 1)
    assert "SEK" in parsed and "1299" in parsed
    assert int(growth_kb) < 60_000, f"warm_up grew the process by {int(growth_kb) // 1024} MB"
