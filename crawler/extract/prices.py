"""Normalization of prices, currencies and availability.

The amount in a price text is always read by :class:`price_parser.Price` (only a plain
machine number from structured data, such as ``"189.95"``, goes straight to
``Decimal``); this module decides *which* text to hand it, which decimal separator to
hint when the text is ambiguous, and how to map what it finds to the project's
vocabulary:

* amounts become :class:`~decimal.Decimal` normalized by :func:`normalize_amount`;
* currencies become ISO 4217 codes (:func:`normalize_currency`, and the currency of a
  price text, found next to its amount);
* availability becomes one of :data:`AVAILABILITY_VALUES` (:func:`normalize_availability`).

Currencies come from CLDR through Babel: every locale's symbols and currency names
(and a short table of local spellings CLDR does not print, such as ``руб.``, ``тг.``,
``원``, ``Rs``, ``KD``). A symbol several currencies share (``$``, ``kr``, ``¥``,
``元``, ``£``) is resolved by the page's context (:meth:`CurrencyContext.pick`: the
currency the page declared, its country from ``<html lang>``/og:locale or TLD, its
language's country) and else by a default (``$`` USD, ``kr`` SEK, ``¥`` JPY, ``£``
GBP). An ISO code next to the amount ("USD 12", "NZD $100.70") always wins. Symbols
and words count on word boundaries only ("lei" is not in "kleine"), and letters that
are money only next to a number ("Ft", "lei", "Rs", "R") never count elsewhere in the
text.

Negative amounts ("-5 €", "€ -5", a "- $44.99" discount line) are not prices:
:func:`parse_price` gives (None, None) for them unless the caller passes
``allow_negative=True``, which returns the negative amount. A dash between words and
an amount ("2 Piece - $6.75") is a separator, not a sign. A number followed by "x"
("20 x Geschenkkorb", "2 x 14,99 €") is a quantity: the amount is the next number.

Decimal rule (used by ``ExtractedProduct.to_json``): an amount keeps at least the
currency's minor units (CLDR's, through Babel) -- 2 for most currencies (``51.77``,
``1299.00``), 0 for JPY/KRW/HUF/... (``1299``), 3 for KWD/BHD/... -- and keeps any
extra precision the page gave (``9.999``); trailing zeros beyond the minor units are
dropped (``15.000`` -> ``15.00``). Without a known currency, 2 decimals. An amount of
a three-decimal currency with one "." and three digits is decimals ("KD 12.500").

Ambiguous separators (``1.299`` / ``1,299``: one separator followed by exactly three
digits) are resolved per origin: a bare machine number from structured data follows
schema.org (``.`` is the decimal separator); human-readable text follows the page's
language (``de``, ``fr``, ... -> ``,`` is decimal, so ``1.299 €`` is 1299), and
without a language hint price-parser's own guess (thousands) stands.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import functools
import multiprocessing
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from babel import localedata
from babel.core import get_global
from babel.numbers import get_currency_precision, get_territory_currencies
from price_parser import Price

from core.vocabulary import AVAILABILITY, MAX_PRICE

#: availability vocabulary (schema.org ItemAvailability names)
AVAILABILITY_VALUES = AVAILABILITY

# Prices outside (0, MAX_AMOUNT) are garbage ("0", "call us" parsed as digits, ids).
MAX_AMOUNT = MAX_PRICE
MAX_AMOUNT_DIGITS = 12

# --- currencies: CLDR data (Babel) ------------------------------------------------
#
# Every locale's currency symbols and names come from CLDR through Babel; the tables
# below are built once, on first use, and cached for the life of the process. A symbol
# maps to every ISO code any locale writes it for ("$" -> USD, CAD, AUD, MXN, ...;
# "kr" -> SEK, NOK, DKK, ISK), and :meth:`CurrencyContext.pick` (or a default) picks one.

#: currencies tender in some territory since this day count as current (HRK, BGN, ...
#: still appear on pages and in feeds)
_CURRENT_SINCE = datetime.date(2015, 1, 1)


def _current_currencies() -> frozenset[str]:
    today = datetime.date.today()
    codes = set()
    for territory in get_global("territory_currencies"):
        codes.update(get_territory_currencies(territory, start_date=_CURRENT_SINCE, end_date=today))
    return frozenset(codes)


#: ISO 4217 codes of the currencies in use (CLDR's territory data)
ISO_CURRENCIES = _current_currencies()
#: minor units from CLDR (see :func:`minor_units`)
ZERO_DECIMAL_CURRENCIES = frozenset(c for c in ISO_CURRENCIES if get_currency_precision(c) == 0)
THREE_DECIMAL_CURRENCIES = frozenset(c for c in ISO_CURRENCIES if get_currency_precision(c) == 3)

# Local spellings CLDR does not list as symbols (its symbols are what a locale *prints*,
# not every way shops write a currency), and more candidates for some CLDR symbols.
# Keys are compared like symbols (see _key); several codes = resolved by context.
_LOCAL_SPELLINGS: dict[str, tuple[str, ...]] = {
    # roubles, hryvnias, tenge, lev, dinars, manats, sums
    "р": ("RUB", "BYN"), "руб": ("RUB", "BYN"), "рубль": ("RUB",), "рублей": ("RUB", "BYN"),
    "рубля": ("RUB", "BYN"), "₽": ("RUB",), "грн": ("UAH",), "гривень": ("UAH",), "гривня": ("UAH",),
    "гривні": ("UAH",), "тг": ("KZT",), "тңг": ("KZT",), "теңге": ("KZT",), "тенге": ("KZT",),
    "лв": ("BGN",), "лева": ("BGN",), "дин": ("RSD",), "динара": ("RSD",), "динар": ("RSD",),
    "din": ("RSD",), "dinara": ("RSD",), "dinar": ("RSD",), "ден": ("MKD",),
    "ман": ("AZN", "TMT"), "манат": ("AZN", "TMT"), "сум": ("UZS",), "so'm": ("UZS",),
    # the rest of Europe
    "zł": ("PLN",), "zl": ("PLN",), "złotych": ("PLN",), "kč": ("CZK",), "kc": ("CZK",),
    "lei": ("RON", "MDL"), "leu": ("RON", "MDL"), "kr": ("SEK", "NOK", "DKK", "ISK"), "skr": ("SEK",),
    "kn": ("HRK",), "tl": ("TRY",), "ytl": ("TRY",), "fr": ("CHF",), "sfr": ("CHF",),
    "euro": ("EUR",), "euros": ("EUR",), "€": ("EUR",), "₤": ("GBP",),
    "£": ("GBP", "EGP", "LBP", "SYP", "FKP", "GIP", "SHP", "SSP"),
    # codes as shops also write them in lower case ("140,00 pln"), next to the amount only
    **{code.lower(): (code,) for code in (
        "EUR USD GBP CHF PLN SEK NOK DKK CZK HUF RON UAH BGN RSD AUD NZD SGD HKD BRL MXN ZAR INR "
        "JPY CNY KRW TWD THB VND IDR MYR KZT BYN AED ILS"
    ).split()},
    "rmb": ("CNY",), "nis": ("ILS",),
    "rur": ("RUB",),  # the pre-1998 code, still Yandex Market's and many Russian shops' priceCurrency
    # dollars (CLDR gives some of these in one spelling only)
    "$": (
        "USD", "CAD", "AUD", "NZD", "MXN", "SGD", "HKD", "TWD", "ARS", "CLP", "COP", "UYU", "DOP",
        "BND", "BSD", "BBD", "BZD", "BMD", "FJD", "GYD", "JMD", "KYD", "LRD", "NAD", "SBD", "SRD",
        "TTD", "XCD", "CUP",
    ),
    "us$": ("USD",), "u$s": ("USD",), "u$": ("USD",), "usd$": ("USD",), "sg$": ("SGD",),
    "j$": ("JMD",), "tt$": ("TTD",), "n$": ("NAD",), "g$": ("GYD",), "l$": ("LRD",), "$u": ("UYU",),
    "col$": ("COP",), "cop$": ("COP",), "clp$": ("CLP",), "ar$": ("ARS",), "c$": ("CAD", "NIO"),
    # East and South-East Asia
    "元": ("CNY", "TWD", "HKD", "MOP"), "圆": ("CNY",), "圓": ("TWD", "HKD", "MOP"), "块": ("CNY",),
    "塊": ("TWD",), "人民币": ("CNY",), "人民幣": ("CNY",), "新台幣": ("TWD",), "新台币": ("TWD",),
    "台幣": ("TWD",), "港幣": ("HKD",), "港币": ("HKD",), "円": ("JPY",), "日元": ("JPY",),
    "원": ("KRW",), "₩": ("KRW", "KPW"), "บาท": ("THB",), "฿": ("THB",), "rp": ("IDR",), "rm": ("MYR",),
    "đ": ("VND",), "vnđ": ("VND",), "₫": ("VND",),
    # South Asia, Middle East, Africa
    "rs": ("INR", "PKR", "LKR", "NPR", "MUR", "SCR"), "₨": ("INR", "PKR", "LKR", "NPR", "MUR", "SCR"),
    "kd": ("KWD",), "bd": ("BHD",), "qr": ("QAR",), "sr": ("SAR", "SCR"), "dhs": ("AED",),
    "dh": ("MAD", "AED"), "br": ("BYN", "ETB"), "ksh": ("KES",), "gh¢": ("GHS",), "₵": ("GHS",),
    "cfa": ("XOF", "XAF"), "fcfa": ("XAF", "XOF"), "f cfa": ("XOF", "XAF"),
    "تومان": ("IRR",), "تومن": ("IRR",), "ریال": ("IRR",), "ريال": ("SAR", "IRR", "QAR", "OMR", "YER"),
    "ر.س": ("SAR",), "درهم": ("AED", "MAD"), "جنيه": ("EGP",),
    "دينار": ("KWD", "JOD", "BHD", "IQD", "LYD", "TND", "DZD"),
    'ש"ח': ("ILS",), "ש״ח": ("ILS",), "₪": ("ILS",), "ƒ": ("XCG", "AWG"), "afl": ("AWG",),
}
# When nothing in the context picks one of a symbol's currencies: these defaults
# (the biggest market), else the currency most CLDR locales write that symbol for.
_DEFAULT_CURRENCY = {
    "$": "USD", "kr": "SEK", "£": "GBP", "¥": "JPY", "￥": "JPY", "元": "CNY", "圓": "TWD",
    "rs": "INR", "₨": "INR", "br": "BYN", "c$": "CAD", "lei": "RON", "leu": "RON", "р": "RUB",
    "руб": "RUB", "рублей": "RUB", "рубля": "RUB", "₩": "KRW", "sr": "SAR", "dh": "MAD",
    "cfa": "XOF", "fcfa": "XAF", "f cfa": "XOF", "ريال": "SAR", "ман": "AZN", "манат": "AZN",
    "ƒ": "XCG",
}
# Three-letter codes that are also words or names ("ALL", "TOP", "AMD Ryzen"): they
# count only right next to the amount, never anywhere in the text.
_WORDLIKE_CODES = frozenset(
    "ALL AMD BAM BOB CAD CUP CVE DOP GEL MAD MOP PEN PHP SOS STD TOP TRY TMT LSL ANG".split()
)
# Short Latin-letter symbols that are written on their own ("20 Rs", "RM50", "kr"):
# other symbols of one or two letters ("R", "L", "K", "KM", "P", "Q") are units and
# initials as often as money and count only when the page's context names them.
_SAFE_SHORT = frozenset("kr rs rp rm br ft kč zł zl лв tl kd sr dh đ ƒ kn fr р".split())
#: ... of which these must keep their letter case ("16.00 ft" is a length)
_CASE_SENSITIVE = frozenset({"ft"})

_BIDI_MARKS = dict.fromkeys(map(ord, "\u200e\u200f\u061c\u200b\ufeff"))
_NO_SPACE_SCRIPTS = re.compile(
    "[\u0e00-\u0eff\u1000-\u109f\u1100-\u11ff\u1780-\u17ff\u2e80-\u2fff\u3040-\u30ff"
    "\u3130-\u318f\u3400-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]"
)


def _key(symbol: str) -> str:
    """How symbols are compared: case-folded, single-spaced, without bidi marks or a final dot."""
    key = " ".join(symbol.translate(_BIDI_MARKS).split()).casefold()
    return key[:-1] if len(key) > 1 and key.endswith(".") else key


def _is_spaced_letter(char: str) -> bool:
    """A letter of a script that separates words with spaces (not CJK, Thai, ...)."""
    return char.isalpha() and not _NO_SPACE_SCRIPTS.match(char)


def _has_sign(symbol: str) -> bool:
    return any(unicodedata.category(c) == "Sc" for c in symbol)


@dataclass(frozen=True)
class _Symbol:
    """One way of writing money: its candidate ISO codes and where it may stand."""

    codes: frozenset[str]
    #: counts anywhere in a price text ("$", "€", "R$"), not only next to the amount
    anywhere: bool
    #: counts only when the context names one of the codes ("R", "L", "KM")
    needs_context: bool
    #: letter case must match (short symbols: "Ft" is forints, "ft" feet)
    exact: str | None = None


class _Tables:
    """CLDR currency symbols and names, built once (see :func:`_tables`)."""

    def __init__(self) -> None:
        current = ISO_CURRENCIES
        by_symbol: dict[str, set[str]] = {}
        spellings: dict[str, str] = {}  # key -> a spelling, for letter-case rules
        usage: dict[str, int] = {}  # "key code" -> how many locales write the symbol for the code
        names: dict[str, dict[str, set[str]]] = {}  # key -> {language: codes}
        cached = set(getattr(localedata, "_cache", {}))
        for locale in [*localedata.locale_identifiers(), "root"]:
            data = localedata.load(locale, merge_inherited=False)
            language = locale.split("_")[0]
            for code, symbol in data.get("currency_symbols", {}).items():
                key = _key(symbol)
                if code not in current or not key or key == code.casefold():
                    continue
                by_symbol.setdefault(key, set()).add(code)
                spellings.setdefault(key, symbol.translate(_BIDI_MARKS).strip())
                usage[f"{key} {code}"] = usage.get(f"{key} {code}", 0) + 1
            plural = data.get("currency_names_plural", {})
            for code, name in data.get("currency_names", {}).items():
                if code not in current:
                    continue
                for form in {name, *plural.get(code, {}).values()}:
                    key = " ".join(form.casefold().split())  # names carry no bidi marks
                    if len(key) >= 3:
                        names.setdefault(key, {}).setdefault(language, set()).add(code)
        # Babel keeps every locale it loaded: drop the ~1100 this loop added (memory,
        # and garbage-collector passes over them for the life of the process)
        for locale in set(getattr(localedata, "_cache", {})) - cached:
            localedata._cache.pop(locale, None)
        for key, codes in _LOCAL_SPELLINGS.items():
            by_symbol.setdefault(key, set()).update(c for c in codes if c in current)
            spellings.setdefault(key, key)
        self.usage = usage
        # flat strings, "de=EUR;fr=EUR", so the ~35,000 names are no containers to the GC
        self.names = {
            key: ";".join(f"{lang}={' '.join(sorted(codes))}" for lang, codes in sorted(langs.items()))
            for key, langs in names.items()
        }
        self.symbols: dict[str, _Symbol] = {}
        for key, codes in by_symbol.items():
            if codes:
                self.symbols[key] = self._symbol(key, spellings[key], frozenset(codes))
        # symbols with a currency sign or in scripts without spaces are found by one
        # regex over the text; the others are words, looked up next to the amount
        marks = sorted(
            {variant for key, symbol in self.symbols.items() if self.in_regex(key)
             for variant in {key, key.upper(), key.title(), spellings[key], spellings[key].upper()}},
            key=len, reverse=True,
        )
        self.symbol_re = re.compile(_trie_pattern(marks))

    @staticmethod
    def _symbol(key: str, spelling: str, codes: frozenset[str]) -> _Symbol:
        letters = sum(c.isalpha() for c in key)
        short = letters == len(key) and key not in _SAFE_SHORT and (
            letters == 1 and not _NO_SPACE_SCRIPTS.match(key)  # "R", "L", "ر"
            or letters == 2 and key.isascii()  # "KM", "DT", "Le"
        )
        case_matters = letters <= 2 and spelling != spelling.lower() and (
            key not in _SAFE_SHORT or key in _CASE_SENSITIVE
        )
        return _Symbol(
            codes, anywhere=_has_sign(key), needs_context=short, exact=spelling if case_matters else None
        )

    def in_regex(self, key: str) -> bool:
        return _has_sign(key) or bool(_NO_SPACE_SCRIPTS.match(key[0])) or not all(
            c.isalpha() or c in " .'ʻ’" for c in key
        )

    def name_codes(self, key: str, lang: str | None, single_word_languages: int = 3) -> frozenset[str]:
        """Codes a currency name stands for ("euros", "US dollars", "złotych polskich").

        A one-word name counts in the page's language, or when at least
        ``single_word_languages`` languages use it ("euro"); one language's word for
        a currency may be another's common noun.
        """
        encoded = self.names.get(key)
        if not encoded:
            return frozenset()
        languages = dict(part.split("=") for part in encoded.split(";"))
        if lang and lang in languages:
            return frozenset(languages[lang].split())
        if " " in key or len(languages) >= single_word_languages:
            return frozenset(" ".join(languages.values()).split())
        return frozenset()

    def default(self, key: str, codes: frozenset[str]) -> str | None:
        preferred = _DEFAULT_CURRENCY.get(key)
        if preferred in codes:
            return preferred
        counts = sorted(((self.usage.get(f"{key} {code}", 0), code) for code in codes), reverse=True)
        if len(counts) > 1 and counts[0][0] == counts[1][0]:
            return None  # nothing to tell them apart: not a guess
        return counts[0][1]


def _trie_pattern(words: list[str]) -> str:
    """One regex alternation for many literals, factored by prefix (fast to scan; longest wins)."""
    trie: dict = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def emit(node: dict) -> str:
        alternatives = [re.escape(char) + emit(child) for char, child in sorted(node.items()) if char]
        if not alternatives:
            return ""
        body = alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"
        return f"(?:{body})?" if "" in node else body

    return emit(trie)


_built: list[_Tables] = []


def _tables() -> _Tables:
    if not _built:
        _built.append(_Tables())
    return _built[0]


def warm_up() -> None:
    """Build the CLDR currency tables now (~0.75 s), not at a crawl's first price: long-lived processes
    call it at start. They are built in a child process and sent back: reading every locale's data
    leaves ~190 MB of freed memory in the process that does it, which the allocator never returns
    (the crawler's memory would be 3x what it crawls with)."""
    if _built:
        return
    try:
        context = multiprocessing.get_context("fork")
        with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
            _built.append(pool.submit(_Tables).result(timeout=120))
    except (OSError, ValueError, concurrent.futures.process.BrokenProcessPool, concurrent.futures.TimeoutError):
        _tables()  # no fork here: build them in this process


@functools.cache
def _territory_currencies(territory: str) -> frozenset[str]:
    territory = {"UK": "GB", "EL": "GR"}.get(territory.upper(), territory.upper())
    try:
        return frozenset(get_territory_currencies(territory))
    except Exception:  # noqa: BLE001 -- not a territory CLDR knows
        return frozenset()


@functools.cache
def _language_territory(language: str) -> str | None:
    """The language's most likely country (CLDR likely subtags): sv -> SE, zh -> CN, en -> US."""
    likely = get_global("likely_subtags").get(language.lower())
    if not likely:
        return None
    parts = likely.split("_")
    return next((part for part in parts[1:] if len(part) == 2 and part.isalpha()), None)


# Languages that write "1.299,00"; English-speaking pages write "1,299.00".
_COMMA_DECIMAL_LANGS = frozenset(
    "de fr es it nl pt pl cs sk sl hr sr ro ru uk bg el tr sv da nb nn no fi is hu et "
    "lv lt id vi ca eu gl".split()
)
_POINT_DECIMAL_LANGS = frozenset("en ja zh ko th he ms hi".split())


@dataclass(frozen=True)
class CurrencyContext:
    """What a page says about its money, used to resolve ambiguous symbols/separators.

    ``lang``: primary language subtag (``de``); ``region``: country subtag of the page's
    language tag or og:locale, else its country-code TLD (``ca``); ``currency``: an
    explicit ISO code the page declared elsewhere (structured data, Shopify's active
    currency, the shop's other prices).
    """

    lang: str | None = None
    region: str | None = None
    currency: str | None = None

    @property
    def decimal_separator(self) -> str | None:
        if self.region == "ch":
            return "."  # CHF 1'299.50, de-CH / fr-CH use a point
        if self.lang in _COMMA_DECIMAL_LANGS:
            return ","
        if self.lang in _POINT_DECIMAL_LANGS:
            return "."
        return None

    def pick(self, codes: frozenset[str]) -> str | None:
        """The one of ``codes`` this context names, or None.

        In order: the currency the page declared; the currency of the page's country
        (language tag / og:locale region, else the TLD); the currency of the country
        the page's language is most spoken in (CLDR likely subtags: ``sv`` -> SE -> SEK,
        ``zh`` -> CN -> CNY).
        """
        if self.currency in codes:
            return self.currency
        for territory in (self.region, self.lang and _language_territory(self.lang)):
            if territory:
                found = _territory_currencies(territory) & codes
                if found:
                    return min(found)
        return None

    def _resolve(self, key: str, symbol: "_Symbol") -> str | None:
        """The ISO code a symbol stands for on this page (see :meth:`pick`), else its default."""
        picked = self.pick(symbol.codes)
        if picked or symbol.needs_context:
            return picked
        if len(symbol.codes) == 1:
            return next(iter(symbol.codes))
        return _tables().default(key, symbol.codes)


NO_CONTEXT = CurrencyContext()


def normalize_currency(raw: str | None, context: CurrencyContext = NO_CONTEXT) -> str | None:
    """Map a currency code, symbol, local spelling or name to ISO 4217, or None.

    ``raw`` is a whole currency field ("EUR", "€", "kr", "Euro", "US Dollar"): unlike in
    price text, a lone "R" or "L" here is a currency, resolved by ``context``.
    """
    if not raw or not isinstance(raw, str):
        return None
    token = " ".join(raw.translate(_BIDI_MARKS).split())
    upper = token.upper()
    if upper in ISO_CURRENCIES:
        return upper
    key = _key(token)
    tables = _tables()
    symbol = tables.symbols.get(key)
    if symbol is not None:
        if symbol.needs_context:
            symbol = _Symbol(symbol.codes, symbol.anywhere, needs_context=False)
        return context._resolve(key, symbol)
    codes = tables.name_codes(key, context.lang, single_word_languages=1)
    if codes:
        return context._resolve(key, _Symbol(codes, anywhere=False, needs_context=False))
    return None


@functools.cache
def minor_units(currency: str | None) -> int:
    """The currency's decimal places (CLDR, through Babel): 2 for most, 0 for JPY, 3 for KWD."""
    if not currency or currency not in ISO_CURRENCIES:
        return 2
    return get_currency_precision(currency)


def normalize_amount(amount: Decimal | None, currency: str | None = None) -> Decimal | None:
    """Validate and normalize an amount (see the module docstring for the rule)."""
    if amount is None:
        return None
    try:
        if not amount.is_finite() or amount <= 0 or amount >= MAX_AMOUNT:
            return None
        places = minor_units(currency)
        amount = amount.normalize()
        if amount.as_tuple().exponent > -places:
            amount = amount.quantize(Decimal(1).scaleb(-places))
    except InvalidOperation:
        return None
    return amount


def format_amount(amount: Decimal | None, currency: str | None = None) -> str | None:
    amount = normalize_amount(amount, currency)
    return None if amount is None else format(amount, "f")


def _is_ambiguous(amount_text: str) -> bool:
    """True for "1.299" / "1,299": a single separator followed by exactly 3 digits."""
    seps = [c for c in amount_text if c in ".,"]
    if len(seps) != 1:
        return False
    tail = amount_text.rsplit(seps[0], 1)[1]
    return len(tail) == 3 and tail.isdigit()


# --- finding the amount and its currency in a price text ------------------------------

# what may stand between an amount and its symbol: "12 €", "50,- Kč", "USD: 12", "Rs. 5"
_GAP_CHARS = " :.,-–=*"
_MAX_GAP = 4
_CODE_RE = re.compile(r"(?<![^\W\d_])[A-Za-z]{3}(?![^\W\d_])")
_WORD_RE = re.compile(r"[^\W\d_]+(?:['ʻ’.][^\W\d_]+)*\.?")
_MAX_WORDS = 3
_TIMES_RE = re.compile(r" ?[xX×](?![^\W\d_])")  # "20 x Geschenkkorb", "2x 14,99 €"


def _gap_ok(gap: str) -> bool:
    return len(gap) <= _MAX_GAP and all(c in _GAP_CHARS for c in gap)


def _words_after(text: str, position: int) -> list[re.Match]:
    """Up to three words right after ``position`` (past a gap), separated by single spaces."""
    index = position
    while index < len(text) and index - position < _MAX_GAP and text[index] in _GAP_CHARS:
        index += 1
    words = []
    while len(words) < _MAX_WORDS:
        match = _WORD_RE.match(text, index)
        if not match:
            break
        words.append(match)
        index = match.end()
        if text[index : index + 1] != " ":
            break
        index += 1
    return words


def _words_before(text: str, position: int) -> list[re.Match]:
    """Up to three words ending right before ``position`` (past a gap), separated by single spaces."""
    index = position
    while index > 0 and position - index < _MAX_GAP and text[index - 1] in _GAP_CHARS:
        index -= 1
    window = max(0, index - 60)
    chain: list[re.Match] = []
    for match in reversed(list(_WORD_RE.finditer(text, window, index))):
        if match.end() != (chain[0].start() - 1 if chain else index):
            break
        if chain and text[match.end()] != " ":
            break
        if match.start() == window and window and text[window - 1].isalpha():
            break  # cut by the window: not a whole word
        chain.insert(0, match)
        if len(chain) == _MAX_WORDS:
            break
    return chain


def _currency_in(text: str, start: int, end: int, context: CurrencyContext) -> str | None:
    """The ISO currency of the amount at ``text[start:end]``, or None.

    Tokens count on word boundaries only. Ranked: an ISO code next to the amount (or
    next to its symbol: "NZD $100.70") first; then a symbol, local spelling or name next
    to the amount ("12 kr", "RM50", "749,00 euro"; names only after it); then a code
    elsewhere in the text; then a currency sign elsewhere ("From 26 to 50 €"). Letters
    that are symbols only next to an amount ("Ft", "lei", "Rs") never count elsewhere.
    """
    found = _Found(text, start, end)
    signs = _signs(found)
    _codes(found, signs)
    _words(found, context.lang)
    for _rank, _distance, key, symbol in sorted(found.tokens, key=lambda token: token[:2]):
        code = context._resolve(key, symbol)
        if code:
            return code
    return None


class _Found:
    """Currency tokens found around one amount: (rank, distance, key, symbol)."""

    def __init__(self, text: str, start: int, end: int) -> None:
        self.text, self.start, self.end = text, start, end
        self.tokens: list[tuple[int, int, str, _Symbol]] = []

    def touching(self, a: int, b: int) -> int | None:
        """The gap between ``text[a:b]`` and the amount when they touch ("12 €"), else None."""
        if b <= self.start:
            gap = self.text[b : self.start]
        elif a >= self.end:
            gap = self.text[self.end : a]
        else:
            return 0  # inside the amount text: "35€99"
        return len(gap) if _gap_ok(gap) else None

    def distance(self, a: int, b: int) -> int:
        return self.start - b if b <= self.start else a - self.end

    def add(self, rank: int, distance: int, key: str, symbol: _Symbol) -> None:
        self.tokens.append((rank, distance, key, symbol))


def _signs(found: _Found) -> list[tuple[int, int]]:
    """Symbols the regex finds: with a currency sign ("$", "R$", "€") anywhere, the
    others ("S/", "元", "원") next to the amount. Returns the spans of those next to it."""
    text, tables, near_amount = found.text, _tables(), []
    for match in tables.symbol_re.finditer(text):
        a, b = match.span()
        token = match.group()
        if (a > 0 and _is_spaced_letter(token[0]) and _is_spaced_letter(text[a - 1])) or (
            b < len(text) and _is_spaced_letter(token[-1]) and _is_spaced_letter(text[b])
        ):
            continue  # inside a word
        key = _key(token)
        symbol = tables.symbols.get(key)
        if symbol is None:
            continue
        gap = found.touching(a, b)
        if gap is not None:
            found.add(1, gap, key, symbol)
            near_amount.append((a, b))
        elif symbol.anywhere:
            found.add(3, found.distance(a, b), key, symbol)
    return near_amount


def _codes(found: _Found, signs: list[tuple[int, int]]) -> None:
    """ISO codes: next to the amount or its symbol in any case ("140,00 pln" for common
    ones), elsewhere in capitals when the code is no word ("ALL", "TOP")."""
    text = found.text
    for match in _CODE_RE.finditer(text):
        word = match.group()
        code = word.upper()
        if code not in ISO_CURRENCIES:
            continue
        a, b = match.span()
        gap = found.touching(a, b)
        if gap is None and any(  # "NZD $100.70", "$ SGD4.90": next to the amount's symbol
            (b <= sa and _gap_ok(text[b:sa])) or (sb <= a and _gap_ok(text[sb:a])) for sa, sb in signs
        ):
            gap = 0
        symbol = _Symbol(frozenset({code}), anywhere=True, needs_context=False)
        if gap is not None and (word.isupper() or code.lower() in _LOCAL_SPELLINGS):
            found.add(0, gap, code.lower(), symbol)
        elif word.isupper() and code not in _WORDLIKE_CODES:
            found.add(2, found.distance(a, b), code.lower(), symbol)


def _words(found: _Found, lang: str | None) -> None:
    """Letter symbols, local spellings and (after the amount) currency names next to it;
    the longest run of up to three words wins ("złotych polskich" over "złotych")."""
    text, tables = found.text, _tables()
    before = _words_before(text, found.start)
    after = _words_after(text, found.end)
    runs = [(before[i:], False) for i in range(len(before))]
    runs += [(after[:n], True) for n in range(len(after), 0, -1)]
    done = set()
    for run, is_after in runs:
        if is_after in done:
            continue
        phrase = text[run[0].start() : run[-1].end()]
        key = _key(phrase)
        gap = run[0].start() - found.end if is_after else found.start - run[-1].end()
        symbol = tables.symbols.get(key)
        if symbol is not None and not tables.in_regex(key):
            if symbol.exact and phrase.rstrip(".") != symbol.exact.rstrip("."):
                continue  # "ft" is no "Ft"
            found.add(1, gap, key, symbol)
            done.add(is_after)
        elif is_after:
            codes = tables.name_codes(key, lang)
            if codes:
                found.add(1, gap, key, _Symbol(codes, anywhere=False, needs_context=False))
                done.add(is_after)


def _locate(text: str, amount_text: str) -> tuple[int, int]:
    """Where price-parser's amount text is in ``text`` (the first not followed by "%")."""
    index = text.find(amount_text)
    while index >= 0:
        after = text[index + len(amount_text) :].lstrip()
        before = text[index - 1] if index else ""
        if not after.startswith("%") and not before.isdigit():
            return index, index + len(amount_text)
        index = text.find(amount_text, index + 1)
    # price-parser dropped a separator ("1'299.50" -> "1299.50"): the first number run
    match = re.search(r"\.?\d(?:[\d.,'’ ]*\d)?", text)
    return (match.start(), match.end()) if match else (0, 0)


_SIGN_RE = re.compile(r"[-−–](\s*)[^\d\s]{0,4}\s*$")


def _is_negative(text: str, start: int) -> bool:
    """A minus sign before the amount: "-5 €", "-€5", "€ -5", "- $44.99" (a discount line).

    The sign touches the number or its symbol, and follows a space or starts the text;
    a dash with a space after it that follows other text is a separator ("2 Piece -
    $6.75", "Sale – £5"), and a hyphen after a letter is part of a word ("SKU-123").
    """
    match = _SIGN_RE.search(text, 0, start)
    if not match:
        return False
    before = text[: match.start()]
    if match.group(1):  # "- $44.99": only as the start of the text
        return not before.strip()
    return not before or not before[-1].isalnum()


def _parse(
    text: str, decimal_separator: str | None, context: CurrencyContext, allow_negative: bool = False
):
    text = " ".join(text.translate(_BIDI_MARKS).split())
    offset = 0
    for _ in range(3):  # skip quantities: "20 x Geschenkkorb ...", "2 x 14,99 €"
        rest = text[offset:]
        price = Price.fromstring(rest)
        if price.amount_text and decimal_separator and _is_ambiguous(price.amount_text):
            price = Price.fromstring(rest, decimal_separator=decimal_separator)
        if price.amount is None or not price.amount_text:
            return None, None
        start, end = _locate(rest, price.amount_text)
        quantity = _TIMES_RE.match(rest, end)
        if not quantity:
            start, end = start + offset, end + offset
            break
        offset += quantity.end()
    else:
        return None, None
    digits = sum(c.isdigit() for c in price.amount_text)
    if digits > MAX_AMOUNT_DIGITS:
        return None, None
    negative = _is_negative(text, start)
    if negative and not allow_negative:
        return None, None
    currency = _currency_in(text, start, end, context)
    amount = price.amount
    if decimal_separator is None and minor_units(currency) == 3 and "." in price.amount_text:
        if _is_ambiguous(price.amount_text):  # "KD 12.500": three decimals, not thousands
            amount = Price.fromstring(text[offset:], decimal_separator=".").amount
    amount = normalize_amount(amount, currency)
    if amount is None:
        return None, None
    return (-amount if negative else amount), currency


def parse_price(
    value, context: CurrencyContext = NO_CONTEXT, *, machine: bool = False, allow_negative: bool = False
) -> tuple[Decimal | None, str | None]:
    """Parse one price value -> (amount, ISO currency); (None, None) when unusable.

    ``value`` may be a number (JSON), a machine string ("1299.00") or display text
    ("1.299,00 €"). With ``machine=True`` (structured data, meta tags, data
    attributes) a bare ambiguous number follows schema.org's "." decimal separator;
    text that carries symbols or words is treated as display text either way.

    Negative amounts ("-5 €", "€ -5", a "- $44.99" discount line) are not prices:
    (None, None) -- unless ``allow_negative``, for callers that read discounts, credits
    or refunds: then the amount comes back negative, ``(Decimal("-44.99"), "USD")``.
    """
    if value is None or isinstance(value, bool):
        return None, None
    if isinstance(value, (int, float, Decimal)):
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            return None, None
        return _signed(amount, context.currency, allow_negative), None
    if isinstance(value, list):
        value = value[0] if value else None
    if not isinstance(value, str):
        return None, None
    text = value.strip()
    if not text or len(text) > 200:
        return None, None
    if machine and _is_plain_decimal(text):  # "189.95": schema.org's own number format
        return normalize_amount(Decimal(text), context.currency), None
    is_bare_number = machine and all(c.isdigit() or c in ".," for c in text)
    separator = "." if is_bare_number else context.decimal_separator
    return _parse(text, separator, context, allow_negative)


def _signed(amount: Decimal, currency: str | None, allow_negative: bool) -> Decimal | None:
    if allow_negative and amount.is_finite() and amount < 0:
        normalized = normalize_amount(-amount, currency)
        return None if normalized is None else -normalized
    return normalize_amount(amount, currency)


def _is_plain_decimal(text: str) -> bool:
    """Digits with at most one "." and no grouping: exact for :class:`Decimal` as is."""
    whole, _dot, fraction = text.partition(".")
    return whole.isdigit() and (not fraction or fraction.isdigit()) and len(whole) <= MAX_AMOUNT_DIGITS


def _day(value) -> datetime.date | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


def is_current(valid_from=None, valid_through=None, today: datetime.date | None = None) -> bool:
    """Whether a price valid from/through these ISO dates applies today (unparseable = open)."""
    today = today or datetime.date.today()
    start, end = _day(valid_from), _day(valid_through)
    return (start is None or start <= today) and (end is None or today <= end)


# --- "Was £20 Now £15" ------------------------------------------------------------

_WAS_WORDS = (
    r"was|previously|before|regular price|normal price|list price|original price|rrp|msrp|"
    r"compare at|statt|vorher|uvp|alter preis|avant|prix initial|au lieu de|"
    r"prix de référence|antes|precio anterior|precio original|prima|invece di|"
    r"prezzo di listino|van|oude prijs|adviesprijs"
)
_NOW_WORDS = (
    r"now|sale price|our price|special price|offer price|jetzt|nur|neuer preis|"
    r"maintenant|prix promo|ahora|precio oferta|ora|adesso|nu|nieuwe prijs|voor"
)
_WAS_NOW_RE = re.compile(rf"(?i)(?<!\w)(?:({_WAS_WORDS})|({_NOW_WORDS}))(?!\w)\s*:?")


def _split_former(segment: str) -> tuple[str, str]:
    """A "was" segment holds one amount: ("€ 20,00", the rest that follows it)."""
    amount_text = Price.fromstring(segment).amount_text
    index = segment.find(amount_text) if amount_text else -1
    if index < 0:
        return segment, ""
    end = index + len(amount_text)
    return segment[:end], segment[end:]


def current_price_segments(text: str) -> tuple[list[str], list[str]]:
    """Split a short price text into (current, former) segments by was/now words.

    "Was £20 Now £15" -> (["", " ", "£15"], ["£20"]); "UVP 1.599 € 1.299 €" ->
    (["", " € 1.299 €"], ["1.599"]): a "was" word covers the one amount after it.
    Text without such words is a single current segment.
    """
    current, former = [], []
    pos, is_former = 0, False

    def close(segment: str) -> None:
        if is_former:
            was, rest = _split_former(segment)
            former.append(was)
            current.append(rest)
        else:
            current.append(segment)

    for match in _WAS_NOW_RE.finditer(text):
        close(text[pos : match.start()])
        is_former = match.group(1) is not None
        pos = match.end()
    close(text[pos:])
    return current, former


def parse_display_price(text: str, context: CurrencyContext = NO_CONTEXT, *, allow_negative: bool = False):
    """Parse visible price text, skipping "was"/"RRP" amounts -> (amount, currency)."""
    current, _former = current_price_segments(text)
    for segment in current:
        if any(c.isdigit() for c in segment):
            amount, currency = parse_price(segment, context, allow_negative=allow_negative)
            if amount is not None:
                return amount, currency
    return None, None


def has_was_words(text: str) -> bool:
    match = _WAS_NOW_RE.search(text)
    return bool(match and match.group(1))


# --- availability -----------------------------------------------------------------

_SCHEMA_TOKENS = {
    "instock": "InStock",
    "instoreonly": "InStock",
    "onlineonly": "InStock",
    "available": "InStock",
    "outofstock": "OutOfStock",
    "soldout": "OutOfStock",
    "oos": "OutOfStock",
    "unavailable": "OutOfStock",
    "preorder": "PreOrder",
    "presale": "PreOrder",
    "backorder": "BackOrder",
    "onbackorder": "BackOrder",
    "madetoorder": "BackOrder",
    "availablefororder": "BackOrder",
    "limitedavailability": "LimitedAvailability",
    "discontinued": "Discontinued",
}

# Phrases, most specific first: a negative phrase ("nicht vorrätig", "non disponibile")
# starts before the positive word it contains, so the leftmost match wins.
_PHRASES = (
    ("Discontinued", r"discontinued|no longer available|nicht mehr (?:erhältlich|lieferbar|verfügbar)"
     r"|n'est plus disponible|plus commercialisé|descatalogado|fuori produzione|uit assortiment"),
    ("OutOfStock", r"out[ -]of[ -]stock|sold[ -]out|currently unavailable|temporarily unavailable"
     r"|not (?:currently )?(?:available|in stock)|unavailable|ausverkauft|nicht (?:vorrätig|auf lager"
     r"|verfügbar|lieferbar)|derzeit nicht|vergriffen|rupture de stock|en rupture|épuisée?s?"
     r"|indisponible|hors stock|(?:pas|plus) en stock|non disponible|agotad[oa]s?|sin stock"
     r"|sin existencias|fuera de stock|no disponible|esaurit[oa]|non disponibil[ei]|fuori stock"
     r"|non in stock|uitverkocht|niet (?:op voorraad|leverbaar|beschikbaar)|back in stock soon"
     r"|notify me when (?:it's )?available|bald wieder (?:verfügbar|erhältlich|lieferbar)"
     r"|bientôt disponible|próximamente|prossimamente|binnenkort (?:leverbaar|beschikbaar)"),
    ("PreOrder", r"pre[- ]?order|vorbestell(?:en|ung|bar)|pré-?commande|precompra|en preventa"
     r"|preordine|pre-ordine|voorbestellen|vooruitbestellen"),
    ("BackOrder", r"(?:on |available on )?back[- ]?order(?:ed)?|nachbestellt|in nachbestellung"
     r"|en réapprovisionnement|sur commande|bajo pedido|su ordinazione|in nabestelling"),
    ("LimitedAvailability", r"limited (?:availability|stock)|low stock|few left|nur noch wenige"
     r"|wenige auf lager|stock limité|quedan pocas|últimas unidades|ultimi pezzi"
     r"|disponibilità limitata|beperkte voorraad|bijna uitverkocht"),
    ("InStock", r"in[ -]?stock|ready to ship|auf lager|an lager|am lager|lagernd|vorrätig|sofort lieferbar"
     r"|lieferbar|en stock|en existencia|hay existencias|in magazzino|op voorraad|leverbaar"
     r"|only \d+ left|nur noch \d+|(?:available|verfügbar|disponibles?|disponibil[ei]|beschikbaar)"
     r"(?!\s+(?:in|en|from|on|for|at|ab|dans|à|a|da|dal|desde|vanaf|op|to|with)\b)"),
)
_PHRASE_RE = re.compile(
    r"(?<!\w)(?:"
    + "|".join(f"(?P<{name}>{pattern})" for name, pattern in _PHRASES)
    + r")(?!\w)",
    re.IGNORECASE,
)
_QUANTITY_RE = re.compile(
    r"(?i)(?<![\d.,])(\d{1,6})\s*(?:x\s*)?(?:items?\s+|pieces?\s+|stück\s+|pcs\.?\s+)?"
    r"(?:available|in stock|left|auf lager|verfügbar|vorrätig|en stock|disponibles?|en existencia"
    r"|disponibili|op voorraad|beschikbaar)"
    r"|(?:only|nur noch|plus que|seulement|quedan|solo|soltanto|nog maar)\s+(\d{1,6})(?!\d)"
)


# class names shops put on stock labels and product containers (WooCommerce, Oscar, ...)
_STOCK_CLASS_TOKENS = {
    "instock": "InStock",
    "in-stock": "InStock",
    "available": "InStock",
    "outofstock": "OutOfStock",
    "out-of-stock": "OutOfStock",
    "soldout": "OutOfStock",
    "sold-out": "OutOfStock",
    "unavailable": "OutOfStock",
    "onbackorder": "BackOrder",
    "available-on-backorder": "BackOrder",
}


def availability_from_classes(classes: str) -> str | None:
    """Availability from class tokens such as ``stock in-stock`` or ``product outofstock``."""
    for token in classes.lower().split():
        if token in _STOCK_CLASS_TOKENS:
            return _STOCK_CLASS_TOKENS[token]
    return None


def availability_from_text(text: str | None) -> str | None:
    """Availability from a short visible phrase in en/de/fr/es/it/nl, or None."""
    if not text:
        return None
    match = _PHRASE_RE.search(text)
    return match.lastgroup if match else None


def stock_quantity_from_text(text: str | None) -> int | None:
    """"In stock (22 available)" -> 22; "Only 3 left" -> 3; else None."""
    if not text:
        return None
    match = _QUANTITY_RE.search(text)
    if not match:
        return None
    return int(match.group(1) or match.group(2))


def normalize_availability(value) -> str | None:
    """Map schema.org URLs/names, feed tokens, booleans or phrases to the vocabulary."""
    if isinstance(value, bool):
        return "InStock" if value else "OutOfStock"
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("@id") or value.get("@value") or value.get("name")
    if not isinstance(value, str) or not value.strip():
        return None
    token = value.strip().rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    key = "".join(c for c in token.lower() if c.isalpha())
    if key in _SCHEMA_TOKENS:
        return _SCHEMA_TOKENS[key]
    return availability_from_text(value)
