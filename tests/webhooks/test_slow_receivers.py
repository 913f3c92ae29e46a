"""Receivers slower than the timeout, against real `rq worker` processes and the scheduler's outbox sweep:
every event gets the attempts of its schedule — no more, never two at once — and each attempt ends at the
timeout. Time is driven through the schedule's configuration (1 s timeout, retries after 2 s and 2 s)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from core.jobs import WEBHOOKS_QUEUE, enqueue_delivery
from core.redis_client import get_redis
from core.settings import load_settings
from db.queries import webhooks as webhooks_q
from scheduler.loop import Scheduler
from tests.conftest import ROOT
from tests.support.receiver import Receiver
from tests.support.waiting import wait_until, webhook_jobs_idle

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
TIMEOUT, DELAYS = 1.0, (2.0, 2.0)
ATTEMPTS = 1 + len(DELAYS)


@pytest.fixture
def settings(services, monkeypatch):
    env = services.env(
        OBSRV_ALLOW_PRIVATE_TARGETS="true",
        OBSRV_WEBHOOK_TIMEOUT=str(TIMEOUT),
        OBSRV_WEBHOOK_RETRY_DELAYS=",".join(str(d) for d in DELAYS),
        OBSRV_OUTBOX_GRACE_SECONDS="0",
        OBSRV_LOG_LEVEL="WARNING",
    )
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def workers(settings, services):
    """Two `rq worker` processes on the webhooks queue, as `make run` starts them (with RQ's scheduler)."""
    procs = [
        subprocess.Popen(
            [
                str(BIN / "rq"),
                "worker",
                "--with-scheduler",
                "-c",
                "scheduler.rq_settings",
                "--url",
                services.redis_url,
                "--name",
                f"slow-receivers-{i}",
                WEBHOOKS_QUEUE,
            ],
            cwd=ROOT,
            env=settings,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for i in range(2)
    ]
    yield procs
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        proc.wait(60)


@pytest.fixture
def sweeping(settings):
    """The scheduler's outbox sweep, as often as it can go (grace 0): it must never add an attempt."""
    scheduler, stop = Scheduler(load_settings()), threading.Event()

    def run():
        while not stop.is_set():
            scheduler.sweep_outbox()
            stop.wait(0.2)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(10)


@pytest.mark.parametrize("behaviour", ["hangs", "trickles"])
def test_a_receiver_slower_than_the_timeout_gets_the_schedule_not_a_flood(
    db, services, new_client, workers, sweeping, behaviour
):
    client_id, _key = new_client()
    release = threading.Event()
    receiver = Receiver(hold=release, trickle=0.2 if behaviour == "trickles" else None).start()
    try:
        website_id = db.execute(
            "INSERT INTO websites (client_id, name, domain, seed_urls, status, webhook_url) "
            "VALUES (%s, 'Shop', 'shop.test', %s, 'active', %s) RETURNING id",
            (client_id, ["https://shop.test/"], receiver.url),
        ).fetchone()["id"]
        events = webhooks_q.insert_events(
            db,
            [
                {
                    "website_id": website_id,
                    "type": "price_changed",
                    "before": {"price": "1.00"},
                    "after": {"price": f"{i}.00"},
                }
                for i in range(2, 6)
            ],
        )  # four events, as in the issue
        redis = get_redis(services.redis_url)
        for event_id in events:
            enqueue_delivery(redis, event_id, 1)

        def all_exhausted():
            return db.execute(
                "SELECT count(*) AS n FROM change_events WHERE id = ANY(%s) AND exhausted_at IS NOT NULL", (events,)
            ).fetchone()["n"] == len(events)

        # the whole schedule takes ATTEMPTS x TIMEOUT + sum(DELAYS) = 7 s per event (two workers, four events)
        wait_until(all_exhausted, timeout=60, message="every event to be exhausted after its schedule")
        wait_until(lambda: webhook_jobs_idle(redis), timeout=30, message="no delivery job left to run")
        # the receiver notices a client that gave up at its next read or write
        wait_until(lambda: sum(receiver.in_flight.values()) == 0, timeout=10, message="the receiver to be idle")
        received = list(receiver.received)
    finally:
        release.set()
        receiver.stop()

    uids = {
        str(r["uid"]): r["id"]
        for r in db.execute("SELECT id, uid FROM change_events WHERE id = ANY(%s)", (events,)).fetchall()
    }
    arrivals: dict[str, list[float]] = {uid: [] for uid in uids}
    for request in received:
        arrivals[json.loads(request["body"])["id"]].append(request["at"])
    assert {uid: len(times) for uid, times in arrivals.items()} == dict.fromkeys(uids, ATTEMPTS)
    assert receiver.max_in_flight == 1  # never two attempts of one event at once
    for times in arrivals.values():  # each retry after its attempt's end + delay
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert all(gap >= TIMEOUT + delay - 0.2 for gap, delay in zip(gaps, DELAYS)), gaps
    rows = db.execute(
        "SELECT event_id, attempt, error, latency_ms FROM webhook_deliveries WHERE event_id = ANY(%s) "
        "ORDER BY event_id, attempt",
        (events,),
    ).fetchall()
    assert [(r["event_id"], r["attempt"]) for r in rows] == [
        (e, n) for e in sorted(events) for n in range(1, ATTEMPTS + 1)
    ]
    assert {r["error"] for r in rows} == {"timeout"}
    assert max(r["latency_ms"] for r in rows) < (TIMEOUT + 0.5) * 1000  # the timeout is the whole POST's
    assert {
        r["attempts"] for r in db.execute("SELECT attempts FROM change_events WHERE id = ANY(%s)", (events,)).fetchall()
    } == {ATTEMPTS}
