"""Microdata stage: ``itemscope``/``itemprop`` read by extruct on the shared tree."""

from __future__ import annotations

from typing import Any

from extruct.w3cmicrodata import MicrodataExtractor

from .page import Page, page_cached
from .product import Found
from .schemaorg import product_found

_EXTRACTOR = MicrodataExtractor()


def to_node(value: Any) -> Any:
    """extruct's ``{"type", "properties"}`` items -> JSON-LD-like dicts."""
    if isinstance(value, list):
        return [to_node(item) for item in value]
    if not isinstance(value, dict) or ("type" not in value and "properties" not in value):
        return value
    node: dict[str, Any] = {}
    if "type" in value:
        node["@type"] = value["type"]
    if "id" in value:
        node["@id"] = value["id"]
    for key, prop in value.get("properties", {}).items():
        node[key] = to_node(prop)
    return node


@page_cached
def items(page: Page) -> list[Any]:
    if not page.contains("itemscope"):
        return []
    try:
        return [to_node(item) for item in _EXTRACTOR.extract_items(page.root, page.base_url)]
    except Exception:  # noqa: BLE001 -- extruct trips on odd markup: no microdata
        return []


def extract(page: Page) -> Found | None:
    return product_found(items(page), page)
