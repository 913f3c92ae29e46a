"""The raw-markup looks (crawler.extract.markup, visible._plain_in_markup) never say more than the tree.

They exist to skip a walk of the whole tree; they may only answer where the walk would answer the same:
``markup.shows`` is True only when ``texts_containing`` finds the text, and the set-aside look's
"shown plainly" is only said where the tree's look would not find the amount set aside. Checked on
every real page of the repository's fixtures, for many needles each, and on hand-made corner cases.
"""

from __future__ import annotations

import random
import re
from decimal import Decimal, InvalidOperation

import pytest

from crawler.extract import markup, visible
from crawler.extract.page import Page, texts_containing
from tests.support.product_pages import load_pages

from .conftest import shared_fixtures_dir

BOOKS = sorted((shared_fixtures_dir() / "books-toscrape" / "catalogue").glob("*/index.html"))[:60]


def _real_pages() -> list[Page]:
    pages = [Page.from_html(page.html, page.url) for page in load_pages()]
    pages += [Page.from_html(path.read_bytes(), "https://books.toscrape.com/x") for path in BOOKS]
    return pages


@pytest.fixture(scope="module")
def real_pages():
    return _real_pages()


def test_shows_never_claims_text_the_tree_does_not_have(real_pages):
    rng = random.Random(7)
    certain = 0
    for page in real_pages:
        tokens = sorted(set(re.findall(r"[A-Za-z0-9][A-Za-z0-9._-]{3,30}", page.source)))
        for token in rng.sample(tokens, min(200, len(tokens))):
            if markup.shows(page, token):
                certain += 1
                assert texts_containing(page, token), (page.url, token)
    assert certain > 1000  # it does answer, on most pages


def _tree_set_aside(page: Page, amount: Decimal, monkeypatch) -> bool:
    with monkeypatch.context() as patch:
        patch.setattr(visible, "_plain_in_markup", lambda page, whole: False)
        return visible.shows_amount_set_aside(page, amount)


def test_plainly_shown_in_markup_is_never_set_aside_for_the_tree(real_pages, monkeypatch):
    fast = 0
    for page in real_pages:
        amounts = set()
        for number in re.findall(r"\d{1,6}(?:[.,]\d{2})?", page.source):
            try:
                amounts.add(Decimal(number.replace(",", ".")))
            except InvalidOperation:
                continue
        for amount in sorted(a for a in amounts if a > 0)[:80]:
            if visible._plain_in_markup(page, str(int(amount))):
                fast += 1
                if _tree_set_aside(page, amount, monkeypatch):
                    # the one known difference: a footer's "© Copyright 2000-2020" whose element's text
                    # starts further back than the look reads (no price is ever that)
                    assert "Copyright" in page.source and amount in (200, 2000, 2020), (page.url, amount)
    assert fast > 500


@pytest.mark.parametrize(
    "html, needle, expected",
    [
        ("<html><body><p>SKU-123</p></body></html>", "SKU-123", True),
        ("<html><body><p class='a>b'>SKU-123</p></body></html>", "SKU-123", True),
        ("<html><body><b>x</b>SKU-123</body></html>", "SKU-123", True),
        # not text of the body: an attribute, a script (even one holding markup), a comment, a style
        ("<html><body><p data-sku='SKU-123'>x</p></body></html>", "SKU-123", False),
        ('<html><body><script>var d = "<p>" + "SKU-123";</script></body></html>', "SKU-123", False),
        ('<html><body><SCRIPT>var d = "<p>" + "SKU-123";</SCRIPT></body></html>', "SKU-123", False),
        ("<html><body><!-- <p>SKU-123</p> --></body></html>", "SKU-123", False),
        (
            "<html><body><style>p{}</style><template><p>x</p></template><option>SKU-123</option></body></html>",
            "SKU-123",
            False,
        ),
        ("<html><head><title>SKU-123</title></head><body></body></html>", "SKU-123", False),
        # inside an entity: the tree's text differs from the markup
        ("<html><body><p>&#123456;</p></body></html>", "123", False),
    ],
)
def test_shows_corner_cases(html, needle, expected):
    page = Page.from_html(html, "https://shop.example/p")
    assert markup.shows(page, needle) is expected
    if expected:
        assert texts_containing(page, needle)


@pytest.mark.parametrize(
    "html, expected",
    [
        ("<body><h1>Lamp</h1><p class='price'>£26.08</p></body>", True),
        # excl. tax beside a plain price: still plain
        (
            "<body><h1>Lamp</h1><p>£26.08</p><table><tr><th>Price (excl. tax)</th><td>£26.08</td></tr></table></body>",
            True,
        ),
        # set aside: struck, old-classed, labelled; or only shown before tax
        ("<body><h1>Lamp</h1><del>£26.08</del> <span>£19.99</span></body>", False),
        ("<body><h1>Lamp</h1><div class='old-price'><span>£26.08</span></div></body>", False),
        ("<body><h1>Lamp</h1><p>Was £26.08</p><p>£19.99</p></body>", False),
        ("<body><h1>Lamp</h1><p>Free delivery over £26</p></body>", False),
        ("<body><h1>Lamp</h1><p>Price (excl. tax) £26.08</p></body>", False),
        # not shown as text at all
        ("<body><h1>Lamp</h1><p data-price='26.08'>ask</p></body>", False),
    ],
)
def test_plain_in_markup_corner_cases(html, expected, monkeypatch):
    page = Page.from_html(f"<html>{html}</html>", "https://shop.example/p")
    assert visible._plain_in_markup(page, "26") is expected
    if expected:
        assert not _tree_set_aside(page, Decimal("26.08"), monkeypatch)
