"""Currency tables from CLDR (through Babel), built once per process.

Every locale's currency symbols and names, plus a short table of local spellings CLDR
does not print (``руб.``, ``тг.``, ``원``, ``Rs``, ``KD``). A symbol maps to every ISO
code any locale writes it for (``$`` -> USD, CAD, AUD, ...; ``kr`` -> SEK, NOK, DKK,
ISK); :meth:`.currencies.CurrencyContext.pick` or a default (``$`` USD, ``kr`` SEK,
``¥`` JPY, ``£`` GBP) picks one. :func:`warm_up` builds the tables in a child process
so the reading of every locale's data does not stay in the crawler's memory.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import multiprocessing
import re
import unicodedata
from dataclasses import dataclass

from babel import localedata
from babel.core import get_global
from babel.numbers import get_currency_precision, get_territory_currencies

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
# a table: several spellings a line reads better than one a line
# fmt: off
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
    **{code.lower(): (code,) for code in (  # noqa: SIM905 -- a list of codes, written as they are read
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
# fmt: on
# When nothing in the context picks one of a symbol's currencies: these defaults
# (the biggest market), else the currency most CLDR locales write that symbol for.
_DEFAULT_CURRENCY = {
    "$": "USD",
    "kr": "SEK",
    "£": "GBP",
    "¥": "JPY",
    "￥": "JPY",
    "元": "CNY",
    "圓": "TWD",
    "rs": "INR",
    "₨": "INR",
    "br": "BYN",
    "c$": "CAD",
    "lei": "RON",
    "leu": "RON",
    "р": "RUB",
    "руб": "RUB",
    "рублей": "RUB",
    "рубля": "RUB",
    "₩": "KRW",
    "sr": "SAR",
    "dh": "MAD",
    "cfa": "XOF",
    "fcfa": "XAF",
    "f cfa": "XOF",
    "ريال": "SAR",
    "ман": "AZN",
    "манат": "AZN",
    "ƒ": "XCG",
}
# Three-letter codes that are also words or names ("ALL", "TOP", "AMD Ryzen"): they
# count only right next to the amount, never anywhere in the text.
_WORDLIKE_CODES = frozenset(
    [
        "ALL",
        "AMD",
        "BAM",
        "BOB",
        "CAD",
        "CUP",
        "CVE",
        "DOP",
        "GEL",
        "MAD",
        "MOP",
        "PEN",
        "PHP",
        "SOS",
        "STD",
        "TOP",
        "TRY",
        "TMT",
        "LSL",
        "ANG",
    ]
)
# Short Latin-letter symbols that are written on their own ("20 Rs", "RM50", "kr"):
# other symbols of one or two letters ("R", "L", "K", "KM", "P", "Q") are units and
# initials as often as money and count only when the page's context names them.
_SAFE_SHORT = frozenset(
    ["kr", "rs", "rp", "rm", "br", "ft", "kč", "zł", "zl", "лв", "tl", "kd", "sr", "dh", "đ", "ƒ", "kn", "fr", "р"]
)
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
            {
                variant
                for key, symbol in self.symbols.items()
                if self.in_regex(key)
                for variant in {key, key.upper(), key.title(), spellings[key], spellings[key].upper()}
            },
            key=len,
            reverse=True,
        )
        self.symbol_re = re.compile(_trie_pattern(marks))

    @staticmethod
    def _symbol(key: str, spelling: str, codes: frozenset[str]) -> _Symbol:
        letters = sum(c.isalpha() for c in key)
        short = (
            letters == len(key)
            and key not in _SAFE_SHORT
            and (
                (letters == 1 and not _NO_SPACE_SCRIPTS.match(key))  # "R", "L", "ر"
                or (letters == 2 and key.isascii())  # "KM", "DT", "Le"
            )
        )
        case_matters = (
            letters <= 2 and spelling != spelling.lower() and (key not in _SAFE_SHORT or key in _CASE_SENSITIVE)
        )
        return _Symbol(codes, anywhere=_has_sign(key), needs_context=short, exact=spelling if case_matters else None)

    def in_regex(self, key: str) -> bool:
        return (
            _has_sign(key) or bool(_NO_SPACE_SCRIPTS.match(key[0])) or not all(c.isalpha() or c in " .'ʻ’" for c in key)
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
