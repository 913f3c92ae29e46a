"""``python -m crawler.extract --url URL FILE.html [--selectors JSON] [--status N]``

Prints the page's product (``ExtractedProduct.to_json()``) as JSON. Exit status 2 when
the file cannot be read or the selectors are not a JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys

from . import extract_product


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m crawler.extract", description=__doc__.split("\n\n")[1])
    parser.add_argument("file", metavar="FILE.html", help="a saved page")
    parser.add_argument("--url", required=True, help="the URL the page was fetched from")
    parser.add_argument("--selectors", help='overrides as JSON, e.g. \'{"price": "span.pp-amt"}\'')
    parser.add_argument("--status", type=int, default=200, help="HTTP status of the response")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    selectors = None
    if args.selectors:
        try:
            selectors = json.loads(args.selectors)
        except ValueError as error:
            print(f"error: --selectors is not valid JSON: {error}", file=sys.stderr)
            return 2
        if not isinstance(selectors, dict):
            print("error: --selectors must be a JSON object", file=sys.stderr)
            return 2
    try:
        with open(args.file, "rb") as handle:
            html = handle.read()
    except OSError as error:
        print(f"error: cannot read {args.file}: {error.strerror or error}", file=sys.stderr)
        return 2
    product = extract_product(html, args.url, selectors=selectors, status=args.status)
    json.dump(product.to_json(), sys.stdout, indent=2, sort_keys=False, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
