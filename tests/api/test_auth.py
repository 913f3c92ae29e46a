"""API keys: authentication, scopes, tenancy, invalidation, audit, last use."""

import re

from api.auth import KEY_PREFIX, digest
from tests.conftest import bearer

KEY_RE = re.compile(r"obsrv_live_[A-Za-z0-9_-]{43}")


def create_key(client, admin_key, name="ci", scopes=("read",)):
    response = client.post("/v1/auth/keys", json={"name": name, "scopes": list(scopes)}, headers=bearer(admin_key))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def assert_error(response, code):
    assert response.status_code == code
    body = response.get_json()
    assert body["code"] == code and body["status"] and body["message"]
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body


def test_missing_header_is_401_with_the_error_shape(client):
    body = assert_error(client.get("/v1/auth/keys"), 401)
    assert "Missing API key" in body["message"]


def test_malformed_and_unknown_keys_are_401(client, new_client):
    new_client()
    response = client.get("/v1/auth/keys", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert_error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert_error(client.get("/v1/auth/keys", headers=bearer("obsrv_live_short")), 401)
    unknown = KEY_PREFIX + "A" * 43
    assert "Invalid API key" in assert_error(client.get("/v1/auth/keys", headers=bearer(unknown)), 401)["message"]


def test_same_prefix_different_key_is_rejected(client, new_client):
    _cid, key = new_client()
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    assert_error(client.get("/v1/auth/keys", headers=bearer(forged)), 401)


def test_key_shape_and_storage(client, new_client, db):
    client_id, admin = new_client()
    assert KEY_RE.fullmatch(admin)
    created = create_key(client, admin, name="reporting", scopes=["read", "write"])
    assert KEY_RE.fullmatch(created["key"])
    assert created["prefix"] == created["key"][:19]
    assert created["scopes"] == ["read", "write"]
    rows = db.execute("SELECT prefix, digest FROM api_keys WHERE id = %s", (created["id"],)).fetchall()
    assert len(rows) == 1 and bytes(rows[0]["digest"]) == digest(created["key"])
    stored = db.execute("SELECT row_to_json(k)::text AS t FROM api_keys k").fetchall()
    assert not any(created["key"] in r["t"] or admin in r["t"] for r in stored), "keys must not be stored"


def test_listing_shows_metadata_only(client, new_client):
    _cid, admin = new_client()
    create_key(client, admin, name="second")
    response = client.get("/v1/auth/keys", headers=bearer(admin))
    assert response.status_code == 200
    keys = response.get_json()
    assert [k["name"] for k in keys] == ["bootstrap admin key", "second"]
    for k in keys:
        assert set(k) == {"id", "name", "prefix", "scopes", "created_at", "last_used_at"}


def test_scopes_read_write_admin(client, new_client):
    _cid, admin = new_client()
    reader = create_key(client, admin, scopes=["read"])["key"]
    writer = create_key(client, admin, scopes=["write"])["key"]
    for key in (reader, writer):
        body = assert_error(client.get("/v1/auth/keys", headers=bearer(key)), 403)
        assert "admin" in body["message"]
        assert_error(client.post("/v1/auth/keys", json={"name": "x", "scopes": ["read"]}, headers=bearer(key)), 403)
    admin_only = create_key(client, admin, scopes=["admin"])["key"]
    assert client.get("/v1/auth/keys", headers=bearer(admin_only)).status_code == 200


def test_create_key_validation_is_400_per_field(client, new_client):
    _cid, admin = new_client()
    body = assert_error(client.post("/v1/auth/keys", json={"scopes": ["root"]}, headers=bearer(admin)), 400)
    assert "name" in body["errors"]["json"] and "scopes" in body["errors"]["json"]
    assert_error(client.post("/v1/auth/keys", json={"name": "x", "scopes": []}, headers=bearer(admin)), 400)
    response = client.post(
        "/v1/auth/keys", data="not json", headers={**bearer(admin), "Content-Type": "application/json"}
    )
    assert response.status_code == 400


def test_invalidated_key_stops_working_at_once(client, new_client, db):
    client_id, admin = new_client()
    created = create_key(client, admin, scopes=["admin"])
    key = created["key"]
    assert client.get("/v1/auth/keys", headers=bearer(key)).status_code == 200
    assert client.delete(f"/v1/auth/keys/{created['id']}", headers=bearer(admin)).status_code == 204
    body = assert_error(client.get("/v1/auth/keys", headers=bearer(key)), 401)
    assert "invalidated" in body["message"]
    assert_error(client.delete(f"/v1/auth/keys/{created['id']}", headers=bearer(admin)), 404)
    listed = [k["id"] for k in client.get("/v1/auth/keys", headers=bearer(admin)).get_json()]
    assert created["id"] not in listed


def test_a_client_never_sees_another_clients_keys(client, new_client):
    _a, admin_a = new_client("A")
    _b, admin_b = new_client("B")
    key_b = create_key(client, admin_b, name="b-key")
    listed_by_a = client.get("/v1/auth/keys", headers=bearer(admin_a)).get_json()
    assert [k["name"] for k in listed_by_a] == ["bootstrap admin key"]
    assert_error(client.delete(f"/v1/auth/keys/{key_b['id']}", headers=bearer(admin_a)), 404)
    assert client.get("/v1/auth/keys", headers=bearer(key_b["key"])).status_code == 403  # still valid, read-only


def test_key_creation_and_invalidation_are_audited(client, new_client, db):
    client_id, admin = new_client()
    created = create_key(client, admin, name="audited", scopes=["read"])
    client.delete(f"/v1/auth/keys/{created['id']}", headers=bearer(admin), environ_overrides={})
    rows = db.execute(
        "SELECT action, target_id, api_key_id, details, request_id FROM audit_log WHERE client_id = %s ORDER BY id",
        (client_id,),
    ).fetchall()
    actions = [(r["action"], r["target_id"]) for r in rows]
    assert ("api_key.created", created["id"]) in actions
    assert ("api_key.invalidated", created["id"]) in actions
    invalidated = next(r for r in rows if r["action"] == "api_key.invalidated")
    assert invalidated["api_key_id"] is not None and invalidated["request_id"]
    assert created["key"] not in str(rows)


def test_last_used_at_is_written_at_most_once_per_interval(make_app, new_client, db):
    client_id, admin = new_client()
    client = make_app(OBSRV_KEY_TOUCH_SECONDS=60).test_client()
    assert db.execute("SELECT last_used_at FROM api_keys").fetchone()["last_used_at"] is None
    client.get("/v1/auth/keys", headers=bearer(admin))
    first = db.execute("SELECT last_used_at FROM api_keys").fetchone()["last_used_at"]
    assert first is not None
    for _ in range(3):
        client.get("/v1/auth/keys", headers=bearer(admin))
    # a second app (another process's view) shares the once-a-minute guard through Redis
    make_app(OBSRV_KEY_TOUCH_SECONDS=60).test_client().get("/v1/auth/keys", headers=bearer(admin))
    assert db.execute("SELECT last_used_at FROM api_keys").fetchone()["last_used_at"] == first


def test_request_id_is_echoed_or_generated(client):
    given = client.get("/health/live", headers={"X-Request-ID": "abc-123"})
    assert given.headers["X-Request-ID"] == "abc-123"
    generated = client.get("/health/live", headers={"X-Request-ID": "bad id with spaces"})
    assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["X-Request-ID"])


