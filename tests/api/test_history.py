"""History (keyset pages), statistics, product search/sort, and the data lifecycle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from psycopg.types.json import Jsonb

from core.settings import load_settings
from db.partitions import add_months, ensure_observation_partitions, existing_partitions, partition_name
from scheduler.retention import aggregate_completed_months, apply_retention
from tests.conftest import bearer

NOW = datetime.now(UTC)
THIS_MONTH = NOW.date().replace(day=1)


@pytest.fixture
def shop(db, new_client):
    """A client with one approved product observed every 12 hours for ~100 days, and another client's product."""
    client_id, key = new_client()
    website = db.execute(
        "INSERT INTO websites (client_id, name, domain, seed_urls, status) VALUES "
        "(%s, 'w', 'w.test', %s, 'active') RETURNING id",
        (client_id, ["https://w.test/"]),
    ).fetchone()["id"]
    ids = []
    for name, price in (("Blue Kettle", "20.00"), ("Red Toaster", "35.50"), ("Green Kettle", "12.00")):
        ids.append(
            db.execute(
                "INSERT INTO products (website_id, url, identity, name, price, currency, status, "
                "last_changed_at) VALUES (%s, %s, %s, %s, %s, 'GBP', 'approved', now() - "
                "make_interval(days => %s)) RETURNING id",
                (website, f"https://w.test/{name}", name, name, Decimal(price), len(ids)),
            ).fetchone()["id"]
        )
    product = ids[0]
    ensure_observation_partitions(db, first=add_months(THIS_MONTH, -4), last=THIS_MONTH)
    start = NOW - timedelta(days=100)
    rows = []
    for i in range(200):
        at = start + timedelta(hours=12 * i)
        ok = i % 10 != 7
        rows.append(
            (
                product,
                at,
                ok,
                Decimal("20.00") + i % 5 if ok else None,
                "GBP" if ok else None,
                ("InStock" if i % 4 else "OutOfStock") if ok else None,
                None if ok else "blocked",
            )
        )
    with db.cursor().copy(
        "COPY observations (product_id, observed_at, ok, price, currency, availability, error_type) FROM STDIN"
    ) as copy:
        for row in rows:
            copy.write_row(row)
    other_client, _other_key = new_client("Other")
    other_site = db.execute(
        "INSERT INTO websites (client_id, name, domain, seed_urls, status) VALUES "
        "(%s, 'o', 'o.test', %s, 'active') RETURNING id",
        (other_client, ["https://o.test/"]),
    ).fetchone()["id"]
    foreign = db.execute(
        "INSERT INTO products (website_id, url, identity, status) VALUES (%s, 'https://o.test/p', "
        "'p', 'approved') RETURNING id",
        (other_site,),
    ).fetchone()["id"]
    return {"key": key, "product": product, "ids": ids, "rows": rows, "foreign": foreign}


def history(client, key, product, **query):
    return client.get(f"/v1/products/{product}/history", query_string=query, headers=bearer(key))


@pytest.mark.parametrize(
    "query, field",
    [
        ({"start": "2026-01-01T00:00:00"}, "start"),  # no timezone
        ({"start": "yesterday"}, "start"),
        ({"start": "2026-02-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"}, "start"),  # reversed
        ({"start": "2023-01-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"}, "end"),  # over 2 years
        ({"limit": 501}, "limit"),
        ({"limit": 0}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"order": "sideways"}, "order"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ],
)
def test_history_validation_is_400_with_the_field(client, shop, query, field):
    response = history(client, shop["key"], shop["product"], **query)
    assert response.status_code == 400, response.get_json()
    assert field in response.get_json()["errors"]["query"]


def test_history_pages_by_cursor_newest_first_and_oldest_first(client, shop):
    expected = sorted(shop["rows"], key=lambda r: r[1], reverse=True)
    seen, cursor = [], None
    while True:
        query = {"limit": 37} | ({"cursor": cursor} if cursor else {})
        body = history(client, shop["key"], shop["product"], **query).get_json()
        seen += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 200 and len({item["observed_at"] for item in seen}) == 200
    assert [datetime.fromisoformat(i["observed_at"]) for i in seen] == [r[1] for r in expected]
    failed = [i for i in seen if not i["ok"]]
    assert len(failed) == 20 and all(i["price"] is None and i["error_type"] == "blocked" for i in failed)
    assert seen[0]["price"] == str(expected[0][3]) or expected[0][3] is None

    asc = history(client, shop["key"], shop["product"], order="asc", limit=500).get_json()
    assert [i["observed_at"] for i in asc["items"]] == [i["observed_at"] for i in reversed(seen)]
    assert asc["next_cursor"] is None


