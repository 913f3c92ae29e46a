"""OpenGraph stage (``og:*``) and product meta stage (``product:price:*`` and friends).

Both read the head metas once through extruct's OpenGraphExtractor (plus the same keys
written with ``name=`` instead of ``property=``, a common slip). OpenGraph only speaks
for the product when the page says it is one (``og:type`` product, or price metas).
The price metas describe the default variant, so they are variant-blind when the page
URL selects a variant.
"""

from __future__ import annotations

from extruct.opengraph import OpenGraphExtractor

from .availability import normalize_availability
from .currencies import normalize_currency
from .page import Page, page_cached
from .prices import is_current, parse_price
from .product import Found, normalize_gtin

_EXTRACTOR = OpenGraphExtractor()
_PREFIXES = ("og:", "product:")


@page_cached
def properties(page: Page) -> dict[str, str]:
    if not page.head_contains("og:", "product:"):
        return {}
    found: dict[str, str] = {}
    try:
        for item in _EXTRACTOR.extract_items(page.root):
            for key, value in item.get("properties", ()):
                if value and value.strip():
                    found.setdefault(key.strip().lower(), value.strip())
    except Exception:  # noqa: BLE001 -- extruct trips on odd heads; the metas below still count
        pass
    for key, value in page.metas.items():
        if key.startswith(_PREFIXES):
            found.setdefault(key, value)
    return found


_PRICE_KEYS = ("product:price:amount", "og:price:amount", "product:sale_price:amount")


def has_price_metas(props: dict[str, str]) -> bool:
    return any(key in props for key in _PRICE_KEYS)


def is_product_page(props: dict[str, str]) -> bool:
    return "product" in props.get("og:type", "").lower() or has_price_metas(props)


def extract_opengraph(page: Page) -> Found | None:
    props = properties(page)
    if not is_product_page(props):
        return None
    return Found.of(name=props.get("og:title"), image=page.absolute(props.get("og:image")))


def extract_meta(page: Page) -> Found | None:
    props = properties(page)
    if not props:
        return None
    prefixes = ["product:price", "og:price"]
    sale_dates = (props.get("product:sale_price_dates:start"), props.get("product:sale_price_dates:end"))
    if "product:sale_price:amount" in props and is_current(*sale_dates):
        prefixes.insert(0, "product:sale_price")
    amount = currency = list_price = None
    for prefix in prefixes:
        declared = normalize_currency(props.get(f"{prefix}:currency"), page.currency_context)
        currency = currency or declared
        amount, parsed = parse_price(props.get(f"{prefix}:amount"), page.money_context(declared), machine=True)
        if amount is not None:
            currency = declared or parsed or currency
            break
    if amount is not None and prefix == "product:sale_price":  # on sale: product:price is the regular one
        regular = parse_price(props.get("product:price:amount"), page.money_context(currency), machine=True)[0]
        list_price = regular if regular is not None and regular > amount else None
    availability = props.get("product:availability") or props.get("og:availability")
    gtin = props.get("product:ean") or props.get("product:upc") or props.get("product:gtin")
    return Found.of(
        variant_blind=bool(page.variant_params),
        price=amount,
        currency=currency,
        availability=normalize_availability(availability),
        sku=props.get("product:retailer_item_id") or props.get("product:sku"),
        brand=props.get("product:brand") or props.get("og:brand"),
        gtin=normalize_gtin(gtin),
        list_price=list_price,
    )