def test_every_error_has_the_one_shape(client, new_client):
    assert_error(client.get("/no/such/path"), 404)
    assert_error(client.put("/health/live"), 405)
    _cid, admin = new_client()
    assert_error(client.get("/v1/auth/keys/1", headers=bearer(admin)), 405)


def test_unexpected_errors_are_500_with_the_shape(make_app):
    app = make_app()

    @app.route("/boom")
    def boom():
        raise RuntimeError("kaboom")

    boom._obsrv_public = True
    response = app.test_client().get("/boom")
    body = assert_error(response, 500)
    assert "kaboom" not in body["message"]


def test_openapi_documents_the_endpoints_and_bearer_auth(client):
    spec = client.get("/openapi.json").get_json()
    assert spec["info"]["title"] == "Obsrv"
    assert "/v1/auth/keys" in spec["paths"] and "/health/ready" in spec["paths"]
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert spec["paths"]["/v1/auth/keys"]["get"]["security"] == [{"bearerAuth": []}]
    docs = client.get("/docs")
    assert docs.status_code == 200 and b"swagger-ui" in docs.data
    assert client.get("/docs/static/swagger-ui-bundle.js").status_code == 200


def _cached(app, key) -> bool:
    return app.extensions["obsrv_auth"].cache.get(digest(key)) is not None


