"""Currencies: ISO codes from fields and from price texts, resolved by the page's context.

:func:`normalize_currency` maps a whole currency field (a code, symbol, local spelling
or name) to ISO 4217; :func:`_currency_in` finds the currency of one amount in a price
text. A symbol several currencies share (``$``, ``kr``, ``¥``, ``元``, ``£``) is resolved
by the page's context (:meth:`CurrencyContext.pick`: the currency the page declared, its
country from ``<html lang>``/og:locale or TLD, its language's country) and else by a
default (see :mod:`.currency_tables`). An ISO code next to the amount ("USD 12", "NZD
$100.70") always wins. Symbols and words count on word boundaries only ("lei" is not in
"kleine"), and letters that are money only next to a number ("Ft", "lei", "Rs", "R")
never count elsewhere in the text. :func:`minor_units` gives a currency's decimals.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from babel.core import get_global
from babel.numbers import get_currency_precision, get_territory_currencies

from .currency_tables import (
    _BIDI_MARKS,
    _LOCAL_SPELLINGS,
    _WORDLIKE_CODES,
    ISO_CURRENCIES,
    _is_spaced_letter,
    _key,
    _Symbol,
    _tables,
)


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
    [
        "de",
        "fr",
        "es",
        "it",
        "nl",
        "pt",
        "pl",
        "cs",
        "sk",
        "sl",
        "hr",
        "sr",
        "ro",
        "ru",
        "uk",
        "bg",
        "el",
        "tr",
        "sv",
        "da",
        "nb",
        "nn",
        "no",
        "fi",
        "is",
        "hu",
        "et",
        "lv",
        "lt",
        "id",
        "vi",
        "ca",
        "eu",
        "gl",
    ]
)
_POINT_DECIMAL_LANGS = frozenset(["en", "ja", "zh", "ko", "th", "he", "ms", "hi"])


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

    def _resolve(self, key: str, symbol: _Symbol) -> str | None:
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


# --- finding the amount and its currency in a price text ------------------------------

# what may stand between an amount and its symbol: "12 €", "50,- Kč", "USD: 12", "Rs. 5"
_GAP_CHARS = " :.,-–=*"
_MAX_GAP = 4
_CODE_RE = re.compile(r"(?<![^\W\d_])[A-Za-z]{3}(?![^\W\d_])")
_WORD_RE = re.compile(r"[^\W\d_]+(?:['ʻ’.][^\W\d_]+)*\.?")
_MAX_WORDS = 3


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
        if (
            gap is None
            and any(  # "NZD $100.70", "$ SGD4.90": next to the amount's symbol
                (b <= sa and _gap_ok(text[b:sa])) or (sb <= a and _gap_ok(text[sb:a])) for sa, sb in signs
            )
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
