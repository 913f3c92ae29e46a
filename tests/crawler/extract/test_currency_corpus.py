"""Amounts and currencies of real price strings, scored as a corpus.

Most strings come from price-parser's own test corpus -- scrapinghub/price-parser,
``tests/test_price_parsing.py`` (``PRICE_PARSING_EXAMPLES``, ``_2``, ``_3``, ``_NEW``,
``_BUGS_CAUGHT`` and ``_NO_CURRENCY``: strings collected from a random sample of shop
pages) -- with the currency written as the ISO code it stands for. A few more are
notations seen on pages crawled by this project (tenge, won, New Taiwan dollars,
quantities in titles, a discount line). Where the string alone is ambiguous ("kr",
"¥", "元", "$" outside the US) the row carries the page's context.

``parse_price`` must read the amount of every string, and the currency of at least
99% of those that carry a symbol, code or currency word; the failures are listed.
"""

from __future__ import annotations

from decimal import Decimal

from crawler.extract.currencies import CurrencyContext
from crawler.extract.prices import parse_price

SV = CurrencyContext(lang="sv", region="se")
DA = CurrencyContext(lang="da")
DE = CurrencyContext(lang="de", region="de")
JA = CurrencyContext(lang="ja")
ZH = CurrencyContext(lang="zh")
ZH_TW = CurrencyContext(lang="zh", region="tw")
KO = CurrencyContext(lang="ko", region="kr")
EN_CA = CurrencyContext(lang="en", region="ca")
FR_CA = CurrencyContext(lang="fr", region="ca")
ES_MX = CurrencyContext(lang="es", region="mx")
EN_AU = CurrencyContext(lang="en", region="au")
ZA = CurrencyContext(region="za")