def test_history_items_are_the_observations_exactly(client, shop, db):
    """Postgres writes each item's JSON by hand (db.queries.history.ITEM_JSON): every kind of row must come
    out as valid JSON with the stored values — flagged, failed, odd error text, missing fields."""
    product = shop["ids"][1]
    at = NOW - timedelta(days=1)
    odd = 'timeout "after" 30 s\\n\ttab, \u00e9t\u00e9 \U0001f600 </script>'
    cases = [
        (True, Decimal("12.3400"), "GBP", "InStock", None, None, False),
        (True, Decimal("0"), "EUR", "OutOfStock", None, None, True),  # flagged
        (False, None, None, None, "blocked", "HTTP 403 from the shop", False),  # failed
        (False, None, None, None, "timeout", odd, False),
        (True, Decimal("99999999.99"), None, None, None, None, False),  # no currency/stock
        (True, None, None, "PreOrder", None, None, False),
    ]
    for n, (ok, price, currency, availability, error_type, error, flagged) in enumerate(cases):
        db.execute(
            "INSERT INTO observations (product_id, observed_at, ok, price, currency, availability, "
            "error_type, error, flagged) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (product, at + timedelta(minutes=n), ok, price, currency, availability, error_type, error, flagged),
        )
    offers = [
        {
            "sku": "S-1",
            "name": odd,
            "url": "https://w.test/p?size=S",
            "price": "9.50",
            "list_price": "12.00",
            "currency": "GBP",
            "availability": "OutOfStock",
            "selected": False,
            "high_price": None,
            "offer_count": None,
        },
        {
            "sku": "S-2",
            "name": "M",
            "url": None,
            "price": "12.3400",
            "list_price": None,
            "currency": "GBP",
            "availability": "InStock",
            "selected": True,
            "high_price": None,
            "offer_count": None,
        },
    ]
    db.execute(
        "UPDATE observations SET list_price = 14.5, offers = %s WHERE product_id = %s AND price = 12.34",
        (Jsonb(offers), product),
    )
    response = history(client, shop["key"], product, order="asc")
    assert response.status_code == 200
    items = response.json["items"]  # parsed by the test client: valid JSON
    stored = db.execute(
        "SELECT id, observed_at, price, currency, availability, list_price, offers, ok, error, "
        "error_type, flagged FROM observations WHERE product_id = %s ORDER BY observed_at",
        (product,),
    ).fetchall()
    for item in items:  # ISO 8601 in UTC (Postgres drops trailing zeros of the microseconds)
        assert item["observed_at"].endswith("+00:00")
        item["observed_at"] = datetime.fromisoformat(item["observed_at"])
    assert items == [
        {
            **row,
            "price": None if row["price"] is None else str(row["price"]),
            "list_price": None if row["list_price"] is None else str(row["list_price"]),
            "offers": row["offers"] or [],
        }
        for row in stored
    ]
    assert items[3]["error"] == odd and items[0]["offers"] == offers and items[0]["list_price"] == "14.5"


def test_pages_end_exactly_where_they_should_whatever_the_items_hold(client, shop, db):
    """A page is cut from one string Postgres joined (the extra row that says "more" comes off its end):
    error text that looks like the start of an item must not move the cut."""
    product = shop["ids"][2]
    at = NOW - timedelta(days=2)
    ids = []
    for n in range(7):
        mimic = ',{"id":%d,"observed_at":' % (ids[-1] + 1 if ids else 1)  # what the next item starts with
        offers = Jsonb([{"sku": mimic, "name": mimic, "selected": True}]) if n % 2 else None
        ids.append(
            db.execute(
                "INSERT INTO observations (product_id, observed_at, ok, error_type, error, offers) "
                "VALUES (%s, %s, false, 'parse', %s, %s) RETURNING id",
                (product, at + timedelta(minutes=n), mimic * (n % 3), offers),
            ).fetchone()["id"]
        )
    whole = history(client, shop["key"], product, order="asc").json["items"]
    assert [i["id"] for i in whole] == ids
    for order, expected in (("asc", whole), ("desc", whole[::-1])):
        for limit in (1, 2, 3, 6, 7):
            seen, cursor = [], None
            while True:
                body = history(
                    client, shop["key"], product, order=order, limit=limit, **({"cursor": cursor} if cursor else {})
                ).json
                assert len(body["items"]) <= limit
                seen += body["items"]
                cursor = body["next_cursor"]
                if cursor is None:
                    break
            assert seen == expected, (order, limit)


