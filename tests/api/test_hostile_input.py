"""#12 (15): input that used to reach a 500 gets a clear 4xx in the one error shape, and nothing stored changes."""

from __future__ import annotations

import json

import pytest

from tests.conftest import bearer

ERROR_KEYS = {"code", "status", "message", "request_id"}


@pytest.fixture
def app(make_app, new_client, db):
    _client_id, key = new_client()
    client = make_app(OBSRV_ALLOW_PRIVATE_TARGETS=True, OBSRV_ALLOW_HTTP_WEBHOOKS=True).test_client()
    created = client.post(
        "/v1/websites", headers=bearer(key), json={"name": "Shop", "seed_urls": ["http://127.0.0.1:9/"]}
    )
    assert created.status_code == 202, created.get_json()
    return client, key, created.get_json()["id"]


def _is_4xx(response):
    assert 400 <= response.status_code < 500, (response.status_code, response.get_data(as_text=True)[:300])
    body = response.get_json()
    assert body is not None and set(body) >= ERROR_KEYS, body
    return body


@pytest.mark.parametrize(
    "query",
    [
        "page=92233720368547759",
        "page=320438739113385525248",
        "page=-1",
        "page_size=99999999999999999999",
        "page=1e5",
    ],
)
def test_pagination_out_of_range(app, query):
    client, key, _website = app
    for path in ("/v1/websites", "/v1/products"):
        response = client.get(f"{path}?{query}", headers=bearer(key))
        if response.status_code == 200:
            assert response.get_json() == []  # a page past the end is empty
        else:
            _is_4xx(response)


@pytest.mark.parametrize("value", ["a\x00b", "\ud800", "x" * 3 + "\x00"])
def test_nul_bytes_and_lone_surrogates_in_text(app, db, value):
    client, key, website_id = app
    before = db.execute(
        "SELECT name, seed_urls, selectors, webhook_url FROM websites WHERE id = %s", (website_id,)
    ).fetchone()
    bodies = [
        {"name": value, "seed_urls": ["http://127.0.0.1:9/"]},
        {"name": "ok", "seed_urls": [f"http://127.0.0.1:9/{value}"]},
        {"name": "ok", "seed_urls": ["http://127.0.0.1:9/"], "selectors": {"price": value}},
        {"name": "ok", "seed_urls": ["http://127.0.0.1:9/"], "webhook_url": f"http://127.0.0.1:9/{value}"},
    ]
    for body in bodies:
        raw = json.dumps(body)  # a lone surrogate is sent as its \\ud800 escape, as a client would
        _is_4xx(client.post("/v1/websites", headers={**bearer(key), "Content-Type": "application/json"}, data=raw))
    for patch in ({"name": value}, {"selectors": {"price": value}}, {"webhook_url": f"http://127.0.0.1:9/{value}"}):
        _is_4xx(
            client.patch(
                f"/v1/websites/{website_id}",
                headers={**bearer(key), "Content-Type": "application/json"},
                data=json.dumps(patch),
            )
        )
    # in a query string a client sends bytes: NUL as %00 is refused; a surrogate's UTF-8-ish bytes are
    # not text and are read as U+FFFD (a search for nothing), never a 500
    query = value.encode("utf-8", "surrogatepass")
    response = client.get("/v1/products?q=" + "".join(f"%{byte:02X}" for byte in query), headers=bearer(key))
    if "\x00" in value:
        _is_4xx(response)
    else:
        assert response.status_code == 200 and response.get_json() == []
    after = db.execute(
        "SELECT name, seed_urls, selectors, webhook_url FROM websites WHERE id = %s", (website_id,)
    ).fetchone()
    assert after == before


@pytest.mark.parametrize(
    "raw",
    [
        "[" * 1000,
        '{"name": "x", "price_threshold_pct": ' + "9" * 5000 + "}",
        '{"name": "x", "crawl_rate_per_minute": ' + "9" * 5000 + "}",
    ],
)
def test_deep_or_huge_json(app, raw):
    client, key, _website = app
    _is_4xx(client.post("/v1/websites", headers={**bearer(key), "Content-Type": "application/json"}, data=raw))


@pytest.mark.parametrize("seed", ["http://exa\u202emple.com/", f"http://{'a' * 64}.example/", "http://xn--/"])
def test_seeds_with_idna_errors(app, seed):
    client, key, _website = app
    body = _is_4xx(client.post("/v1/websites", headers=bearer(key), json={"name": "x", "seed_urls": [seed]}))
    assert body["code"] in (400, 422)


@pytest.mark.parametrize(
    "query", ["end=0001-06-01T00:00:00Z", "start=9999-12-31T23:59:59Z", "start=0001-01-01T00:00:00%2B14:00"]
)
def test_history_dates_at_the_edges(app, db, query):
    client, key, website_id = app
    product_id = db.execute(
        "INSERT INTO products (website_id, url, identity, status) VALUES (%s, 'http://127.0.0.1:9/p',"
        " 'url:p', 'approved') RETURNING id",
        (website_id,),
    ).fetchone()["id"]
    response = client.get(f"/v1/products/{product_id}/history?{query}", headers=bearer(key))
    if response.status_code != 200:
        _is_4xx(response)
