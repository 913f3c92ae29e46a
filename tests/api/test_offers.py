"""Variants and list prices through the API: products, website product lists, history and the OpenAPI
document -- written the way a crawl writes them (NormalizePipeline, then the crawl's batch write)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from crawler.extract.product import Offer
from crawler.items import CandidateItem, ObservationItem
from db.partitions import ensure_observation_partitions
from db.queries import crawls as crawls_q
from pipelines.normalize import NormalizePipeline
from tests.conftest import bearer

URL = "https://cnoc.test/ie/beanie-2207.html"
OFFERS = [
    Offer(
        sku="2207-S", name="S", url=URL + "?size=S", price=Decimal("24.00"), currency="EUR", availability="OutOfStock"
    ),
    Offer(
        sku="2207-M",
        name="M",
        url=URL + "?size=M&utm_source=feed",
        price=Decimal("28.00"),
        currency="EUR",
        availability="InStock",
        list_price=Decimal("35.00"),
        selected=True,
    ),
]
OFFERS_JSON = [
    {
        "sku": "2207-S",
        "name": "S",
        "url": URL + "?size=S",
        "price": "24.00",
        "list_price": None,
        "currency": "EUR",
        "availability": "OutOfStock",
        "selected": False,
        "high_price": None,
        "offer_count": None,
    },
    {
        "sku": "2207-M",
        "name": "M",
        "url": URL + "?size=M",
        "price": "28.00",
        "list_price": "35.00",
        "currency": "EUR",
        "availability": "InStock",
        "selected": True,
        "high_price": None,
        "offer_count": None,
    },
]


@pytest.fixture
def watched(db, new_client):
    """A client's website with one product crawled twice (with offers, then a single plain offer), and a
    discovered candidate with offers."""
    client_id, key = new_client()
    website = db.execute(
        "INSERT INTO websites (client_id, name, domain, seed_urls, status) VALUES (%s, 'Cnoc', "
        "'cnoc.test', %s, 'active') RETURNING id",
        (client_id, ["https://cnoc.test/"]),
    ).fetchone()["id"]
    product = db.execute(
        "INSERT INTO products (website_id, url, identity, status) VALUES (%s, %s, 'url:b', 'approved') RETURNING id",
        (website, URL),
    ).fetchone()["id"]
    now = datetime.now(UTC)
    ensure_observation_partitions(db, first=(now - timedelta(days=1)).date(), last=now.date())
    normalize = NormalizePipeline()
    first = normalize.process_item(
        ObservationItem(
            url=URL,
            website_id=website,
            product_id=product,
            observed_at=now - timedelta(hours=2),
            ok=True,
            name="Beanie",
            price=Decimal("28.00"),
            currency="EUR",
            availability="InStock",
            sku="2207-M",
            list_price=Decimal("35.00"),
            offers=list(OFFERS),
            sources={"price": "jsonld", "offers": "jsonld"},
        )
    )
    plain = normalize.process_item(
        ObservationItem(
            url=URL,
            website_id=website,
            product_id=product,
            observed_at=now - timedelta(hours=1),
            ok=True,
            name="Beanie",
            price=Decimal("30.00"),
            currency="EUR",
            availability="InStock",
            sku="2207",
        )
    )
    with db.transaction():
        crawls_q.write_observations(db, [first])
    state_after_first = db.execute("SELECT list_price, offers FROM products WHERE id = %s", (product,)).fetchone()
    with db.transaction():
        crawls_q.write_observations(db, [plain])
    candidate = normalize.process_item(
        CandidateItem(
            url="https://cnoc.test/ie/scarf-2301.html",
            website_id=website,
            name="Scarf",
            price=Decimal("40.00"),
            currency="EUR",
            availability="InStock",
            list_price=Decimal("55.00"),
            offers=[
                Offer(sku="2301-A", price=Decimal("40.00"), currency="EUR", availability="InStock", selected=True),
                Offer(sku="2301-B", price=Decimal("45.00"), currency="EUR", availability="InStock"),
            ],
        )
    )
    with db.transaction():
        crawls_q.upsert_candidates(db, website, [candidate])
    return {"key": key, "website": website, "product": product, "first_state": state_after_first}


def test_the_product_reports_its_latest_offers_and_list_price(client, db, watched):
    assert watched["first_state"] == {"list_price": Decimal("35.00"), "offers": OFFERS_JSON}  # as stored
    one = client.get(f"/v1/products/{watched['product']}", headers=bearer(watched["key"])).get_json()
    # the latest crawl saw a single plain offer with no sale: no offers, no list price
    assert (one["price"], one["list_price"], one["offers"]) == ("30.00", None, [])
    db.execute(
        "UPDATE products SET list_price = 35.00, offers = (SELECT offers FROM observations WHERE "
        "product_id = %s AND offers IS NOT NULL) WHERE id = %s",
        (watched["product"], watched["product"]),
    )
    one = client.get(f"/v1/products/{watched['product']}", headers=bearer(watched["key"])).get_json()
    assert (one["list_price"], one["offers"]) == ("35.00", OFFERS_JSON)
    listed = client.get(f"/v1/products?website_id={watched['website']}", headers=bearer(watched["key"])).get_json()
    assert [(p["id"], p["list_price"], p["offers"]) for p in listed] == [(watched["product"], "35.00", OFFERS_JSON)]
    assert set(one) >= {"id", "url", "price", "currency", "availability", "sku", "sources", "list_price", "offers"}


def test_history_entries_carry_list_price_and_offers(client, watched):
    items = client.get(
        f"/v1/products/{watched['product']}/history?order=asc", headers=bearer(watched["key"])
    ).get_json()["items"]
    assert [(i["price"], i["list_price"], i["offers"]) for i in items] == [
        ("28.00", "35.00", OFFERS_JSON),
        ("30.00", None, []),
    ]


def test_discovered_products_show_offers_too(client, watched):
    listed = client.get(
        f"/v1/websites/{watched['website']}/discovered-products", headers=bearer(watched["key"])
    ).get_json()
    [candidate] = [c for c in listed if c["name"] == "Scarf"]
    assert candidate["list_price"] == "55.00"
    assert [(o["sku"], o["price"], o["selected"]) for o in candidate["offers"]] == [
        ("2301-A", "40.00", True),
        ("2301-B", "45.00", False),
    ]


def test_openapi_documents_offers_and_list_price(client):
    spec = client.get("/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    offer = schemas["Offer"]["properties"]
    assert {
        "sku",
        "name",
        "url",
        "price",
        "list_price",
        "currency",
        "availability",
        "selected",
        "high_price",
        "offer_count",
    } <= set(offer)
    for name in ("Product", "Observation", "Candidate"):
        assert {"list_price", "offers"} <= set(schemas[name]["properties"]), name
        assert schemas[name]["properties"]["offers"]["items"] == {"$ref": "#/components/schemas/Offer"}
