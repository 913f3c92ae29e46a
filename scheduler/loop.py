"""The scheduler: a loop that ticks.

Every tick it keeps the observation partitions of the coming months created
and leaves a heartbeat in Redis (``obsrv:scheduler:heartbeat``). Enqueuing
due crawls and sweeping the outbox join the tick in later issues. Several
schedulers may run: everything a tick does is idempotent.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timezone

from db.partitions import ensure_observation_partitions
from db.pool import get_pool
from db.redis_client import get_redis

log = logging.getLogger("obsrv.scheduler")
HEARTBEAT_KEY = "obsrv:scheduler:heartbeat"
PARTITION_EVERY_SECONDS = 3600.0


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

    def tick(self) -> dict:
        """One round of work; returns what it did."""
        done: dict = {"tick": self.ticks + 1, "at": datetime.now(timezone.utc).isoformat()}
        now = time.monotonic()
        if now - self._partitions_checked >= PARTITION_EVERY_SECONDS:
            with self.pool.connection() as conn:
                done["partitions_created"] = ensure_observation_partitions(
                    conn, months_ahead=self.settings["OBSRV_PARTITION_MONTHS_AHEAD"])
            self._partitions_checked = now
        self.redis.set(HEARTBEAT_KEY, done["at"], ex=int(self.tick_seconds * 3) + 1)
        self.ticks += 1
        return done

    def run(self) -> None:
        log.info("scheduler started", extra={"tick_seconds": self.tick_seconds})
        while not self.stopping.is_set():
            started = time.monotonic()
            try:
                done = self.tick()
                log.log(logging.INFO if done.get("partitions_created") else logging.DEBUG, "tick", extra=done)
            except Exception:  # a bad tick (database restarting, say) must not end the loop
                log.exception("tick failed")
            self.stopping.wait(max(0.0, self.tick_seconds - (time.monotonic() - started)))
        log.info("scheduler stopped", extra={"ticks": self.ticks})

    def stop(self, *_args) -> None:
        self.stopping.set()
