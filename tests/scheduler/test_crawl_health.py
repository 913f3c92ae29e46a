"""Crawl health: auto-pause after consecutive failures (announced by webhook), resume, dead crawls, logs, health."""

from __future__ import annotations

from rq import Queue

from core.redis_client import get_redis
from core.settings import load_settings
from db.queries import crawls as crawls_q
from scheduler.loop import Scheduler
from tests.conftest import bearer
from tests.support.crawling import run_crawl
from tests.support.factories import approve_products, make_website
from tests.support.receiver import Receiver
from webhooks.delivery import deliver
from webhooks.signing import new_secret


def test_three_failed_crawls_pause_the_website_and_say_so(db, crawl_env, make_app, services):
    with Receiver() as receiver:
        website_id = make_website(db, ["http://127.0.0.1:9/"], status="active", webhook_url=receiver.url)
        approve_products(db, website_id, ["http://127.0.0.1:9/p/1"])
        client_id = db.execute("SELECT client_id FROM websites WHERE id = %s", (website_id,)).fetchone()["client_id"]
        db.execute("INSERT INTO webhook_secrets (client_id, secret) VALUES (%s, %s)", (client_id, new_secret()))
        for _ in range(3):
            assert run_crawl(website_id, "scheduled")["status"] == "failed"
        website = db.execute(
            "SELECT status, status_reason, consecutive_failures FROM websites WHERE id = %s", (website_id,)
        ).fetchone()
        assert website["status"] == "paused" and website["consecutive_failures"] == 3
        assert "3 consecutive failed crawls" in website["status_reason"]
        [event] = db.execute(
            "SELECT id, type, after FROM change_events WHERE website_id = %s", (website_id,)
        ).fetchall()
        assert event["type"] == "website.paused" and event["after"]["last_error"]["type"] == "network"
        job = Queue("webhooks", connection=get_redis(services.redis_url)).jobs[0]
        assert job.args == (event["id"],)
        deliver(event["id"])
        assert receiver.events()[0]["type"] == "website.paused"
        assert run_crawl(website_id, "scheduled")["skipped"] == "website is paused"

    # resume: PATCH status active, counter reset
    from api.auth import create_key

    _row, key = create_key(db, client_id=client_id, name="k", scopes=["read", "write"])
    api = make_app(OBSRV_ALLOW_PRIVATE_TARGETS=True).test_client()
    health = api.get(f"/v1/websites/{website_id}/health", headers=bearer(key)).get_json()
    assert health["alert_status"] == "failing" and health["consecutive_failures"] == 3
    assert health["success_rate"] == 0 and health["last_error"]["error_type"] == "network"
    resumed = api.patch(f"/v1/websites/{website_id}", json={"status": "active"}, headers=bearer(key)).get_json()
    assert resumed["status"] == "active"
    assert (
        db.execute("SELECT consecutive_failures FROM websites WHERE id = %s", (website_id,)).fetchone()[
            "consecutive_failures"
        ]
        == 0
    )


def test_a_success_resets_the_failure_count(db, crawl_env):
    from tests.support.shop import Shop

    with Shop.books() as shop:
        website_id = make_website(db, [shop.url("/")], status="active")
        approve_products(db, website_id, [shop.url(shop.product_paths[0])])
        db.execute("UPDATE websites SET consecutive_failures = 2 WHERE id = %s", (website_id,))
        assert run_crawl(website_id, "scheduled")["status"] == "succeeded"
    assert db.execute("SELECT status, consecutive_failures FROM websites WHERE id = %s", (website_id,)).fetchone() == {
        "status": "active",
        "consecutive_failures": 0,
    }


def test_a_crawl_whose_worker_died_is_marked_failed(db, services):
    website_id = make_website(db, ["http://127.0.0.1:9/"], status="active")
    dead = db.execute(
        "INSERT INTO crawl_runs (website_id, kind, heartbeat_at) VALUES (%s, 'scheduled', "
        "now() - interval '10 minutes') RETURNING id",
        (website_id,),
    ).fetchone()["id"]
    alive = db.execute(
        "INSERT INTO crawl_runs (website_id, kind) VALUES (%s, 'scheduled') RETURNING id", (website_id,)
    ).fetchone()["id"]
    settings = {**load_settings({}), "DATABASE_URL": services.database_url, "REDIS_URL": services.redis_url}
    assert Scheduler(settings).reap_dead_crawls() == [dead]
    runs = {r["id"]: r for r in db.execute("SELECT id, status, error_type, error_message, finished_at FROM crawl_runs")}
    assert runs[dead]["status"] == "failed" and runs[dead]["error_type"] == "internal"
    assert "worker lost" in runs[dead]["error_message"] and runs[dead]["finished_at"]
    assert runs[alive]["status"] == "running"
    assert (
        db.execute("SELECT consecutive_failures FROM websites WHERE id = %s", (website_id,)).fetchone()[
            "consecutive_failures"
        ]
        == 1
    )
    # #12 (11): settled once. A second sweep, or the lost crawler coming back to close its run, settles nothing.
    assert Scheduler(settings).reap_dead_crawls() == []
    assert crawls_q.finish_run(db, dead, status="failed", error_type="internal") is None
    assert (
        db.execute("SELECT consecutive_failures FROM websites WHERE id = %s", (website_id,)).fetchone()[
            "consecutive_failures"
        ]
        == 1
    )


def test_crawl_logs_newest_first_filtered_and_tenant_scoped(db, make_app, new_client):
    client_id, key = new_client()
    website_id = db.execute(
        "INSERT INTO websites (client_id, name, domain, seed_urls, status) VALUES "
        "(%s, 'w', 'w.test', %s, 'active') RETURNING id",
        (client_id, ["https://w.test/"]),
    ).fetchone()["id"]
    for i, status in enumerate(["succeeded", "failed", "partially_failed", "succeeded"]):
        db.execute(
            "INSERT INTO crawl_runs (website_id, kind, status, started_at, finished_at, duration_ms, "
            "error_type) VALUES (%s, 'scheduled', %s, now() - make_interval(hours => %s), "
            "now() - make_interval(hours => %s), 1000 * %s, %s)",
            (website_id, status, 10 - i, 10 - i, i + 1, "timeout" if status != "succeeded" else None),
        )
    api = make_app().test_client()
    logs = api.get(f"/v1/websites/{website_id}/crawl-logs", headers=bearer(key)).get_json()
    assert [r["status"] for r in logs] == ["succeeded", "partially_failed", "failed", "succeeded"]
    failed = api.get(f"/v1/websites/{website_id}/crawl-logs?status=failed", headers=bearer(key)).get_json()
    assert [r["error_type"] for r in failed] == ["timeout"]
    assert api.get(f"/v1/websites/{website_id}/crawl-logs?status=weird", headers=bearer(key)).status_code == 400
    health = api.get(f"/v1/websites/{website_id}/health", headers=bearer(key)).get_json()
    assert health["crawls"] == 4 and health["success_rate"] == 0.5 and health["avg_duration_ms"] == 2500
    assert health["alert_status"] == "degraded" and health["last_success_at"]
    assert health["last_error"]["status"] == "partially_failed"
    _other, other_key = new_client("Other")
    assert api.get(f"/v1/websites/{website_id}/crawl-logs", headers=bearer(other_key)).status_code == 404
    assert api.get(f"/v1/websites/{website_id}/health", headers=bearer(other_key)).status_code == 404
