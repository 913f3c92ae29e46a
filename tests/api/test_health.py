from db.embedded import EmbeddedRedis


def test_live_needs_no_dependencies(client):
    response = client.get("/health/live")
    assert response.status_code == 200
    assert response.get_json()["status"] == "ok"


def test_ready_when_postgres_and_redis_answer(client):
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "checks": {"postgres": "ok", "redis": "ok"}}


def test_ready_is_503_naming_redis_when_redis_is_stopped(make_app, services, tmp_path):
    redis = EmbeddedRedis(tmp_path / "redis")
    app = make_app(REDIS_URL=redis.start(), OBSRV_HEALTH_TIMEOUT=1.0)
    client = app.test_client()
    assert client.get("/health/ready").status_code == 200
    redis.stop()
    response = client.get("/health/ready")
    assert response.status_code == 503
    body = response.get_json()
    assert body["code"] == 503
    assert "redis" in body["message"] and "postgres" not in body["message"]
    assert body["errors"]["checks"]["postgres"] == "ok"
    assert body["errors"]["checks"]["redis"].startswith("down")
    assert client.get("/health/live").status_code == 200


def test_ready_is_503_naming_postgres_when_postgres_is_unreachable(make_app, tmp_path):
    app = make_app(
        DATABASE_URL=f"postgresql://postgres@/obsrv?host={tmp_path}&connect_timeout=1", OBSRV_HEALTH_TIMEOUT=1.0
    )
    response = app.test_client().get("/health/ready")
    assert response.status_code == 503
    body = response.get_json()
    assert "postgres" in body["message"] and "redis" not in body["message"]