# (price text, amount, ISO currency or None[, context])
CORPUS = [
    # price-parser PRICE_PARSING_EXAMPLES
    ("399 167.00 руб 420 176.16 руб", "399167", "RUB"),
    ("45,00 zł", "45", "PLN"),
    ("$ 22.00", "22", "USD"),
    ("$14.99", "14.99", "USD"),
    ("R$260,00", "260", "BRL"),
    ("34,50 € *", "34.50", "EUR"),
    ("Běžná cena 9 800 Kč", "9800", "CZK"),
    ("249,00 EUR", "249", "EUR"),
    ("171900 руб.", "171900", "RUB"),
    ("CHF 47.00 *", "47", "CHF"),
    ("419 руб.", "419", "RUB"),
    ("$699,000", "699000", "USD"),
    ("€ 11.69", "11.69", "EUR"),
    ("1128240 рублей", "1128240", "RUB"),
    ("£9.99", "9.99", "GBP"),
    ("49,96€", "49.96", "EUR"),
    ("6 300 Р", "6300", "RUB"),
    ("99,99 EUR", "99.99", "EUR"),
    ("$119. 95", "119.95", "USD"),
    ("₪98", "98", "ILS"),
    ("€16.95", "16.95", "EUR"),
    ("Rp 31.500", "31500", "IDR"),
    ("běžná cena 6,00 Kč", "6", "CZK"),
    ("2 285,81 грн.", "2285.81", "UAH"),
    ("$ 119,999", "119999", "USD"),
    ("Cena 283,50 PLN", "283.50", "PLN"),
    ("94,456 Р", "94456", "RUB"),
    ("฿ 3.3900", "3.39", "THB"),
    ("1 030 р.", "1030", "RUB"),
    ("302,44€", "302.44", "EUR"),
    ("£54.17", "54.17", "GBP"),
    ("3,49 zł 1,75 zł", "3.49", "PLN"),
    ("Vanaf € 49.95", "49.95", "EUR"),
    ("€30,40 **", "30.40", "EUR"),
    ("17 940,00 руб", "17940", "RUB"),
    ("880,000 ₫", "880000", "VND"),
    ("336 р.", "336", "RUB"),
    ("60,00 DKK", "60", "DKK"),
    ("$426.20/EA", "426.20", "USD"),
    ("2 660 руб", "2660", "RUB"),
    ("841,00 zł – 995,00 zł", "841", "PLN"),
    ("1 995,00 Kč", "1995", "CZK"),
    ("€ 2,99", "2.99", "EUR"),
    ("475 руб.", "475", "RUB"),
    ("Price: $15.95/mo", "15.95", "USD"),
    ("6,000.00 руб. 5,500.00 руб.", "6000", "RUB"),
    ("9.990,00 €", "9990", "EUR"),
    # PRICE_PARSING_EXAMPLES_2
    ("bežná cena 12,96 €", "12.96", "EUR"),
    ("€ 2.109,00", "2109", "EUR"),
    (": 3 250 000 €", "3250000", "EUR"),
    ("950 грн.", "950", "UAH"),
    ("166,81 € iva inclusa", "166.81", "EUR"),
    ("€ 10.00 € 8.00 – € 10.00", "10", "EUR"),
    ("1 400 Р", "1400", "RUB"),
    ("50,- Kč", "50", "CZK"),
    ("125,00 zł", "125", "PLN"),
    ("Rs 3,600.00", "3600", "INR"),
    ("29 RON", "29", "RON"),
    ("Цена: 19 000 руб.", "19000", "RUB"),
    ("184,20 €HT", "184.20", "EUR"),
    ("3,990 Ft", "3990", "HUF"),
    ("R$ 528,00", "528", "BRL"),
    ("C$5.95", "5.95", "CAD"),
    ("From $109.90", "109.90", "USD"),
    ("14,90 zł", "14.90", "PLN"),
    ("R$60,00", "60", "BRL"),
    ("From 26 to 50 €", "26", "EUR"),
    ("3,301.00 £", "3301", "GBP"),
    ("34.99€", "34.99", "EUR"),
    ("$16,500", "16500", "USD"),
    ("35€ 99", "35.99", "EUR"),
    ("199,00 грн.", "199", "UAH"),
    ("9 472 Ft", "9472", "HUF"),
    ("Rp 169.000", "169000", "IDR"),
    ("RM50", "50", "MYR"),
    ("5 833,00 €", "5833", "EUR"),
    ("$395,000", "395000", "USD"),
    ("$ 281.40 $ 265.70", "281.40", "USD"),
    ("£94.50 GBP", "94.50", "GBP"),
    ("5 427 Kč", "5427", "CZK"),
    ("Rs1,599.00", "1599", "INR"),
    ("Rs206.00 Rs164.00 SAVE 20%", "206", "INR"),
    ("2.130,00 €", "2130", "EUR"),
    ("SGD$4.90", "4.90", "SGD"),
    ("SGD4.90 $", "4.90", "SGD"),
    ("$ SGD4.90", "4.90", "SGD"),
    # PRICE_PARSING_EXAMPLES_NO_CURRENCY (strings that carry their currency after all)
    ("naša cena 67,30 €", "67.30", "EUR"),
    ("EUR29.66 (inc VAT 20% - UK & EEC) EUR24.71 (exc VAT 20% - UK & EEC)", "29.66", "EUR"),
    ("0,29 € + iva", "0.29", "EUR"),
    ("157,000 تومان", "157000", "IRR"),
    ("8.000.000 ₫", "8000000", "VND"),
    ("6790 Dinara", "6790", "RSD"),
    ("140,00 pln", "140", "PLN"),
    ("145,00 lei", "145", "RON"),
    ("2 499,00 zł", "2499", "PLN"),
    ("3 100р.", "3100", "RUB"),
    ("80,000 تومان", "80000", "IRR"),
    ("749,00 euro", "749", "EUR"),
    ("From $ 24.95", "24.95", "USD"),
    ("EUR 6,99", "6.99", "EUR"),
    ("Rp 350.000", "350000", "IDR"),
    ("14 196 Р", "14196", "RUB"),
    ("Pris från 172 kr", "172", "SEK", SV),
    ("DKK 449,00", "449", "DKK"),
    ("73,460 €", "73460", "EUR"),
    ("1 150 грн.", "1150", "UAH"),
    ("12 900,00 руб", "12900", "RUB"),
    ("1.727 Ft", "1727", "HUF"),
    ("NZD $100.70", "100.70", "NZD"),
    ("da € 72.00", "72", "EUR"),
    ("تومان56,000", "56000", "IRR"),
    ("199.90 Fr.", "199.90", "CHF"),
    ("197 PLN", "197", "PLN"),
    ("200.000 đ", "200000", "VND"),
    ("Cena : 890 Kč", "890", "CZK"),
    ("11,33 Br", "11.33", "BYN"),
    ("99 LEI", "99", "RON"),
    ("450 000 ₫", "450000", "VND"),
    ("230 лв.", "230", "BGN"),
    ("133,86 LEI", "133.86", "RON"),
    ("Cena: 55,72 zł brutto", "55.72", "PLN"),
    ("21,00 Lei", "21", "RON"),
    ("11.499,00 EUR", "11499", "EUR"),
    ("7 990 kr", "7990", "DKK", DA),
    ("10,75 TL", "10.75", "TRY"),
    ("3430 лв.", "3430", "BGN"),
    ("$4,350.00", "4350", "USD"),
    ("6.70€", "6.70", "EUR"),
    # PRICE_PARSING_EXAMPLES_3
    ("R$ 139,99 R$ 135,99", "139.99", "BRL"),
    ("$29.99 – $74.99", "29.99", "USD"),
    ("€299.71", "299.71", "EUR"),
    ("From: $14.97", "14.97", "USD"),
    ("469.00zł Bez podatku: 381.30zł", "469", "PLN"),
    ("MX$3,179.00", "3179", "MXN"),
    ("naše cena 4 370 Kč", "4370", "CZK"),
    ("Před slevou 59 900 Kč", "59900", "CZK"),
    ("à partir de 1540 € / pers", "1540", "EUR"),
    ("NT$ 1,160", "1160", "TWD"),
    ("₹ 4649", "4649", "INR"),
    ("25 грн", "25", "UAH"),
    ("2 069 рублей", "2069", "RUB"),
    ("1 690,54 руб. (шт)", "1690.54", "RUB"),
    ("69 TL 41.90 TL", "69", "TRY"),
    ("184,35 lei", "184.35", "RON"),
    ("27.00 лв.", "27", "BGN"),
    ("$ 879.0", "879", "USD"),
    ("R$215,10", "215.10", "BRL"),
    ("15 130 Р", "15130", "RUB"),
    ("339 грн", "339", "UAH"),
    ("199 ₹", "199", "INR"),
    ("1.837, 32 €", "1837.32", "EUR"),
    ("160,00 lei", "160", "RON"),
    ("550,00 лв", "550", "BGN"),
    ("94,000 تومان", "94000", "IRR"),
    ("12.500 ₫", "12500", "VND"),
    ("199 DKK", "199", "DKK"),
    ("Price: £6.95 - £9.95", "6.95", "GBP"),
    ("850,000 ریال", "850000", "IRR"),
    ("CHF 19.90", "19.90", "CHF"),
    ("530,42 Zł", "530.42", "PLN"),
    # PRICE_PARSING_EXAMPLES_NEW, _BUGS_CAUGHT, _XFAIL
    ("A$190.00", "190", "AUD"),
    ("$ 1.144.000", "1144000", "USD"),
    ("205,68 € 205.68", "205.68", "EUR"),
    ("AED 8000 (USD 2179)", "8000", "AED"),
    ("US$:12.99", "12.99", "USD"),
    ("R273.00", "273", "ZAR", ZA),
    ("R8,499", "8499", "ZAR", ZA),
    # seen on crawled pages, and context at work
    ("44 890 тг.", "44890", "KZT"),
    ("29,000원", "29000", "KRW", KO),
    ("₩29,000", "29000", "KRW"),
    ("NT$1,160", "1160", "TWD"),
    ("1,160元", "1160", "TWD", ZH_TW),
    ("99元", "99", "CNY", ZH),
    ("¥1,299", "1299", "JPY", JA),
    ("¥1,299", "1299", "CNY", ZH),
    ("1,299円", "1299", "JPY"),
    ("$12.99", "12.99", "CAD", EN_CA),
    ("12,99 $", "12.99", "CAD", FR_CA),
    ("$ 1.299", "1299", "MXN", ES_MX),
    ("A partir de $49", "49", "AUD", EN_AU),
    ("KD 12.500", "12.5", "KWD"),
    ("1 290 บาท", "1290", "THB"),
    ("12 US dollars", "12", "USD"),
    ("20 x Geschenkkorb rund, kleine, beige 14,99 €", "14.99", "EUR", DE),
    ("- $44.99", "-44.99", "USD"),  # a discount line: negative, asked for with allow_negative
    # no currency in the text
    ("35.00", "35", None),
    ("1,099.99", "1099.99", None),
    ("40 130", "40130", None),
    ("392. 00", "392", None),
    ("16.00 ft", "16", None),  # feet, not forints
    ("20 x Bamboo Geschenkkorb, kleine, beige", None, None, DE),  # a quantity is no price
]


