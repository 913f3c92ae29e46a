"""Normalization of prices, currencies and availability, on top of price-parser.

Price text is always parsed by :class:`price_parser.Price` (only a plain machine
number from structured data, such as ``"189.95"``, goes straight to ``Decimal``); this
module decides *which* text to hand it, which decimal separator to hint when the text
is ambiguous, and how to map what it returns to the project's vocabulary:

* amounts become :class:`~decimal.Decimal` normalized by :func:`normalize_amount`;
* currencies become ISO 4217 codes (:func:`normalize_currency`);
* availability becomes one of :data:`AVAILABILITY_VALUES` (:func:`normalize_availability`).

Decimal rule (used by ``ExtractedProduct.to_json``): an amount keeps at least the
currency's minor units -- 2 for most currencies (``51.77``, ``1299.00``), 0 for
JPY/KRW/... (``1299``), 3 for KWD/BHD/... -- and keeps any extra precision the page
gave (``9.999``); trailing zeros beyond the minor units are dropped (``15.000`` ->
``15.00``). Without a known currency, 2 decimals.

Ambiguous separators (``1.299`` / ``1,299``: one separator followed by exactly three
digits) are resolved per origin: a bare machine number from structured data follows
schema.org (``.`` is the decimal separator); human-readable text follows the page's
language (``de``, ``fr``, ... -> ``,`` is decimal, so ``1.299 €`` is 1299), and
without a language hint price-parser's own guess (thousands) stands.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from price_parser import Price

#: availability vocabulary (schema.org ItemAvailability names)
AVAILABILITY_VALUES = (
    "InStock",
    "OutOfStock",
    "PreOrder",
    "BackOrder",
    "LimitedAvailability",
    "Discontinued",
)

# Prices outside (0, MAX_AMOUNT) are garbage ("0", "call us" parsed as digits, ids).
MAX_AMOUNT = Decimal("1000000000")
MAX_AMOUNT_DIGITS = 12

ISO_CURRENCIES = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL
    BSD BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN
    ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR
    ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL
    MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN
    PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP
    STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV
    WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG ZWL""".split()
)
ZERO_DECIMAL_CURRENCIES = frozenset(
    "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF".split()
)
THREE_DECIMAL_CURRENCIES = frozenset("BHD IQD JOD KWD LYD OMR TND".split())

# Symbols and local spellings price-parser may return, keyed in lower case.
# "$", "kr", "¥" and "R" are resolved with the page context (see CurrencyContext).
_SYMBOLS = {
    "£": "GBP", "€": "EUR", "euro": "EUR", "eur": "EUR", "us$": "USD", "usd": "USD",
    "ca$": "CAD", "c$": "CAD", "can$": "CAD", "a$": "AUD", "au$": "AUD", "nz$": "NZD",
    "hk$": "HKD", "s$": "SGD", "mx$": "MXN", "r$": "BRL", "nt$": "TWD", "円": "JPY",
    "₹": "INR", "rs": "INR", "rs.": "INR", "₩": "KRW", "₽": "RUB", "руб": "RUB",
    "руб.": "RUB", "₺": "TRY", "tl": "TRY", "zł": "PLN", "zl": "PLN", "kč": "CZK",
    "ft": "HUF", "lei": "RON", "₪": "ILS", "nis": "ILS", "฿": "THB", "₫": "VND",
    "₱": "PHP", "₴": "UAH", "chf": "CHF", "fr.": "CHF", "sfr.": "CHF", "fr": "CHF",
    "rmb": "CNY", "元": "CNY", "лв": "BGN", "лв.": "BGN", "kn": "HRK", "₦": "NGN",
}
_DOLLAR_BY_REGION = {
    "ca": "CAD", "au": "AUD", "nz": "NZD", "mx": "MXN", "sg": "SGD", "hk": "HKD",
    "tw": "TWD", "ar": "ARS", "cl": "CLP", "co": "COP",
}
_DOLLAR_CURRENCIES = frozenset(
    "USD CAD AUD NZD SGD HKD TWD MXN ARS CLP COP BSD BBD BZD BMD BND FJD GYD JMD KYD LRD "
    "NAD SBD SRD TTD XCD".split()
)
_KRONA_BY_LANG = {"sv": "SEK", "da": "DKK", "nb": "NOK", "nn": "NOK", "no": "NOK", "is": "ISK"}
_KRONA_BY_REGION = {"se": "SEK", "dk": "DKK", "no": "NOK", "is": "ISK"}

