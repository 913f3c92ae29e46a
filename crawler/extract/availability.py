"""Availability: schema.org values, feed tokens, visible phrases and class names -> the vocabulary.

:func:`normalize_availability` maps schema.org URLs/names, feed tokens and booleans to
one of :data:`AVAILABILITY_VALUES`; :func:`availability_from_text` reads a short visible
phrase in en/de/fr/es/it/nl, :func:`availability_from_classes` a stock label's class
names, and :func:`stock_quantity_from_text` a count ("Only 3 left").
"""

from __future__ import annotations

import re

from core.vocabulary import AVAILABILITY

#: availability vocabulary (schema.org ItemAvailability names)
AVAILABILITY_VALUES = AVAILABILITY

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
    (
        "Discontinued",
        r"discontinued|no longer available|nicht mehr (?:erhältlich|lieferbar|verfügbar)"
        r"|n'est plus disponible|plus commercialisé|descatalogado|fuori produzione|uit assortiment",
    ),
    (
        "OutOfStock",
        r"out[ -]of[ -]stock|sold[ -]out|currently unavailable|temporarily unavailable"
        r"|not (?:currently )?(?:available|in stock)|unavailable|ausverkauft|nicht (?:vorrätig|auf lager"
        r"|verfügbar|lieferbar)|derzeit nicht|vergriffen|rupture de stock|en rupture|épuisée?s?"
        r"|indisponible|hors stock|(?:pas|plus) en stock|non disponible|agotad[oa]s?|sin stock"
        r"|sin existencias|fuera de stock|no disponible|esaurit[oa]|non disponibil[ei]|fuori stock"
        r"|non in stock|uitverkocht|niet (?:op voorraad|leverbaar|beschikbaar)|back in stock soon"
        r"|notify me when (?:it's )?available|bald wieder (?:verfügbar|erhältlich|lieferbar)"
        r"|bientôt disponible|próximamente|prossimamente|binnenkort (?:leverbaar|beschikbaar)",
    ),
    (
        "PreOrder",
        r"pre[- ]?order|vorbestell(?:en|ung|bar)|pré-?commande|precompra|en preventa"
        r"|preordine|pre-ordine|voorbestellen|vooruitbestellen",
    ),
    (
        "BackOrder",
        r"(?:on |available on )?back[- ]?order(?:ed)?|nachbestellt|in nachbestellung"
        r"|en réapprovisionnement|sur commande|bajo pedido|su ordinazione|in nabestelling",
    ),
    (
        "LimitedAvailability",
        r"limited (?:availability|stock)|low stock|few left|nur noch wenige"
        r"|wenige auf lager|stock limité|quedan pocas|últimas unidades|ultimi pezzi"
        r"|disponibilità limitata|beperkte voorraad|bijna uitverkocht",
    ),
    (
        "InStock",
        r"in[ -]?stock|ready to ship|auf lager|an lager|am lager|lagernd|vorrätig|sofort lieferbar"
        r"|lieferbar|en stock|en existencia|hay existencias|in magazzino|op voorraad|leverbaar"
        r"|only \d+ left|nur noch \d+|(?:available|verfügbar|disponibles?|disponibil[ei]|beschikbaar)"
        r"(?!\s+(?:in|en|from|on|for|at|ab|dans|à|a|da|dal|desde|vanaf|op|to|with)\b)",
    ),
)
_PHRASE_RE = re.compile(
    r"(?<!\w)(?:" + "|".join(f"(?P<{name}>{pattern})" for name, pattern in _PHRASES) + r")(?!\w)",
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
    """ "In stock (22 available)" -> 22; "Only 3 left" -> 3; else None."""
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