def test_a_key_invalidated_in_one_process_stops_in_every_other_at_once(make_app, new_client):
    _cid, admin = new_client()
    first_app, second_app = make_app(), make_app()  # two API processes, each with its own key cache
    first, second = first_app.test_client(), second_app.test_client()
    created = create_key(second, admin, scopes=["read"])
    key = created["key"]
    for _ in range(2):
        assert first.get("/v1/products", headers=bearer(key)).status_code == 200
    assert _cached(first_app, key)  # answered from memory from now on
    assert second.delete(f"/v1/auth/keys/{created['id']}", headers=bearer(admin)).status_code == 204
    body = assert_error(first.get("/v1/products", headers=bearer(key)), 401)
    assert "invalidated" in body["message"]
    assert not _cached(first_app, key)
    assert first.get("/v1/auth/keys", headers=bearer(admin)).status_code == 200  # other keys go on working


def test_a_key_changed_around_the_api_is_served_from_memory_at_most_the_cache_age(make_app, new_client, db):
    _cid, key = new_client()
    cached_app, uncached_app = make_app(OBSRV_KEY_CACHE_SECONDS=3600), make_app(OBSRV_KEY_CACHE_SECONDS=0)
    cached, uncached = cached_app.test_client(), uncached_app.test_client()
    assert cached.get("/v1/products", headers=bearer(key)).status_code == 200
    assert uncached.get("/v1/products", headers=bearer(key)).status_code == 200
    assert not _cached(uncached_app, key)
    db.execute("UPDATE api_keys SET invalidated_at = now()")  # by SQL: no epoch change (README says so)
    assert uncached.get("/v1/products", headers=bearer(key)).status_code == 401
    assert cached.get("/v1/products", headers=bearer(key)).status_code == 200  # within OBSRV_KEY_CACHE_SECONDS


def test_without_a_readable_epoch_keys_are_read_from_postgres(make_app, new_client, db, services, tmp_path):
    # Redis flushed: the epoch is gone, so nothing cached before is trusted.
    _cid, key = new_client()
    app = make_app(OBSRV_KEY_CACHE_SECONDS=3600)
    client = app.test_client()
    assert client.get("/v1/products", headers=bearer(key)).status_code == 200
    assert _cached(app, key)
    db.execute("UPDATE api_keys SET invalidated_at = now()")
    from core.redis_client import get_redis

    get_redis(services.redis_url).flushall()
    assert client.get("/v1/products", headers=bearer(key)).status_code == 401

    # Limiter off: no trip reads the epoch, so every request reads Postgres.
    _cid, key = new_client("B")
    app = make_app(OBSRV_KEY_CACHE_SECONDS=3600, OBSRV_RATE_LIMIT_ENABLED=False)
    client = app.test_client()
    assert client.get("/v1/products", headers=bearer(key)).status_code == 200
    db.execute("UPDATE api_keys SET invalidated_at = now()")
    assert client.get("/v1/products", headers=bearer(key)).status_code == 401

    # Redis stopped: the limiter counts in memory and keys come from Postgres; valid ones still work.
    from db.embedded import EmbeddedRedis

    _cid, good = new_client("C")
    _cid, bad = new_client("D")
    redis = EmbeddedRedis(tmp_path / "redis")
    app = make_app(REDIS_URL=redis.start(), OBSRV_KEY_CACHE_SECONDS=3600)
    client = app.test_client()
    for k in (good, bad):
        assert client.get("/v1/products", headers=bearer(k)).status_code == 200
        assert _cached(app, k)
    redis.stop()
    db.execute("UPDATE api_keys SET invalidated_at = now() WHERE prefix = %s", (bad[:19],))
    assert client.get("/v1/products", headers=bearer(good)).status_code == 200
    assert client.get("/v1/products", headers=bearer(bad)).status_code == 401
