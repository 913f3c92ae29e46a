"""The scheduler: a loop that ticks (every OBSRV_SCHEDULER_TICK_SECONDS, at most 60).

Each tick:
1. **Due crawls** — active websites whose ``next_crawl_at`` has come are taken with
   ``FOR UPDATE SKIP LOCKED`` (several schedulers never take the same one); in the same transaction
   one crawl work row per website and slot is written (its job id is the slot: a restart or a second
   scheduler never queues a slot twice; none while a full crawl of the website still waits or runs),
   due at a point spread over OBSRV_SCHEDULE_SPREAD_SECONDS by website id, and ``next_crawl_at``
   moves to the schedule's next slot. Crawler processes claim the work (crawler.manager).
2. **Outbox sweep** — change events neither delivered nor exhausted, due for longer than
   OBSRV_OUTBOX_GRACE_SECONDS and with no live job, are queued again (a lost Redis job loses nothing).
3. **Lost discoveries** — a website still pending discovery ten minutes after its last change, with no
   discovery work waiting or running and none run in the last hour, gets a discovery queued again.
4. **Dead crawls** — a running crawl whose heartbeat stopped for OBSRV_CRAWL_DEAD_SECONDS lost its
   crawler: it is marked failed (internal, "worker lost") and counts toward auto-pause, and its crawl
   work is queued again (at most OBSRV_CRAWL_MAX_ATTEMPTS tries in all), for another crawler.
5. **Daily digests** — after OBSRV_DIGEST_HOUR (UTC), each daily-digest website's undigested
   changes become one digest event, delivered like any other.
6. **Data lifecycle** — monthly statistics daily, retention weekly (scheduler.retention).
7. Observation partitions for the coming months (hourly), and a heartbeat in Redis.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from datetime import UTC, datetime, timedelta

from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from core.jobs import LEASE_MARGIN_SECONDS, crawl_job_id, delivery_job_id, enqueue_delivery
from core.redis_client import get_redis
from db.partitions import ensure_observation_partitions
from db.pool import get_pool
from db.queries import crawls as crawls_q
from db.queries import webhooks as webhooks_q
from db.queries import websites as websites_q
from db.queries import work as work_q
from scheduler.lifecycle import schedule_next, settle
from scheduler.retention import aggregate_completed_months, apply_retention

log = logging.getLogger("obsrv.scheduler")
HEARTBEAT_KEY = "obsrv:scheduler:heartbeat"
PARTITION_EVERY_SECONDS = 3600.0
WAITING = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


def spread_offset(website_id: int, window: int) -> int:
    """A stable offset in [0, window) so websites due at the same minute do not all start at once."""
    return zlib.crc32(str(website_id).encode()) % window if window > 0 else 0


class Scheduler:
    def __init__(self, settings: dict):
        self.settings = settings
        self.tick_seconds = min(float(settings["OBSRV_SCHEDULER_TICK_SECONDS"]), 60.0)
        self.ticks = 0
        self._partitions_checked = float("-inf")
        self.stopping = threading.Event()

    @property
    def pool(self):
        return get_pool(self.settings["DATABASE_URL"], self.settings["OBSRV_DB_POOL_MAX"])

    @property
    def redis(self):
        return get_redis(self.settings["REDIS_URL"], socket_timeout=10)

    def _job(self, job_id: str) -> Job | None:
        try:
            return Job.fetch(job_id, connection=self.redis)
        except NoSuchJobError:
            return None

    def _just_started(self, job: Job) -> bool:
        """Started less than a lease ago: it may be between starting and leasing its event. Older, with the
        event unleased, its worker is gone (a SIGKILL leaves the job "started" until RQ cleans up)."""
        started = job.started_at
        if started is None:
            return True
        if started.tzinfo is None:
            started = started.replace(tzinfo=UTC)
        lease = float(self.settings["OBSRV_WEBHOOK_TIMEOUT"]) + LEASE_MARGIN_SECONDS
        return (datetime.now(UTC) - started).total_seconds() < lease

    def enqueue_due_crawls(self, limit: int = 500) -> list[str]:
        queued = []
        now = datetime.now(UTC)
        with self.pool.connection() as conn, conn.transaction():
            for website in websites_q.claim_due(conn, limit):
                slot = website["next_crawl_at"]
                delay = spread_offset(website["id"], self.settings["OBSRV_SCHEDULE_SPREAD_SECONDS"])
                job_id = work_q.enqueue(
                    conn,
                    website["id"],
                    "scheduled",
                    coalesce=True,
                    job_id=crawl_job_id(website["id"], "scheduled", slot.strftime("%Y%m%dT%H%M")),
                    run_after=now + timedelta(seconds=delay),
                )
                if job_id:
                    queued.append(job_id)
                schedule_next(conn, website, max(now, slot))
        return queued

    def reap_dead_crawls(self) -> list[int]:
        """Crawls whose crawler died (no heartbeat) are closed as failed and settled like any other; their work
        goes back to the queue for another crawler (once more, by default)."""
        silent = self.settings["OBSRV_CRAWL_DEAD_SECONDS"]
        with self.pool.connection() as conn:
            with conn.transaction():
                dead = crawls_q.reap_dead(conn, silent)
                requeued = work_q.reap(conn, silent, self.settings["OBSRV_CRAWL_MAX_ATTEMPTS"])
            for run in dead:
                log.warning("crawl lost its worker", extra={"crawl_run_id": run["id"], "website_id": run["website_id"]})
                settle(conn, self.redis, self.settings, run)
            for work in requeued:
                log.warning(
                    "crawl work taken back from a lost crawler",
                    extra={"work_id": work["id"], "website_id": work["website_id"], "status": work["status"]},
                )
        return [run["id"] for run in dead]

    def requeue_lost_discoveries(self) -> list[str]:
        """A website whose discovery never ran to an end (its work given up, say) gets one more."""
        queued = []
        with self.pool.connection() as conn, conn.transaction():
            for website in websites_q.stuck_in_discovery(conn):
                job_id = work_q.enqueue(
                    conn,
                    website["id"],
                    "discovery",
                    job_id=crawl_job_id(website["id"], "discovery", "sweep" + datetime.now(UTC).strftime("%Y%m%d%H")),
                )
                if job_id:
                    queued.append(job_id)
        return queued

    def sweep_outbox(self) -> list[int]:
        requeued = []
        with self.pool.connection() as conn:
            events = webhooks_q.due_events(conn, grace_seconds=self.settings["OBSRV_OUTBOX_GRACE_SECONDS"])
        for event in events:
            job_id = delivery_job_id(event["id"], event["attempts"] + 1)
            job = self._job(job_id)
            status = job.get_status(refresh=False) if job is not None else None
            if status in WAITING or (status == JobStatus.STARTED and self._just_started(job)):
                continue  # its job waits in the queue, or has just started and is taking its lease
            if status is not None:
                # ended without settling the event, or left "started" by a worker that died: the event's own
                # lease in Postgres says nobody holds it (due_events skips leased events), whatever RQ's
                # registry still believes until it cleans up
                job_id = f"{job_id}-sweep{int(time.time())}"
            enqueue_delivery(self.redis, event["id"], event["attempts"] + 1, job_id=job_id)
            requeued.append(event["id"])
        return requeued

    def make_digests(self) -> list[int]:
        now = datetime.now(UTC)
        cut = now.replace(hour=self.settings["OBSRV_DIGEST_HOUR"], minute=0, second=0, microsecond=0)
        if cut > now:
            cut -= timedelta(days=1)
        day = (cut - timedelta(days=1)).date().isoformat()
        made = []
        with self.pool.connection() as conn:
            for row in webhooks_q.digest_candidates(conn, cut=cut):
                with conn.transaction():
                    digest_id = webhooks_q.make_digest(conn, row["website_id"], cut=cut, day=day)
                if digest_id:
                    made.append(digest_id)
        for digest_id in made:
            try:
                enqueue_delivery(self.redis, digest_id, 1)
            except Exception:
                log.exception("could not queue a digest; the sweep will", extra={"event_id": digest_id})
        return made

    def lifecycle(self) -> dict:
        """Statistics daily, retention weekly: once per period across schedulers (a Redis guard)."""
        now = datetime.now(UTC)
        done = {}
        with self.pool.connection() as conn:
            if self.redis.set(f"obsrv:lifecycle:statistics:{now:%Y-%m-%d}", 1, nx=True, ex=3 * 86400):
                done["statistics"] = aggregate_completed_months(conn)
            if self.redis.set(f"obsrv:lifecycle:retention:{now:%G-W%V}", 1, nx=True, ex=14 * 86400):
                done["retention"] = apply_retention(conn, self.settings)
        return done

    def tick(self) -> dict:
        """One round of work; returns what it did."""
        done: dict = {"tick": self.ticks + 1, "at": datetime.now(UTC).isoformat()}
        now = time.monotonic()
        if now - self._partitions_checked >= PARTITION_EVERY_SECONDS:
            with self.pool.connection() as conn:
                done["partitions_created"] = ensure_observation_partitions(
                    conn, months_ahead=self.settings["OBSRV_PARTITION_MONTHS_AHEAD"]
                )
            self._partitions_checked = now
        for name, step in (
            ("crawls_queued", self.enqueue_due_crawls),
            ("events_requeued", self.sweep_outbox),
            ("digests", self.make_digests),
            ("discoveries_requeued", self.requeue_lost_discoveries),
            ("dead_crawls", self.reap_dead_crawls),
            ("lifecycle", self.lifecycle),
        ):
            try:
                done[name] = step()
            except Exception:  # one failing step must not starve the others
                log.exception("scheduler step failed", extra={"step": name})
        self.redis.set(HEARTBEAT_KEY, done["at"], ex=int(self.tick_seconds * 3) + 1)
        self.ticks += 1
        return done

    def run(self) -> None:
        log.info("scheduler started", extra={"tick_seconds": self.tick_seconds})
        while not self.stopping.is_set():
            started = time.monotonic()
            try:
                done = self.tick()
                busy = any(
                    done.get(k)
                    for k in (
                        "partitions_created",
                        "crawls_queued",
                        "events_requeued",
                        "digests",
                        "discoveries_requeued",
                        "dead_crawls",
                        "lifecycle",
                    )
                )
                log.log(logging.INFO if busy else logging.DEBUG, "tick", extra=done)
            except Exception:  # a bad tick (database restarting, say) must not end the loop
                log.exception("tick failed")
            self.stopping.wait(max(0.0, self.tick_seconds - (time.monotonic() - started)))
        log.info("scheduler stopped", extra={"ticks": self.ticks})

    def stop(self, *_args) -> None:
        self.stopping.set()
