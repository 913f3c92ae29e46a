"""Prices: the amount and currency of a price value or text.

The amount in a price text is always read by :class:`price_parser.Price` (only a plain
machine number from structured data, such as ``"189.95"``, goes straight to
``Decimal``); this module decides *which* text to hand it, which decimal separator to
hint when the text is ambiguous, and how to map what it finds to the project's
vocabulary:

* amounts become :class:`~decimal.Decimal` normalized by :func:`normalize_amount`;
* the currency of a price text, found next to its amount, is an ISO 4217 code
  (:mod:`.currencies`);
* a "was" price ("Was £20 Now £15", "UVP") is not the current price
  (:func:`parse_display_price`).

Availability is read by :mod:`.availability`.

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

import datetime
import re
from decimal import Decimal, InvalidOperation

from price_parser import Price

from core.vocabulary import MAX_PRICE

from .currencies import NO_CONTEXT, CurrencyContext, _currency_in, minor_units
from .currency_tables import _BIDI_MARKS

# Prices outside (0, MAX_AMOUNT) are garbage ("0", "call us" parsed as digits, ids).
MAX_AMOUNT = MAX_PRICE
MAX_AMOUNT_DIGITS = 12

_TIMES_RE = re.compile(r" ?[xX×](?![^\W\d_])")  # "20 x Geschenkkorb", "2x 14,99 €"


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


def _parse(text: str, decimal_separator: str | None, context: CurrencyContext, allow_negative: bool = False):
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
