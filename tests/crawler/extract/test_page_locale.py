"""Page.locale and Page.currency_context: what a page says about its language, country and money."""

from __future__ import annotations

import pytest

from crawler.extract.page import Page
from crawler.extract.prices import parse_display_price


def page(html: str, url: str = "https://shop.example.com/p/1") -> Page:
    return Page.from_html(html, url)


@pytest.mark.parametrize(
    "html, url, locale",
    [
        ('<html lang="de-AT"><head></head></html>', "https://shop.example.com/", ("de", "at")),
        ('<html lang="zh-Hant-TW"><head></head></html>', "https://shop.example.com/", ("zh", "tw")),
        # og:locale names the country <html lang> leaves out
        (
            '<html lang="en"><head><meta property="og:locale" content="en_CA"></head></html>',
            "https://shop.example.com/",
            ("en", "ca"),
        ),
        # else the country-code TLD, .uk as gb
        ('<html lang="en"><head></head></html>', "https://www.shop.co.uk/p", ("en", "gb")),
        ("<html><head></head></html>", "https://www.shop.se/p", (None, "se")),
        ('<html lang="sv"><head></head></html>', "https://www.shop.com/p", ("sv", None)),
    ],
)
def test_locale(html, url, locale):
    assert page(html, url).locale == locale


def test_the_page_context_resolves_shared_symbols():
    swedish = page('<html lang="sv"><head></head></html>', "https://www.shop.com/p")
    danish = page("<html><head></head></html>", "https://www.shop.dk/p")
    canadian = page('<html lang="en"><head><meta property="og:locale" content="en_CA"></head></html>')
    taiwanese = page('<html lang="zh-Hant-TW"><head></head></html>')
    assert parse_display_price("199 kr", swedish.currency_context)[1] == "SEK"
    assert parse_display_price("199 kr", danish.currency_context)[1] == "DKK"
    assert parse_display_price("$19.99", canadian.currency_context)[1] == "CAD"
    assert parse_display_price("1,160元", taiwanese.currency_context)[1] == "TWD"


def test_the_declared_currency_wins_over_the_country():
    html = '<html lang="en-US"><head><meta property="product:price:currency" content="AUD"></head></html>'
    context = page(html).currency_context
    assert context.currency == "AUD"
    assert parse_display_price("$19.99", context)[1] == "AUD"