# Languages that write "1.299,00"; English-speaking pages write "1,299.00".
_COMMA_DECIMAL_LANGS = frozenset(
    "de fr es it nl pt pl cs sk sl hr sr ro ru uk bg el tr sv da nb nn no fi is hu et "
    "lv lt id vi ca eu gl".split()
)
_POINT_DECIMAL_LANGS = frozenset("en ja zh ko th he ms hi".split())


@dataclass(frozen=True)
class CurrencyContext:
    """What a page says about its money, used to resolve ambiguous symbols/separators.

    ``lang``: primary language subtag (``de``); ``region``: country subtag or
    country-code TLD (``ca``); ``currency``: an explicit ISO code the page declared
    elsewhere (structured data, Shopify's active currency).
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


NO_CONTEXT = CurrencyContext()


def normalize_currency(raw: str | None, context: CurrencyContext = NO_CONTEXT) -> str | None:
    """Map a currency code, symbol or local spelling to ISO 4217, or None."""
    if not raw or not isinstance(raw, str):
        return None
    token = raw.strip()
    upper = token.upper()
    if upper in ISO_CURRENCIES:
        return upper
    low = token.lower()
    if low in _SYMBOLS:
        return _SYMBOLS[low]
    declared = context.currency if context.currency in ISO_CURRENCIES else None
    if low == "$":
        if declared in _DOLLAR_CURRENCIES:
            return declared
        return _DOLLAR_BY_REGION.get(context.region or "", "USD")
    if low in ("kr", "kr."):
        if declared in ("SEK", "DKK", "NOK", "ISK"):
            return declared
        return _KRONA_BY_LANG.get(context.lang or "") or _KRONA_BY_REGION.get(context.region or "")
    if low in ("¥", "￥"):
        if declared in ("JPY", "CNY"):
            return declared
        return "CNY" if context.lang == "zh" else "JPY"
    if low == "r":
        return "ZAR"
    return None


def minor_units(currency: str | None) -> int:
    if currency in ZERO_DECIMAL_CURRENCIES:
        return 0
    if currency in THREE_DECIMAL_CURRENCIES:
        return 3
    return 2


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


_SIGN_BEFORE_RE = re.compile(r"[-−–]\s*[^\d\s]{0,4}\s*$")


def _is_negative(text: str, amount_text: str) -> bool:
    """A minus sign right before the amount (possibly before its symbol): "-5 €", "€ -5"."""
    index = text.find(amount_text)
    if index < 0:  # price-parser dropped a separator ("1'299.50"): cut at the first digit
        index = next((i for i, c in enumerate(text) if c.isdigit()), 0)
    return bool(_SIGN_BEFORE_RE.search(text[:index]))


def _parse(text: str, decimal_separator: str | None, context: CurrencyContext):
    price = Price.fromstring(text)
    if price.amount_text and decimal_separator and _is_ambiguous(price.amount_text):
        price = Price.fromstring(text, decimal_separator=decimal_separator)
    if price.amount is None or not price.amount_text:
        return None, None
    digits = sum(c.isdigit() for c in price.amount_text)
    if digits > MAX_AMOUNT_DIGITS or _is_negative(text, price.amount_text):
        return None, None
    currency = normalize_currency(price.currency, context)
    amount = normalize_amount(price.amount, currency)
    return (amount, currency) if amount is not None else (None, None)


def parse_price(
    value, context: CurrencyContext = NO_CONTEXT, *, machine: bool = False
) -> tuple[Decimal | None, str | None]:
    """Parse one price value -> (amount, ISO currency); (None, None) when unusable.

    ``value`` may be a number (JSON), a machine string ("1299.00") or display text
    ("1.299,00 €"). With ``machine=True`` (structured data, meta tags, data
    attributes) a bare ambiguous number follows schema.org's "." decimal separator;
    text that carries symbols or words is treated as display text either way.
    """
    if value is None or isinstance(value, bool):
        return None, None
    if isinstance(value, (int, float, Decimal)):
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            return None, None
        return normalize_amount(amount, context.currency), None
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
    return _parse(text, separator, context)


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


def parse_display_price(text: str, context: CurrencyContext = NO_CONTEXT):
    """Parse visible price text, skipping "was"/"RRP" amounts -> (amount, currency)."""
    current, _former = current_price_segments(text)
    for segment in current:
        if any(c.isdigit() for c in segment):
            amount, currency = parse_price(segment, context)
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
