"""RDFa stage: extruct's RDFaExtractor (pyRdfa) on the shared tree.

Run only when the page has RDFa in its markup (``typeof``/``vocab`` attributes; the
``property`` attributes of OpenGraph metas alone do not count). pyRdfa needs a tree
with the xml.dom API: :meth:`Page.from_html` parses such pages with extruct's DOM
parser up front; a tree handed in from elsewhere is re-serialized and re-parsed.
"""

from __future__ import annotations

from typing import Any

from extruct.rdfa import RDFaExtractor

from .page import Page, page_cached, parse_tree
from .product import Found
from .schemaorg import product_found

_SCHEMA_PREFIXES = ("http://schema.org/", "https://schema.org/")
_MAX_DEPTH = 6


def _short(iri: str) -> str | None:
    for prefix in _SCHEMA_PREFIXES:
        if iri.startswith(prefix):
            return iri[len(prefix) :]
    return None


def _node(raw: dict, index: dict[str, dict], depth: int) -> dict:
    node: dict[str, Any] = {"@id": raw.get("@id")}
    types = [_short(t) or t for t in raw.get("@type", [])]
    if types:
        node["@type"] = types
    for key, values in raw.items():
        name = _short(key)
        if name is None:
            continue
        converted = [_value(v, index, depth) for v in values]
        node[name] = converted[0] if len(converted) == 1 else converted
    return node


def _value(value: dict, index: dict[str, dict], depth: int) -> Any:
    if "@value" in value:
        return value["@value"]
    ref = value.get("@id")
    if ref in index and depth < _MAX_DEPTH:
        return _node(index[ref], index, depth + 1)
    return ref


def to_nodes(expanded: list[dict]) -> list[dict]:
    """Expanded JSON-LD from pyRdfa -> nested JSON-LD-like dicts, roots only."""
    index = {raw["@id"]: raw for raw in expanded if isinstance(raw, dict) and "@id" in raw}
    referenced = {
        value.get("@id")
        for raw in expanded
        for key, values in raw.items()
        if not key.startswith("@") and isinstance(values, list)
        for value in values
        if isinstance(value, dict)
    }
    return [_node(raw, index, 0) for raw in index.values() if raw["@id"] not in referenced]


@page_cached
def items(page: Page) -> list[dict]:
    if not page.has_rdfa():
        return []
    root = page.root if page.dom_ready else parse_tree(page.source, dom=True)
    try:
        expanded = RDFaExtractor().extract_items(root, base_url=page.base_url)
    except Exception:  # noqa: BLE001 -- pyRdfa trips on odd markup: no RDFa
        return []
    return to_nodes(expanded if isinstance(expanded, list) else [])


def extract(page: Page) -> Found | None:
    return product_found(items(page), page)
