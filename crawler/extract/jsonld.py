"""JSON-LD stage: ``<script type="application/ld+json">`` read by extruct on the shared tree."""

from __future__ import annotations

from typing import Any

import lxml.etree
from extruct.jsonld import JsonLdExtractor

from .page import Page, page_cached
from .product import Found
from .schemaorg import product_found

_EXTRACTOR = JsonLdExtractor()
_XP_SCRIPTS = lxml.etree.XPath('//script[@type="application/ld+json"]')


@page_cached
def items(page: Page) -> list[Any]:
    """All JSON-LD items of the page; a malformed script is skipped, not fatal."""
    if not page.contains("application/ld+json"):
        return []
    try:
        return _EXTRACTOR.extract_items(page.root)
    except Exception:  # one broken script: read the others one by one
        found: list[Any] = []
        for script in _XP_SCRIPTS(page.root):
            try:
                found.extend(_EXTRACTOR.extract_items(script))
            except Exception:
                continue
        return found


def extract(page: Page) -> Found | None:
    return product_found(items(page), page)
