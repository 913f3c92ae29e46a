"""NormalizePipeline and the canonical URL rules."""

from decimal import Decimal

import pytest

from core.urls import canonical_url, domain_of
from crawler.items import CandidateItem, ObservationItem
from pipelines.normalize import NormalizePipeline, clean_price


@pytest.mark.parametrize(
    "url, expected",
    [
        ("https://Shop.example/p/1?utm_source=news&utm_medium=mail", "https://shop.example/p/1"),
        ("https://shop.example/p/1?gclid=abc&fbclid=def&ref=home", "https://shop.example/p/1"),
        ("https://shop.example/p/1?variant=123&utm_campaign=x", "https://shop.example/p/1?variant=123"),
        ("https://shop.example/p/1?size=M&color=red", "https://shop.example/p/1?color=red&size=M"),
        ("https://shop.example:443/a/../p/1#reviews", "https://shop.example/p/1"),
        ("HTTP://SHOP.EXAMPLE:80/P/%7Euser", "http://shop.example/P/~user"),
    ],
)
def test_canonical_url(url, expected):
    assert canonical_url(url) == expected


def test_domain_of():
    assert domain_of("https://www.Shop.example/x") == "shop.example"
    assert domain_of("http://127.0.0.1:8123/") == "127.0.0.1:8123"
    assert domain_of("https://shop.example:443/") == "shop.example"


@pytest.mark.parametrize(
    "value, expected",
    [
        (Decimal("51.77"), Decimal("51.77")),
        ("1299.00", Decimal("1299.00")),
        (None, None),
        ("abc", None),
        (Decimal("0"), None),
        (Decimal("-5"), None),
        (Decimal("1e15"), None),
        (Decimal("NaN"), None),
        (12.5, Decimal("12.5")),
    ],
)
def test_clean_price(value, expected):
    assert clean_price(value) == expected


def test_normalize_item_fields_and_identity():
    item = CandidateItem(
        url="https://shop.example/p/1?utm_source=x",
        website_id=1,
        name="  A   book ",
        price=Decimal("10.00"),
        currency="gbp",
        availability="Sold",
        gtin="978-0-306-40615-7",
        sku="ABC",
        sources={"price": "jsonld", "availability": "jsonld", "gtin": "microdata"},
    )
    out = NormalizePipeline().process_item(item)
    assert out.url == "https://shop.example/p/1" and out.name == "A book"
    assert out.currency == "GBP" and out.availability is None
    assert out.gtin == "9780306406157" and out.identity == "gtin:9780306406157"
    assert out.sources == {"price": "jsonld", "gtin": "microdata"}
    bare = NormalizePipeline().process_item(
        CandidateItem(url="https://shop.example/q", website_id=1, price="x", currency="GBP")
    )
    assert bare.price is None and bare.currency is None and bare.identity == "url:https://shop.example/q"


def test_observations_keep_their_approved_url():
    item = ObservationItem(url="https://shop.example/p/1?utm_source=x", product_id=1, ok=True)
    assert NormalizePipeline().process_item(item).url == "https://shop.example/p/1?utm_source=x"


def test_offers_are_normalized_like_the_product():
    from crawler.extract.product import Offer

    offers = [
        Offer(
            price=Decimal("19.99"),
            currency="gbp",
            availability="InStock",
            sku="  A-1 ",
            name=" Small ",
            url="https://Shop.example/p/1?variant=1&utm_source=x",
            list_price=Decimal("24.99"),
        ),
        Offer(
            price=Decimal("0"),
            currency="GBP",
            availability="Sold",
            sku="A-2",
            url="javascript:void(0)",
            list_price=Decimal("5"),
            selected=True,
        ),
        {
            "price": "21.50",
            "currency": "EUR",
            "availability": "OutOfStock",
            "high_price": "30",
            "offer_count": 3,
            "list_price": "21.50",
            "selected": True,
        },
    ]
    item = ObservationItem(
        url="https://shop.example/p/1",
        product_id=1,
        ok=True,
        price=Decimal("19.99"),
        currency="GBP",
        list_price=Decimal("19.99"),
        offers=offers,
        sources={"price": "jsonld", "offers": "jsonld", "list_price": "jsonld"},
    )
    out = NormalizePipeline().process_item(item)
    assert out.list_price is None and out.sources == {"price": "jsonld", "offers": "jsonld"}  # not above the price
    assert out.offers == [
        {
            "sku": "A-1",
            "name": "Small",
            "url": "https://shop.example/p/1?variant=1",
            "price": Decimal("19.99"),
            "list_price": Decimal("24.99"),
            "currency": "GBP",
            "availability": "InStock",
            "selected": False,
            "high_price": None,
            "offer_count": None,
        },
        {
            "sku": "A-2",
            "name": None,
            "url": None,
            "price": None,
            "list_price": None,
            "currency": "GBP",
            "availability": None,
            "selected": True,
            "high_price": None,
            "offer_count": None,
        },
        {
            "sku": None,
            "name": None,
            "url": None,
            "price": Decimal("21.50"),
            "list_price": None,
            "currency": "EUR",
            "availability": "OutOfStock",
            "selected": False,
            "high_price": Decimal("30"),
            "offer_count": 3,
        },
    ]  # exactly one selected: the first marked


def test_offers_are_capped_and_keep_the_reported_one():
    from pipelines.normalize import MAX_OFFERS

    offers = [{"sku": f"S-{n}", "price": "5.00", "selected": n == 150} for n in range(200)]
    out = NormalizePipeline().process_item(ObservationItem(url="u", product_id=1, ok=True, offers=offers))
    assert len(out.offers) == MAX_OFFERS and [o["sku"] for o in out.offers if o["selected"]] == ["S-150"]
    none = NormalizePipeline().process_item(
        ObservationItem(url="u", product_id=1, ok=True, offers=[], sources={"offers": "jsonld"})
    )
    assert none.offers == [] and none.sources == {}
