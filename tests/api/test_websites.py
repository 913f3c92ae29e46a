"""Website registration, settings, status edges, deletion, candidates and approval — through the API."""

from decimal import Decimal

import pytest

from core.redis_client import get_redis
from tests.conftest import bearer

SEEDS = ["http://127.0.0.1:9/", "http://127.0.0.1:9/catalogue/page-1.html"]


@pytest.fixture
def api(make_app, new_client):
    """(test client, admin key) with private targets allowed, as tests and the local demo run."""
    _cid, key = new_client()
    return make_app(OBSRV_ALLOW_PRIVATE_TARGETS=True, OBSRV_ALLOW_HTTP_WEBHOOKS=True).test_client(), key


def register(client, key, **fields):
    body = {"name": "Books", "seed_urls": SEEDS, **fields}
    return client.post("/v1/websites", json=body, headers=bearer(key))


def test_register_returns_202_and_enqueues_discovery(api, services, db):
    client, key = api
    response = register(
        client,
        key,
        price_threshold_pct=2.5,
        crawl_rate_per_minute=30,
        selectors={"price": ".price_color", "name": "//h1/text()"},
    )
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert body["status"] == "pending_discovery" and body["discovery_job_id"]
    work = db.execute("SELECT job_id, website_id, kind, status FROM crawl_work").fetchall()
    assert work == [
        {"job_id": body["discovery_job_id"], "website_id": body["id"], "kind": "discovery", "status": "queued"}
    ]
    website = client.get(f"/v1/websites/{body['id']}", headers=bearer(key)).get_json()
    assert website["domain"] == "127.0.0.1:9" and website["schedule"] == "0 2 * * *"
    assert Decimal(website["price_threshold_pct"]) == Decimal("2.5") and website["crawl_rate_per_minute"] == 30
    assert website["next_crawl_at"] and website["selectors"]["price"] == ".price_color"
    audit = db.execute("SELECT action FROM audit_log WHERE target_type = 'website'").fetchall()
    assert [a["action"] for a in audit] == ["website.created"]


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"seed_urls": []}, "seed_urls"),
        ({"seed_urls": ["ftp://x.test/"]}, "seed_urls"),
        ({"seed_urls": ["not a url"]}, "seed_urls"),
        ({"seed_urls": ["http://a.test/"] * 21}, "seed_urls"),
        ({"seed_urls": ["http://a.test/", "http://b.test/"]}, "seed_urls"),
        ({"schedule": "every day"}, "schedule"),
        ({"schedule": "61 2 * * *"}, "schedule"),
        ({"price_threshold_pct": 101}, "price_threshold_pct"),
        ({"price_threshold_pct": -1}, "price_threshold_pct"),
        ({"crawl_rate_per_minute": 0}, "crawl_rate_per_minute"),
        ({"crawl_rate_per_minute": 121}, "crawl_rate_per_minute"),
        ({"webhook_url": "mailto:x@y"}, "webhook_url"),
        ({"render_js": "maybe"}, "render_js"),
        ({"selectors": {"price": "div[[["}}, "selectors"),
        ({"selectors": {"colour": ".c"}}, "selectors"),
        ({"name": ""}, "name"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
def test_invalid_registration_is_400_with_a_message_for_the_field(api, db, fields, field):
    client, key = api
    response = register(client, key, **fields)
    assert response.status_code == 400, response.get_json()
    body = response.get_json()
    assert field in body["errors"]["json"], body
    assert db.execute("SELECT count(*) AS n FROM websites").fetchone()["n"] == 0


def test_private_targets_are_refused_unless_allowed(make_app, new_client, db):
    _cid, key = new_client()
    client = make_app(OBSRV_ALLOW_PRIVATE_TARGETS=False).test_client()
    for seed in (
        "http://127.0.0.1/",
        "http://10.1.2.3/shop",
        "http://169.254.169.254/latest",
        "http://localhost/",
        "http://[::1]/",
    ):
        response = register(client, key, seed_urls=[seed])
        assert response.status_code == 400, seed
        assert "seed_urls" in response.get_json()["errors"]["json"]
    response = register(client, key, seed_urls=["https://shop.example/"], webhook_url="http://192.168.1.5/hook")
    assert response.status_code == 400 and "webhook_url" in response.get_json()["errors"]["json"]
    response = register(client, key, seed_urls=["https://shop.example/"], webhook_url="http://hooks.example/x")
    assert response.status_code == 400 and "https" in str(response.get_json()["errors"])


def test_same_domain_twice_is_409_but_another_client_may(api, make_app, new_client):
    client, key = api
    assert register(client, key).status_code == 202
    again = register(client, key, seed_urls=["http://127.0.0.1:9/other"], name="Again")
    assert again.status_code == 409 and "127.0.0.1:9" in again.get_json()["message"]
    _other, other_key = new_client("Other")
    assert register(client, other_key).status_code == 202


def test_list_paginates_and_filters_by_status(api, db):
    client, key = api
    for port in range(1, 6):
        assert register(client, key, seed_urls=[f"http://127.0.0.1:{port}/"], name=f"S{port}").status_code == 202
    db.execute("UPDATE websites SET status = 'pending_approval' WHERE name IN ('S2', 'S4')")
    page = client.get("/v1/websites?page=1&page_size=2", headers=bearer(key))
    assert page.status_code == 200 and [w["name"] for w in page.get_json()] == ["S1", "S2"]
    assert '"total": 5' in page.headers["X-Pagination"]
    filtered = client.get("/v1/websites?status=pending_approval", headers=bearer(key)).get_json()
    assert [w["name"] for w in filtered] == ["S2", "S4"]
    assert client.get("/v1/websites?status=bogus", headers=bearer(key)).status_code == 400
    assert client.get("/v1/websites?page_size=1000", headers=bearer(key)).status_code == 400


def test_tenants_never_see_each_others_websites(api, new_client, make_app):
    client, key = api
    website_id = register(client, key).get_json()["id"]
    _other, other_key = new_client("Other")
    for method, path in (
        ("get", f"/v1/websites/{website_id}"),
        ("patch", f"/v1/websites/{website_id}"),
        ("delete", f"/v1/websites/{website_id}"),
        ("get", f"/v1/websites/{website_id}/discovered-products"),
        ("post", f"/v1/websites/{website_id}/approve-products"),
    ):
        kwargs = {"json": {"product_ids": [1]}} if path.endswith("approve-products") else {}
        if method == "patch":
            kwargs = {"json": {"crawl_rate_per_minute": 5}}
        response = getattr(client, method)(path, headers=bearer(other_key), **kwargs)
        assert response.status_code == 404, (method, path)
    assert client.get("/v1/websites", headers=bearer(other_key)).get_json() == []


def test_patch_changes_settings_and_recomputes_next_crawl(api, db):
    client, key = api
    website_id = register(client, key).get_json()["id"]
    response = client.patch(
        f"/v1/websites/{website_id}",
        headers=bearer(key),
        json={
            "schedule": "30 5 * * 1",
            "price_threshold_pct": 5,
            "crawl_rate_per_minute": 60,
            "render_js": True,
            "webhook_url": "http://127.0.0.1:9/hook",
            "selectors": {"price": ".p"},
        },
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["schedule"] == "30 5 * * 1" and body["render_js"] is True and body["selectors"] == {"price": ".p"}
    assert "05:30:00" in body["next_crawl_at"]
    assert client.patch(f"/v1/websites/{website_id}", headers=bearer(key), json={"schedule": "x"}).status_code == 400
    assert (
        client.patch(f"/v1/websites/{website_id}", headers=bearer(key), json={"status": "active"}).status_code == 409
    )  # nothing approved yet
    assert (
        client.patch(f"/v1/websites/{website_id}", headers=bearer(key), json={"status": "failed"}).status_code == 400
    )  # not a status a client sets


def test_delete_removes_products_and_history(api, db):
    client, key = api
    website_id = register(client, key).get_json()["id"]
    product = db.execute(
        "INSERT INTO products (website_id, url, identity) VALUES (%s, 'http://127.0.0.1:9/p', 'url:p') RETURNING id",
        (website_id,),
    ).fetchone()["id"]
    db.execute("INSERT INTO observations (product_id, ok) VALUES (%s, true)", (product,))
    assert client.delete(f"/v1/websites/{website_id}", headers=bearer(key)).status_code == 204
    assert client.get(f"/v1/websites/{website_id}", headers=bearer(key)).status_code == 404
    assert db.execute("SELECT count(*) AS n FROM observations").fetchone()["n"] == 0
    assert db.execute("SELECT count(*) AS n FROM products").fetchone()["n"] == 0
    assert client.delete(f"/v1/websites/{website_id}", headers=bearer(key)).status_code == 404


def test_scopes_read_cannot_write(api, make_app):
    client, key = api
    reader = client.post("/v1/auth/keys", json={"name": "r", "scopes": ["read"]}, headers=bearer(key)).get_json()["key"]
    assert register(client, reader).status_code == 403
    assert client.get("/v1/websites", headers=bearer(reader)).status_code == 200


def seed_candidates(db, website_id, n, status="discovered"):
    ids = []
    for i in range(n):
        ids.append(
            db.execute(
                """INSERT INTO products (website_id, url, identity, name, price, currency, availability, discovery_score,
                                     status) VALUES (%s, %s, %s, %s, %s, 'GBP', 'InStock', %s, %s) RETURNING id""",
                (
                    website_id,
                    f"http://127.0.0.1:9/p/{i}",
                    f"url:{i}",
                    f"Book {i}",
                    Decimal("10.50") + i,
                    i / 1000,
                    status,
                ),
            ).fetchone()["id"]
        )
    return ids


def test_candidates_ranked_best_first_and_approval(api, db, services):
    client, key = api
    website_id = register(client, key).get_json()["id"]
    early = client.post(f"/v1/websites/{website_id}/approve-products", json={"product_ids": [1]}, headers=bearer(key))
    assert early.status_code == 409  # discovery not finished
    db.execute("UPDATE websites SET status = 'pending_approval' WHERE id = %s", (website_id,))
    ids = seed_candidates(db, website_id, 120)
    page = client.get(f"/v1/websites/{website_id}/discovered-products?page_size=3", headers=bearer(key))
    candidates = page.get_json()
    assert [c["name"] for c in candidates] == ["Book 119", "Book 118", "Book 117"]
    assert candidates[0]["price"] == "129.50" and candidates[0]["currency"] == "GBP"
    assert set(candidates[0]) >= {"id", "url", "name", "price", "currency", "availability", "score"}

    # more than 100 in total: 400, nothing changed
    too_many = client.post(
        f"/v1/websites/{website_id}/approve-products", json={"product_ids": ids[:101]}, headers=bearer(key)
    )
    assert too_many.status_code == 400
    # foreign ids: 400, nothing changed
    other = register(client, key, seed_urls=["http://127.0.0.1:10/"], name="Other").get_json()["id"]
    foreign = seed_candidates(db, other, 1)
    bad = client.post(
        f"/v1/websites/{website_id}/approve-products", json={"product_ids": [ids[0], foreign[0]]}, headers=bearer(key)
    )
    assert bad.status_code == 400 and str(foreign[0]) in str(bad.get_json()["errors"])
    assert db.execute("SELECT count(*) AS n FROM products WHERE status = 'approved'").fetchone()["n"] == 0

    get_redis(services.redis_url).flushdb()
    ok = client.post(f"/v1/websites/{website_id}/approve-products", json={"product_ids": ids[:60]}, headers=bearer(key))
    assert ok.status_code == 202, ok.get_json()
    body = ok.get_json()
    assert body["total_approved"] == 60 and body["status"] == "active" and body["baseline_job_id"]
    job = db.execute("SELECT * FROM crawl_work WHERE job_id = %s", (body["baseline_job_id"],)).fetchone()
    assert (job["website_id"], job["kind"]) == (website_id, "baseline")
    assert sorted(job["product_ids"]) == sorted(ids[:60])
    # 60 + 41 > 100
    assert (
        client.post(
            f"/v1/websites/{website_id}/approve-products", json={"product_ids": ids[60:101]}, headers=bearer(key)
        ).status_code
        == 400
    )
    more = client.post(
        f"/v1/websites/{website_id}/approve-products", json={"product_ids": ids[50:100]}, headers=bearer(key)
    ).get_json()
    assert more["total_approved"] == 100 and len(more["approved"]) == 40

    # products: the approved ones, tenant-scoped, with decimal-string prices
    products = client.get(f"/v1/products?website_id={website_id}&page_size=100", headers=bearer(key)).get_json()
    assert len(products) == 100 and products[0]["price"] == "10.50"
    one = client.get(f"/v1/products/{ids[0]}", headers=bearer(key))
    assert one.status_code == 200 and one.get_json()["website_id"] == website_id
    assert client.get(f"/v1/products/{foreign[0]}", headers=bearer(key)).status_code == 404  # not approved
    assert client.get("/v1/products?availability=Nope", headers=bearer(key)).status_code == 400


def test_pause_and_resume(api, db):
    client, key = api
    website_id = register(client, key).get_json()["id"]
    db.execute("UPDATE websites SET status = 'pending_approval' WHERE id = %s", (website_id,))
    ids = seed_candidates(db, website_id, 2)
    client.post(f"/v1/websites/{website_id}/approve-products", json={"product_ids": ids}, headers=bearer(key))
    paused = client.patch(f"/v1/websites/{website_id}", json={"status": "paused"}, headers=bearer(key))
    assert paused.status_code == 200 and paused.get_json()["status"] == "paused"
    resumed = client.patch(f"/v1/websites/{website_id}", json={"status": "active"}, headers=bearer(key))
    assert resumed.get_json()["status"] == "active"


def test_crawl_now_queues_a_manual_crawl_or_says_409(api, db, services):
    client, key = api
    website_id = register(client, key).get_json()["id"]
    assert client.post(f"/v1/websites/{website_id}/crawl", headers=bearer(key)).status_code == 409  # not active
    db.execute("UPDATE websites SET status = 'active' WHERE id = %s", (website_id,))
    db.execute("UPDATE crawl_work SET status = 'done'")  # its discovery ran
    queued = client.post(f"/v1/websites/{website_id}/crawl", headers=bearer(key))
    assert queued.status_code == 202
    job = db.execute("SELECT * FROM crawl_work WHERE job_id = %s", (queued.get_json()["job_id"],)).fetchone()
    assert (job["website_id"], job["kind"], job["status"]) == (website_id, "manual", "queued")
    waiting = client.post(f"/v1/websites/{website_id}/crawl", headers=bearer(key))
    assert waiting.status_code == 409 and "waiting" in waiting.get_json()["message"]
    db.execute("UPDATE crawl_work SET status = 'running' WHERE id = %s", (job["id"],))
    busy = client.post(f"/v1/websites/{website_id}/crawl", headers=bearer(key))
    assert busy.status_code == 409 and "running" in busy.get_json()["message"]
    db.execute("UPDATE crawl_work SET status = 'done' WHERE id = %s", (job["id"],))
    run = db.execute(
        "INSERT INTO crawl_runs (website_id, kind) VALUES (%s, 'manual') RETURNING id", (website_id,)
    ).fetchone()["id"]
    assert client.post(f"/v1/websites/{website_id}/crawl", headers=bearer(key)).status_code == 409
    db.execute("UPDATE crawl_runs SET status = 'succeeded' WHERE id = %s", (run,))
    assert client.post(f"/v1/websites/{website_id}/crawl", headers=bearer(key)).status_code == 202
    reader = client.post("/v1/auth/keys", json={"name": "r", "scopes": ["read"]}, headers=bearer(key)).get_json()["key"]
    assert client.post(f"/v1/websites/{website_id}/crawl", headers=bearer(reader)).status_code == 403


def test_another_clients_crawl_of_the_same_shop_is_neither_a_conflict_nor_visible(make_app, new_client, db):
    """#12 (18): client B crawling the shop does not block client A's crawl nor tell A that B exists; A's crawl
    is queued and the crawler shares the domain's slot between them at the stricter rate."""
    app = make_app(OBSRV_ALLOW_PRIVATE_TARGETS=True).test_client()
    (_a, key_a), (_b, key_b) = new_client(), new_client()
    site_a, site_b = (register(app, key).get_json()["id"] for key in (key_a, key_b))
    db.execute("UPDATE websites SET status = 'active'")
    db.execute("UPDATE crawl_work SET status = 'done'")
    queued_b = app.post(f"/v1/websites/{site_b}/crawl", headers=bearer(key_b)).get_json()["job_id"]
    db.execute("UPDATE crawl_work SET status = 'running' WHERE job_id = %s", (queued_b,))
    db.execute("INSERT INTO crawl_runs (website_id, kind) VALUES (%s, 'manual')", (site_b,))
    response = app.post(f"/v1/websites/{site_a}/crawl", headers=bearer(key_a))
    assert response.status_code == 202, response.get_json()
    assert response.get_json()["website_id"] == site_a and queued_b not in response.get_data(as_text=True)
    work = db.execute(
        "SELECT website_id, status FROM crawl_work WHERE job_id = %s", (response.get_json()["job_id"],)
    ).fetchone()
    assert work == {"website_id": site_a, "status": "queued"}
    health = app.get(f"/v1/websites/{site_a}", headers=bearer(key_a)).get_data(as_text=True)
    assert str(queued_b) not in health


BAD_WEBHOOKS = [
    "https://127.0.0.1:8999\\@evil.example/x",  # the check and requests read two different hosts
    "https://%31%32%37.0.0.1:8999/",  # percent-encoded loopback
    "https://nowhere.invalid/hook",  # does not resolve now: could resolve anywhere later
    "https://user:secret@hooks.example/x",
    "https://hooks.example/x\r\nX-Injected: 1",
    "https://127.1:8999/",
    "https://[::1]:8999/",
]


@pytest.mark.parametrize("url", BAD_WEBHOOKS)
def test_bad_webhook_urls_are_400_in_the_one_error_shape_at_registration_and_update(make_app, new_client, db, url):
    _cid, key = new_client()
    client = make_app(OBSRV_ALLOW_PRIVATE_TARGETS=False, OBSRV_ALLOW_HTTP_WEBHOOKS=False).test_client()
    response = register(client, key, seed_urls=["https://shop.example/"], webhook_url=url)
    assert response.status_code == 400, response.get_json()
    body = response.get_json()
    assert set(body) == {"code", "status", "message", "errors", "request_id"}
    assert body["code"] == 400 and list(body["errors"]["json"]) == ["webhook_url"]
    assert "127.0.0.1" not in str(body) or "127.0.0.1" in url  # nothing learnt about the network
    assert "secret" not in str(body)
    assert db.execute("SELECT count(*) AS n FROM websites").fetchone()["n"] == 0

    website_id = register(client, key, seed_urls=["https://shop.example/"]).get_json()["id"]
    patched = client.patch(f"/v1/websites/{website_id}", headers=bearer(key), json={"webhook_url": url})
    assert patched.status_code == 400, patched.get_json()
    assert set(patched.get_json()) == set(body) and list(patched.get_json()["errors"]["json"]) == ["webhook_url"]
    assert db.execute("SELECT webhook_url FROM websites WHERE id = %s", (website_id,)).fetchone() == {
        "webhook_url": None
    }
