"""The product-extraction benchmark's pages and metric, shared by its test and ``bench/extraction_accuracy.py``.

``../shared/fixtures/product-pages/`` holds 70 real product pages from 34 shops (a subset of Zyte's
public *product-extraction-benchmark*, MIT) with what a person read on each (``ground-truth.json``).

The metric is the benchmark's own: every page gives one (tp, fp, fn) per attribute. At most one value
is predicted; the truth may list several acceptable values. No prediction where the truth has one is a
false negative; a wrong prediction is a false positive *and*, when the truth has a value, a false
negative; precision, recall and F1 are computed over the sums. ``price`` is compared as a Decimal
(currency not scored); ``availability`` is InStock or OutOfStock, a missing value counting as InStock
(as the benchmark fills it); ``InStock``/``OutOfStock`` score each value on its own; ``sku`` is
compared exactly against the acceptable identifiers.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from .shop import fixtures_dir

ATTRIBUTES = ("price", "availability", "sku", "InStock", "OutOfStock")
#: published F1 on these 70 pages (Zyte Automatic Extraction 2021.2.0, Diffbot Feb 2021, the benchmark's
#: extruct + price-parser baseline), as scored by the same metric
ANCHORS = {
    "Zyte": {"price": 0.908, "availability": 0.971, "sku": 0.859, "OutOfStock": 0.750},
    "Diffbot": {"price": 0.831, "availability": 0.943, "sku": 0.800, "OutOfStock": 0.333},
    "extruct": {"price": 0.627, "availability": 0.943, "sku": 0.444, "OutOfStock": 0.333},
}
#: availability values a buyer reads as "cannot buy it now"
NOT_BUYABLE = frozenset({"OutOfStock", "Discontinued", "SoldOut"})


def pages_dir() -> Path:
    return fixtures_dir() / "product-pages"


@dataclass
class Page:
    key: str
    url: str
    html: bytes
    truth: dict


def load_pages() -> list[Page]:
    root = pages_dir()
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for key in sorted(truth):
        with gzip.open(root / "html" / f"{key}.html.gz", "rb") as handle:
            pages.append(Page(key, truth[key]["url"], handle.read(), truth[key]))
    return pages


def prediction(product) -> dict[str, str]:
    """The benchmark's view of an :class:`~crawler.extract.ExtractedProduct`."""
    availability = "OutOfStock" if product.availability in NOT_BUYABLE else "InStock"
    predicted = {"availability": availability, availability: availability}
    if product.price is not None:
        predicted["price"] = str(product.price)
    if product.sku:
        predicted["sku"] = product.sku
    return predicted


def _decimal(value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        return None


def match(attribute: str, true: list[str], predicted: str | None) -> tuple[int, int, int]:
    if attribute == "price":
        true_set = {_decimal(value) for value in true}
        value = _decimal(predicted)
    else:
        true_set, value = set(true), predicted
    if value is None:
        return 0, 0, int(bool(true_set))
    if value in true_set:
        return 1, 0, 0
    return 0, 1, int(bool(true_set))


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    support: int = 0

    @property
    def precision(self) -> float:
        if self.fp == self.fn == 0:
            return 1.0
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        if self.fp == self.fn == 0:
            return 1.0
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class Error:
    key: str
    url: str
    attribute: str
    true: list[str]
    predicted: str | None
    source: str | None


@dataclass
class Report:
    scores: dict[str, Score] = field(default_factory=lambda: {a: Score() for a in ATTRIBUTES})
    errors: list[Error] = field(default_factory=list)


def score(pages: list[Page], products: list) -> Report:
    """Score one product per page (same order) with the benchmark's metric."""
    report = Report()
    for page, product in zip(pages, products, strict=True):
        predicted = prediction(product)
        for attribute in ATTRIBUTES:
            true = page.truth.get(attribute, [])
            tp, fp, fn = match(attribute, true, predicted.get(attribute))
            total = report.scores[attribute]
            total.tp, total.fp, total.fn = total.tp + tp, total.fp + fp, total.fn + fn
            total.support += bool(true)
            if (fp or fn) and attribute in ("price", "availability", "sku"):
                source_field = "availability" if attribute == "availability" else attribute
                report.errors.append(
                    Error(
                        page.key,
                        page.url,
                        attribute,
                        true,
                        predicted.get(attribute),
                        product.sources.get(source_field) or product.blocked,
                    )
                )
    return report