def test_history_time_range(client, shop):
    start, end = NOW - timedelta(days=30), NOW - timedelta(days=20)
    body = history(
        client, shop["key"], shop["product"], start=start.isoformat(), end=end.isoformat(), limit=500
    ).get_json()
    expected = [r for r in shop["rows"] if start <= r[1] < end]
    assert len(body["items"]) == len(expected) == 20


def test_other_clients_products_are_404(client, shop):
    for path in ("history", "statistics"):
        response = client.get(f"/v1/products/{shop['foreign']}/{path}", headers=bearer(shop["key"]))
        assert response.status_code == 404
    assert client.get(f"/v1/products/{shop['foreign']}", headers=bearer(shop["key"])).status_code == 404


def test_statistics_stored_months_plus_the_current_month_live(client, shop, db):
    aggregate_completed_months(db, lookback_months=4)
    months = client.get(f"/v1/products/{shop['product']}/statistics?months=6", headers=bearer(shop["key"])).get_json()
    assert months[-1]["month"] == THIS_MONTH.strftime("%Y-%m") and months[-1]["live"] is True
    assert all(not m["live"] for m in months[:-1])
    for m in months:
        rows = [r for r in shop["rows"] if r[1].strftime("%Y-%m") == m["month"]]
        good = [r for r in rows if r[2]]
        assert m["observations"] == len(rows) and m["ok_observations"] == len(good)
        assert Decimal(m["min_price"]) == min(r[3] for r in good)
        assert Decimal(m["max_price"]) == max(r[3] for r in good)
        assert Decimal(m["last_price"]) == max(good, key=lambda r: r[1])[3]
        in_stock = sum(1 for r in good if r[5] == "InStock") / len(good)
        assert abs(m["in_stock_ratio"] - in_stock) < 1e-3
    assert (
        client.get(f"/v1/products/{shop['product']}/statistics?months=37", headers=bearer(shop["key"])).status_code
        == 400
    )


def test_products_search_and_sort(client, shop):
    found = client.get("/v1/products?q=kettle&sort=-price", headers=bearer(shop["key"])).get_json()
    assert [p["name"] for p in found] == ["Blue Kettle", "Green Kettle"]
    by_price = client.get("/v1/products?sort=price", headers=bearer(shop["key"])).get_json()
    assert [p["price"] for p in by_price] == ["12.00", "20.00", "35.50"]
    by_change = client.get("/v1/products?sort=-last_change", headers=bearer(shop["key"])).get_json()
    assert [p["name"] for p in by_change] == ["Blue Kettle", "Red Toaster", "Green Kettle"]
    assert client.get("/v1/products?q=%25", headers=bearer(shop["key"])).get_json() == []  # % is literal
    assert client.get("/v1/products?sort=colour", headers=bearer(shop["key"])).status_code == 400


def test_retention_drops_whole_partitions_after_aggregating_them(db, shop, services):
    old_month = add_months(THIS_MONTH, -14)
    ensure_observation_partitions(db, first=old_month, last=old_month)
    at = datetime(old_month.year, old_month.month, 10, tzinfo=UTC)
    for i, price in enumerate(("10.00", "14.00", "12.00")):
        db.execute(
            "INSERT INTO observations (product_id, observed_at, ok, price, currency, availability) "
            "VALUES (%s, %s, true, %s, 'GBP', 'InStock')",
            (shop["product"], at + timedelta(days=i), price),
        )
    db.execute(
        "INSERT INTO crawl_runs (website_id, kind, status, started_at) SELECT website_id, 'scheduled', "
        "'succeeded', now() - interval '400 days' FROM products WHERE id = %s",
        (shop["product"],),
    )
    recent_before = db.execute(
        "SELECT count(*) AS n FROM observations WHERE observed_at >= %s", (add_months(THIS_MONTH, -11),)
    ).fetchone()["n"]
    settings = {**load_settings({}), "OBSRV_RETENTION_DAYS": 365}
    result = apply_retention(db, settings)
    assert old_month.strftime("%Y-%m") in result["partitions_dropped"]
    assert partition_name(old_month) not in existing_partitions(db)
    stats = db.execute(
        "SELECT min_price, max_price, last_price, observations FROM product_statistics "
        "WHERE product_id = %s AND month = %s",
        (shop["product"], old_month),
    ).fetchone()
    assert stats == {
        "min_price": Decimal("10.00"),
        "max_price": Decimal("14.00"),
        "last_price": Decimal("12.00"),
        "observations": 3,
    }
    assert (
        db.execute(
            "SELECT count(*) AS n FROM observations WHERE observed_at >= %s", (add_months(THIS_MONTH, -11),)
        ).fetchone()["n"]
        == recent_before
    )
    assert result["crawl_runs_deleted"] == 1
    assert apply_retention(db, settings)["partitions_dropped"] == {}  # idempotent
