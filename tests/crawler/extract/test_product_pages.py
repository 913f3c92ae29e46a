"""Accuracy on 70 real shops' pages (``../shared/fixtures/product-pages/``), scored with the
product-extraction benchmark's own metric (``tests/support/product_pages.py``).

Extraction is deterministic, so these are floors, raised as the extractor improves; the figures and the
list of pages it gets wrong are printed by ``bench/extraction_accuracy.py``.
"""

from __future__ import annotations

import pytest

from crawler.extract import extract_product
from tests.support.product_pages import load_pages, score

#: F1 floors: what the extractor reaches today, never allowed to drop
FLOORS = {"price": 0.95, "availability": 0.99, "sku": 0.95, "OutOfStock": 0.99}


@pytest.fixture(scope="module")
def report():
    pages = load_pages()
    assert len(pages) == 70
    return score(pages, [extract_product(page.html, page.url) for page in pages])


@pytest.mark.parametrize("attribute", sorted(FLOORS))
def test_f1_stays_above_its_floor(report, attribute):
    scored = report.scores[attribute]
    wrong = [f"{e.url}: {e.true} != {e.predicted!r} [{e.source}]" for e in report.errors if e.attribute == attribute]
    assert scored.f1 >= FLOORS[attribute], f"{attribute} F1 {scored.f1:.3f} < {FLOORS[attribute]}:\n" + "\n".join(wrong)


def test_the_metric_counts_a_wrong_value_as_both_a_false_positive_and_a_miss():
    from tests.support.product_pages import match

    assert match("price", ["10.0"], "10.00") == (1, 0, 0)
    assert match("price", ["10.0"], "12.00") == (0, 1, 1)
    assert match("price", [], "12.00") == (0, 1, 0)
    assert match("sku", ["A1", "B2"], None) == (0, 0, 1)
    assert match("sku", [], None) == (0, 0, 0)
