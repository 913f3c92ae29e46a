"""The website lifecycle (scheduler.lifecycle): every edge walked and every other move refused, through
Postgres; discovery's end, auto-pause, alert status; and no status written anywhere else."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from itertools import product
from pathlib import Path

import pytest
from rq import Queue

from core.redis_client import get_redis
from core.settings import load_settings
from db.queries import crawls as crawls_q
from db.queries import websites as websites_q
from scheduler import lifecycle
from tests.conftest import ROOT, bearer
from tests.support.factories import make_website

LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)
SEEDS = ["http://127.0.0.1:9/"]


def website_in(db, status, **fields):
    return make_website(
        db,
        SEEDS,
        status=status,
        status_reason="before",
        schedule="0 2 * * *",
        next_crawl_at=LONG_AGO,
        consecutive_failures=2,
        **fields,
    )


def row(db, website_id):
    return db.execute(
        "SELECT status, status_reason, next_crawl_at, consecutive_failures, updated_at FROM websites WHERE id = %s",
        (website_id,),
    ).fetchone()


def test_every_status_has_its_edges():
    """Every status has its edges, every edge ends at a status (tests/db/test_schema_drift.py: the statuses are
    the CHECK constraint's)."""
    assert set(lifecycle.EDGES) == set(lifecycle.STATUSES)
    assert all(targets <= set(lifecycle.STATUSES) for targets in lifecycle.EDGES.values())
    assert all(crawlable <= set(lifecycle.STATUSES) for crawlable in lifecycle.CRAWLABLE.values())


@pytest.mark.parametrize(("current", "new"), list(product(lifecycle.STATUSES, repeat=2)))
def test_every_edge_moves_and_every_other_move_is_refused(db, current, new):
    website_id = website_in(db, current)
    before = row(db, website_id)
    if lifecycle.allowed(current, new):
        with db.transaction():
            website = lifecycle.transition(db, website_id, new, "why")
        after = row(db, website_id)
        assert website["status"] == after["status"] == new and after["status_reason"] == "why"
        if new == "active" and current != "active":  # entering active: failures forgotten, next run scheduled
            assert after["consecutive_failures"] == 0
            assert (after["next_crawl_at"].hour, after["next_crawl_at"].minute) == (2, 0)
            assert after["updated_at"] < after["next_crawl_at"] <= after["updated_at"] + timedelta(days=1)
        else:
            assert after["consecutive_failures"] == 2 and after["next_crawl_at"] == LONG_AGO
    else:
        refused = pytest.raises(lifecycle.IllegalTransition, match=f"cannot go from {current} to {new}$")
        with refused, db.transaction():
            lifecycle.transition(db, website_id, new, "why")
        assert row(db, website_id) == before


def test_the_walk_covers_every_edge():
    walked = {(a, b) for a, b in product(lifecycle.STATUSES, repeat=2) if lifecycle.allowed(a, b) and a != b}
    assert walked == {(a, b) for a, targets in lifecycle.EDGES.items() for b in targets}
    assert len(walked) == 12 and not lifecycle.allowed("pending_discovery", "active")


def test_a_missing_website_or_an_unexpected_status_is_refused(db):
    with pytest.raises(lifecycle.IllegalTransition, match="does not exist"):
        lifecycle.transition(db, 999_999, "paused")
    website_id = website_in(db, "paused")
    with pytest.raises(lifecycle.IllegalTransition, match="website is paused, not active"):
        lifecycle.transition(db, website_id, "paused", expect="active")
    assert row(db, website_id)["status_reason"] == "before"
    with pytest.raises(lifecycle.IllegalTransition):
        lifecycle.transition(db, website_id, "bogus")


def test_a_refused_move_through_the_api_is_a_409_in_the_error_shape(db, make_app, new_client):
    client_id, key = new_client()
    website_id = db.execute(
        "INSERT INTO websites (client_id, name, domain, seed_urls, status) VALUES "
        "(%s, 'w', 'w.test', %s, 'pending_approval') RETURNING id",
        (client_id, ["https://w.test/"]),
    ).fetchone()["id"]
    response = (
        make_app().test_client().patch(f"/v1/websites/{website_id}", json={"status": "paused"}, headers=bearer(key))
    )
    assert response.status_code == 409
    body = response.get_json()
    assert body["code"] == 409 and body["status"] == "Conflict" and "request_id" in body
    assert body["message"] == "a website cannot go from pending_approval to paused"
    assert row(db, website_id)["status"] == "pending_approval"


@pytest.mark.parametrize(
    ("status", "found", "failed", "moved_to", "reason"),
    [
        ("pending_discovery", 7, False, "pending_approval", "7 product pages found"),
        ("pending_discovery", 0, True, "failed", "no seed URL could be crawled"),
        ("pending_discovery", 0, False, None, None),
        ("active", 7, False, None, None),  # a rediscovery of a watched website leaves it watched
        ("active", 0, True, None, None),
        ("paused", 0, True, None, None),
    ],
)
def test_the_end_of_discovery(db, status, found, failed, moved_to, reason):
    website_id = website_in(db, status)
    with db.transaction():
        moved = lifecycle.end_discovery(
            db, website_id, found=found, failed=failed, reason="no seed URL could be crawled"
        )
    after = row(db, website_id)
    if moved_to is None:
        assert moved is None and after["status"] == status and after["status_reason"] == "before"
    else:
        assert moved["status"] == after["status"] == moved_to and after["status_reason"] == reason


def closed_run(db, website_id, kind, status):
    run = crawls_q.start_run(db, website_id=website_id, kind=kind, job_id=None, worker="test")
    return crawls_q.finish_run(
        db,
        run["id"],
        status=status,
        error_type="network" if status == "failed" else None,
        error_message="connection refused" if status == "failed" else None,
    )


def test_consecutive_failures_pause_an_active_website_once_and_announce_it(db, services):
    redis = get_redis(services.redis_url)
    settings = {**load_settings({}), "OBSRV_AUTO_PAUSE_FAILURES": 2}
    website_id = make_website(db, SEEDS, status="active")
    assert lifecycle.settle(db, redis, settings, closed_run(db, website_id, "scheduled", "failed")) is None
    assert lifecycle.settle(db, redis, settings, closed_run(db, website_id, "scheduled", "succeeded")) is None
    assert row(db, website_id)["consecutive_failures"] == 0
    assert lifecycle.settle(db, redis, settings, closed_run(db, website_id, "scheduled", "failed")) is None
    event_id = lifecycle.settle(db, redis, settings, closed_run(db, website_id, "manual", "failed"))
    after = row(db, website_id)
    assert after["status"] == "paused" and after["consecutive_failures"] == 2
    assert after["status_reason"] == "paused automatically after 2 consecutive failed crawls"
    event = db.execute("SELECT type, after FROM change_events WHERE id = %s", (event_id,)).fetchone()
    assert event["type"] == "website.paused" and event["after"]["reason"] == "2 consecutive failed crawls"
    assert event["after"]["last_error"] == {"type": "network", "message": "connection refused"}
    assert [job.args for job in Queue("webhooks", connection=redis).jobs] == [(event_id,)]
    # paused already: more failures are counted, never paused or announced again
    assert lifecycle.settle(db, redis, settings, closed_run(db, website_id, "scheduled", "failed")) is None
    assert row(db, website_id)["consecutive_failures"] == 3
    assert db.execute("SELECT count(*) AS n FROM change_events").fetchone()["n"] == 1
    # resuming forgets the failures
    with db.transaction():
        lifecycle.transition(db, website_id, "active", "set by client")
    assert row(db, website_id)["consecutive_failures"] == 0


def test_no_auto_pause_when_it_is_off_and_a_failed_discovery_fails_its_website(db, services):
    redis = get_redis(services.redis_url)
    settings = {**load_settings({}), "OBSRV_AUTO_PAUSE_FAILURES": 0}
    website_id = make_website(db, SEEDS, status="active")
    for _ in range(5):
        assert lifecycle.settle(db, redis, settings, closed_run(db, website_id, "scheduled", "failed")) is None
    assert row(db, website_id)["status"] == "active"
    discovering = make_website(db, ["http://127.0.0.1:10/"], status="pending_discovery")
    assert lifecycle.settle(db, redis, settings, closed_run(db, discovering, "discovery", "failed")) is None
    after = row(db, discovering)
    assert after["status"] == "failed" and after["status_reason"] == "connection refused"
    assert after["consecutive_failures"] == 0  # a discovery is no crawl of watched products


@pytest.mark.parametrize(
    ("status", "failures", "success_rate", "expected"),
    [
        ("active", 0, None, "ok"),
        ("active", 0, 0.95, "ok"),
        ("active", 0, 0.89, "degraded"),
        ("active", 1, 1.0, "degraded"),
        ("active", 2, 1.0, "failing"),
        ("paused", 1, 1.0, "failing"),
        ("paused", 0, 1.0, "ok"),
    ],
)
def test_alert_status(status, failures, success_rate, expected):
    health = {"success_rate": success_rate}
    assert lifecycle.alert_status(health, {"status": status, "consecutive_failures": failures}) == expected


def test_next_run_follows_the_cron_schedule_in_utc():
    after = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
    assert lifecycle.next_run("0 2 * * *", after) == datetime(2024, 3, 2, 2, 0, tzinfo=UTC)
    assert lifecycle.next_run("30 5 * * 1", after) == datetime(2024, 3, 4, 5, 30, tzinfo=UTC)


# -- one place writes a website's status ---------------------------------------------------------------------
SKIP = {".venv", ".git", "tests", "migrations", "node_modules", "__pycache__"}
#: UPDATE websites [alias] SET <assignments> up to WHERE/FROM/RETURNING or the end of the string literal
UPDATE_WEBSITES = re.compile(
    r"UPDATE\s+websites\b(?:\s+(?:AS\s+)?(?!SET\b)\w+)?\s+SET\b(?P<set>.*?)"
    r"(?=\bWHERE\b|\bFROM\b|\bRETURNING\b|\"\"\"|\"\s*[,)]|$)",
    re.IGNORECASE | re.DOTALL,
)


def source_files():
    """The project's Python and SQL, without tests and migrations (os.walk: the .venv symlink is not followed)."""
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = sorted(d for d in dirs if d not in SKIP)
        for name in sorted(files):
            if name.endswith((".py", ".sql")):
                yield Path(folder, name)


def test_only_the_lifecycle_query_writes_a_website_status():
    writes, literal = [], []
    for path in source_files():
        text = path.read_text()
        name = str(path.relative_to(ROOT))
        literal += [name] * len(re.findall(r"UPDATE\s+websites\s+SET\s+status\b", text, re.IGNORECASE))
        writes += [name for m in UPDATE_WEBSITES.finditer(text) if re.search(r"\bstatus\s*=", m["set"], re.IGNORECASE)]
    assert literal == ["db/queries/websites.py"]
    assert writes == ["db/queries/websites.py"]
    assert "status" not in websites_q.UPDATABLE  # the generic settings update never writes a status


def test_only_the_lifecycle_module_calls_the_status_queries():
    callers = {}
    for path in source_files():
        for name in re.findall(r"\b(change_status|lock_status)\(", path.read_text()):
            callers.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    assert callers == {
        "change_status": {"db/queries/websites.py", "scheduler/lifecycle.py"},
        "lock_status": {"db/queries/websites.py", "scheduler/lifecycle.py"},
    }