def _parse(row):
    text, _amount, _currency, *context = row
    return parse_price(text, context[0] if context else CurrencyContext(), allow_negative=True)


def _failures(check) -> list[str]:
    failed = []
    for row in CORPUS:
        text, amount, currency = row[:3]
        got_amount, got_currency = _parse(row)
        if not check(amount, currency, got_amount, got_currency):
            failed.append(f"{text!r}: expected ({amount}, {currency}), got ({got_amount}, {got_currency})")
    return failed


def test_the_corpus_is_big_and_varied():
    assert len(CORPUS) >= 100
    assert len({row[2] for row in CORPUS if row[2]}) >= 30


def test_every_amount_is_read():
    def same_amount(amount, _currency, got_amount, _got_currency):
        return (got_amount is None) if amount is None else got_amount == Decimal(amount)

    failed = _failures(same_amount)
    print(f"amount: {len(CORPUS) - len(failed)}/{len(CORPUS)}")
    assert not failed, "amounts read wrong:\n" + "\n".join(failed)


def test_currency_accuracy_is_at_least_99_percent():
    with_currency = [row for row in CORPUS if row[2]]
    failed = [
        f"{row[0]!r}: expected {row[2]}, got {_parse(row)[1]}" for row in with_currency if _parse(row)[1] != row[2]
    ]
    accuracy = 1 - len(failed) / len(with_currency)
    print(f"currency: {accuracy:.1%} of {len(with_currency)}")
    assert accuracy >= 0.99, f"currency accuracy {accuracy:.1%}; failures:\n" + "\n".join(failed)


def test_no_currency_is_made_up():
    without = [row for row in CORPUS if not row[2]]
    invented = [f"{row[0]!r}: got {_parse(row)[1]}" for row in without if _parse(row)[1] is not None]
    assert not invented, "currencies found where the text has none:\n" + "\n".join(invented)
