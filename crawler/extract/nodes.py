"""schema.org nodes as plain dicts (JSON-LD-like, from every syntax): their short type
names, first/list/text values, ``@id`` references and URL keys."""

from __future__ import annotations

import html
from typing import Any

from w3lib.url import canonicalize_url

from .page import clean_text


def short_name(value: Any) -> str:
    """ "http://schema.org/Product" / "schema:Product" -> "Product"."""
    if not isinstance(value, str):
        return ""
    return value.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1].rsplit("#", 1)[-1]


def types_of(node: dict) -> set[str]:
    raw = node.get("@type") or node.get("type") or ()
    if not isinstance(raw, (list, tuple)):
        raw = (raw,)
    return {short_name(t) for t in raw if isinstance(t, str)}


def first(value: Any) -> Any:
    while isinstance(value, list):
        value = value[0] if value else None
    return value


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def text_value(value: Any) -> str | None:
    value = first(value)
    if isinstance(value, dict):
        value = value.get("name") or value.get("@value")
        value = first(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None
    value = clean_text(html.unescape(value) if "&" in value else value)
    return value or None


def url_key(url: Any) -> str | None:
    if not isinstance(url, str) or not url.strip():
        return None
    try:
        return canonicalize_url(url.strip()).rstrip("/")
    except ValueError:
        return None


def _resolve(value: Any, index: dict[str, dict]) -> Any:
    """A ``{"@id": ...}`` reference -> the node it names in the same document."""
    if isinstance(value, dict) and set(value) <= {"@id", "@type"}:
        ref = value.get("@id")
        if isinstance(ref, str) and ref in index:
            return index[ref]
    return value
