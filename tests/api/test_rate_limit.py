"""Per-key rate limit counted in Redis (flask-limiter), 429 with Retry-After and X-RateLimit-*."""

from tests.conftest import bearer


def test_limit_reached_gives_429_with_headers(make_app, new_client):
    _cid, key = new_client()
    client = make_app(OBSRV_RATE_LIMIT="3/hour").test_client()
    remaining = []
    for _ in range(3):
        response = client.get("/v1/auth/keys", headers=bearer(key))
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit"] == "3"
        remaining.append(int(response.headers["X-RateLimit-Remaining"]))
        assert "Retry-After" not in response.headers  # only a 429 carries it
    assert remaining == [2, 1, 0]
    blocked = client.get("/v1/auth/keys", headers=bearer(key))
    assert blocked.status_code == 429
    body = blocked.get_json()
    assert body["code"] == 429 and body["message"] and body["request_id"]
    assert 0 < int(blocked.headers["Retry-After"]) <= 3600
    assert blocked.headers["X-RateLimit-Remaining"] == "0"
    assert int(blocked.headers["X-RateLimit-Reset"]) > 0


def test_counted_per_key_in_redis_shared_by_processes(make_app, new_client, services):
    _a, key_a = new_client("A")
    _b, key_b = new_client("B")
    first = make_app(OBSRV_RATE_LIMIT="2/hour").test_client()
    second = make_app(OBSRV_RATE_LIMIT="2/hour").test_client()  # another worker process's app
    assert first.get("/v1/auth/keys", headers=bearer(key_a)).status_code == 200
    assert second.get("/v1/auth/keys", headers=bearer(key_a)).status_code == 200
    assert first.get("/v1/auth/keys", headers=bearer(key_a)).status_code == 429
    assert second.get("/v1/auth/keys", headers=bearer(key_b)).status_code == 200  # B has its own budget
    from core.redis_client import get_redis

    assert any(b"obsrv" in k for k in get_redis(services.redis_url).keys("*"))


def test_unauthenticated_calls_are_not_counted_against_keys(make_app, new_client):
    _cid, key = new_client()
    client = make_app(OBSRV_RATE_LIMIT="1/hour").test_client()
    for _ in range(5):
        assert client.get("/health/live").status_code == 200
    assert client.get("/v1/auth/keys").status_code == 401
    assert client.get("/v1/auth/keys", headers=bearer(key)).status_code == 200
