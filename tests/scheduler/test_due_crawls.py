"""Scheduled crawls: due websites queued (as crawl work) once per slot, spread, paused skipped, next slot computed."""

from datetime import UTC, datetime, timedelta

from core.settings import load_settings
from scheduler.loop import Scheduler, spread_offset


def website(db, status="active", schedule="*/5 * * * *", due_minutes_ago=1, domain=None):
    client = db.execute("INSERT INTO clients (name) VALUES ('c') RETURNING id").fetchone()["id"]
    due = datetime.now(UTC) - timedelta(minutes=due_minutes_ago)
    return db.execute(
        "INSERT INTO websites (client_id, name, domain, seed_urls, status, schedule, next_crawl_at) "
        "VALUES (%s, 'w', %s, %s, %s, %s, %s) RETURNING id",
        (client, domain or f"d{client}.test", ["https://x.test/"], status, schedule, due),
    ).fetchone()["id"]


def work(db):
    return db.execute("SELECT website_id, kind, job_id, status, run_after FROM crawl_work ORDER BY id").fetchall()


def scheduler_for(services, **overrides):
    settings = {
        **load_settings({}),
        "DATABASE_URL": services.database_url,
        "REDIS_URL": services.redis_url,
        **overrides,
    }
    return Scheduler(settings)


def test_due_websites_are_queued_once_per_slot_and_advanced(db, services):
    active = website(db)
    paused = website(db, status="paused")
    later = website(db, due_minutes_ago=-30)
    first, second = scheduler_for(services, OBSRV_SCHEDULE_SPREAD_SECONDS=0), scheduler_for(services)
    queued = first.enqueue_due_crawls()
    assert queued == [f"crawl-{active}-scheduled-{q.split('-scheduled-')[1]}" for q in queued] and len(queued) == 1
    assert second.enqueue_due_crawls() == []  # a second scheduler finds nothing due: the slot moved on
    assert [(w["website_id"], w["kind"], w["job_id"]) for w in work(db)] == [(active, "scheduled", queued[0])]
    rows = {r["id"]: r for r in db.execute("SELECT id, next_crawl_at FROM websites").fetchall()}
    assert rows[active]["next_crawl_at"] > datetime.now(UTC)
    assert rows[active]["next_crawl_at"].minute % 5 == 0
    assert rows[paused]["next_crawl_at"] < datetime.now(UTC)  # paused: skipped, untouched
    assert rows[later]["next_crawl_at"] > datetime.now(UTC)


def test_a_restart_does_not_queue_the_same_slot_twice(db, services):
    wid = website(db)
    slot = db.execute("SELECT next_crawl_at FROM websites WHERE id = %s", (wid,)).fetchone()["next_crawl_at"]
    assert len(scheduler_for(services, OBSRV_SCHEDULE_SPREAD_SECONDS=0).enqueue_due_crawls()) == 1
    db.execute("UPDATE websites SET next_crawl_at = %s WHERE id = %s", (slot, wid))  # as if the commit was lost
    assert scheduler_for(services, OBSRV_SCHEDULE_SPREAD_SECONDS=0).enqueue_due_crawls() == []
    assert len(work(db)) == 1


def test_many_websites_due_at_once_are_spread(db, services):
    ids = [website(db) for _ in range(20)]
    scheduler_for(services, OBSRV_SCHEDULE_SPREAD_SECONDS=600).enqueue_due_crawls()
    now = datetime.now(UTC)
    later = [w for w in work(db) if w["run_after"] > now]
    assert len(later) == sum(1 for i in ids if spread_offset(i, 600) > 0)
    offsets = {spread_offset(i, 600) for i in ids}
    assert len(offsets) > 10 and max(offsets) < 600


def test_a_lost_discovery_job_is_queued_again(db, services):
    lost = website(db, status="pending_discovery")
    website(db, status="pending_discovery")  # a fresh one: not reaped
    db.execute("UPDATE websites SET updated_at = now() - interval '11 minutes' WHERE id = %s", (lost,))
    scheduler = scheduler_for(services)
    queued = scheduler.requeue_lost_discoveries()
    assert len(queued) == 1 and queued[0].startswith(f"crawl-{lost}-discovery-")
    assert scheduler.requeue_lost_discoveries() == []  # its work is waiting: not twice
    assert [(w["website_id"], w["kind"]) for w in work(db)] == [(lost, "discovery")]


def test_a_full_crawl_still_waiting_is_not_queued_again(db, services):
    wid = website(db)
    db.execute("INSERT INTO crawl_work (website_id, kind, job_id) VALUES (%s, 'manual', 'm1')", (wid,))
    assert scheduler_for(services, OBSRV_SCHEDULE_SPREAD_SECONDS=0).enqueue_due_crawls() == []
    assert [w["job_id"] for w in work(db)] == ["m1"]
    assert db.execute("SELECT next_crawl_at > now() AS moved FROM websites").fetchone()["moved"]  # slot moved on
