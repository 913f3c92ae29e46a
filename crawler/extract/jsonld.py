"""JSON-LD stage: ``<script type="application/ld+json">`` read by extruct on the shared tree."""

from __future__ import annotations

import json
from typing import Any

import lxml.etree
from extruct.jsonld import JsonLdExtractor

from .page import Page, page_cached
from .product import Found
from .schemaorg import product_found

_EXTRACTOR = JsonLdExtractor()
_XP_SCRIPTS = lxml.etree.XPath('descendant-or-self::script[@type="application/ld+json"]')  # extruct's own
_STRING = lxml.etree.XPath("string()")


@page_cached
def items(page: Page) -> list[Any]:
    """All JSON-LD items of the page; a malformed script is skipped, not fatal.

    A script that is plain JSON is read here (extruct's ``node.xpath("string()")`` builds an XPath
    evaluator per script: a fifth of the stage); anything else (comments around the JSON, JavaScript
    literals) goes to extruct's own reader."""
    if not page.contains("application/ld+json"):
        return []
    found: list[Any] = []
    for script in _XP_SCRIPTS(page.root):
        try:
            data = json.loads(_STRING(script), strict=False)
        except ValueError:
            try:
                found.extend(item for item in _EXTRACTOR._extract_items(script) if item)
            except Exception:  # noqa: BLE001 -- one broken script: read the others
                pass
            continue
        if isinstance(data, list):
            found.extend(item for item in data if item)
        elif isinstance(data, dict) and data:
            found.append(data)
    return found


def extract(page: Page) -> Found | None:
    return product_found(items(page), page)
