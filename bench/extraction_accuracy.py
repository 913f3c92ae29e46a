"""Extraction accuracy on real shops' pages, scored with the product-extraction benchmark's metric.

Runs the crawl's own extractor (``crawler.extract.extract_product``, what the product spider calls on
every response) on each of the 70 pages of ``../shared/fixtures/product-pages/`` (34 shops, 20 of them
Amazon pages in five countries) and scores price / availability / sku / InStock / OutOfStock with the
benchmark's metric (see ``tests/support/product_pages.py``). Prints F1, precision and recall per field
beside the published anchors' F1 on the same pages, every page it gets wrong (truth, prediction, and the
source that gave the value), and pages/s. The baseline is the benchmark's extruct + price-parser
baseline, whose published F1 is printed as the ratio's denominator.

Targets (issue #11): price >= 0.95, availability >= 0.98, sku >= 0.90, OutOfStock >= 0.90. Exit 1 when
a page cannot be extracted at all or a target is missed.

    .venv/bin/python bench/extraction_accuracy.py [--quiet] [--rounds 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crawler.extract import extract_product  # noqa: E402
from tests.support.product_pages import ANCHORS, ATTRIBUTES, load_pages, score  # noqa: E402

TARGETS = {"price": 0.95, "availability": 0.98, "sku": 0.90, "OutOfStock": 0.90}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quiet", action="store_true", help="figures only, not the list of errors")
    parser.add_argument("--rounds", type=int, default=3, help="timed passes over the pages (speed only)")
    args = parser.parse_args()

    pages = load_pages()
    products = [extract_product(page.html, page.url) for page in pages]  # warm-up pass, also the scored one
    elapsed = []
    for _ in range(args.rounds):
        started = time.perf_counter()
        again = [extract_product(page.html, page.url) for page in pages]
        elapsed.append(time.perf_counter() - started)
        if [p.to_json() for p in again] != [p.to_json() for p in products]:
            print("FAIL: extraction is not deterministic", file=sys.stderr)
            return 1
    report = score(pages, products)

    print(f"pages: {len(pages)} from {len({p.url.split('/')[2] for p in pages})} shops")
    header = (
        f"{'field':<13}{'F1':>7}{'prec':>7}{'recall':>8}{'support':>9}"
        + "".join(f"{name:>9}" for name in ANCHORS)
        + f"{'target':>8}{'ratio':>7}"
    )
    print(header)
    failed = False
    for attribute in ATTRIBUTES:
        s = report.scores[attribute]
        anchors = "".join(f"{ANCHORS[name].get(attribute, float('nan')):>9.3f}" for name in ANCHORS)
        target = TARGETS.get(attribute)
        baseline = ANCHORS["extruct"].get(attribute)
        ratio = f"{s.f1 / baseline:>7.2f}" if baseline else f"{'':>7}"
        mark = ""
        if target is not None and s.f1 < target:
            failed, mark = True, "  BELOW TARGET"
        print(
            f"{attribute:<13}{s.f1:>7.3f}{s.precision:>7.3f}{s.recall:>8.3f}{s.support:>9}{anchors}"
            f"{(f'{target:.2f}' if target else ''):>8}{ratio}{mark}"
        )
    best = min(elapsed)
    print(f"speed: {len(pages) / best:.1f} pages/s (best of {args.rounds}, {best * 1000 / len(pages):.1f} ms/page)")
    if not args.quiet:
        print(f"\nerrors ({len(report.errors)}): field  truth  predicted  [source]  url")
        for error in report.errors:
            print(
                f"  {error.attribute:<12} {'|'.join(error.true) or '-':<24} {error.predicted or '-':<24}"
                f" [{error.source or '-'}]  {error.url}  ({error.key[:10]})"
            )
    if failed:
        print("FAIL: a field is below its target", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
