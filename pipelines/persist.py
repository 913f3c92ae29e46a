"""PersistPipeline: batched writes of candidates, observations and products' latest state.

Items are buffered and written OBSRV_PERSIST_BATCH at a time (or when the
oldest has waited OBSRV_PERSIST_MAX_WAIT seconds, and at the end), each batch
in one transaction: COPY into ``observations``, one UPDATE of ``products``
from unnested arrays, one UPDATE of the crawl run's counters.

Items of every running crawl share the batches. They are written on the
crawler's DB thread (crawler.manager), in order, so the crawl goes on while
Postgres works and a crawl's close always follows its last batch. A batch that
cannot be written (Postgres restarting, a connection cut) is retried on a fresh
connection with backoff for OBSRV_PERSIST_RETRY_SECONDS; only then is it lost,
and each crawl it belonged to counts exactly how many of its own results were
(``persist_lost``, ``persist_error``), which fails their crawl runs rather than
hiding the loss.
"""

from __future__ import annotations

import logging
import time

import psycopg

from core.jobs import enqueue_delivery
from crawler.items import CandidateItem, ObservationItem
from db.queries import crawls as crawls_q

log = logging.getLogger("obsrv.persist")


class PersistPipeline:
    def __init__(self, manager, settings):
        self.manager = manager
        self.batch_size = settings.getint("OBSRV_PERSIST_BATCH")
        self.max_wait = settings.getfloat("OBSRV_PERSIST_MAX_WAIT")
        self.retry_seconds = float(manager.settings["OBSRV_PERSIST_RETRY_SECONDS"])
        self.webhooks_enabled = manager.settings["OBSRV_WEBHOOKS_ENABLED"]
        self.buffer: list = []
        self.oldest = 0.0

    @classmethod
    def from_crawler(cls, crawler):
        from crawler.manager import CrawlManager

        manager = CrawlManager.of(crawler)
        pipeline = cls(manager, crawler.settings)
        manager.persist = pipeline
        return pipeline

    def process_item(self, item, spider=None):
        if not isinstance(item, (CandidateItem, ObservationItem)):
            return item
        crawl = self.manager.crawls.get(item.crawl_run_id)
        if crawl is None:  # its crawl was closed (a shutdown did not wait for this page): not counted
            return item
        if isinstance(item, CandidateItem):
            known = crawl.identities.get(item.identity)
            if known is not None and known != item.url:
                return item  # the same product under another URL: offered once
            crawl.identities[item.identity] = item.url
        if not self.buffer:
            self.oldest = time.monotonic()
        self.buffer.append((crawl, item))
        if len(self.buffer) >= self.batch_size or time.monotonic() - self.oldest >= self.max_wait:
            self.flush()
        return item

    def flush_if_due(self) -> None:
        if self.buffer and time.monotonic() - self.oldest >= self.max_wait:
            self.flush()

    def flush(self) -> None:
        """Hand the buffer to the DB thread (batches and crawl closes are written in order)."""
        if not self.buffer:
            return
        batch, self.buffer = self.buffer, []
        self.manager.db.submit(self._write_with_retry, batch)

    def _write_with_retry(self, batch: list) -> None:
        deadline = time.monotonic() + self.retry_seconds
        delay, attempt = 0.25, 0
        while True:
            attempt += 1
            try:
                self._write(batch)
                if attempt > 1:
                    log.warning("persisted a batch after retrying", extra={"attempt": attempt, "items": len(batch)})
                return
            except psycopg.OperationalError as exc:  # the server went away: a fresh connection, a little later
                if time.monotonic() + delay > deadline:
                    return self._lost(batch, exc)
                log.warning(
                    "could not persist a batch; retrying",
                    extra={"attempt": attempt, "items": len(batch), "error": str(exc)[:200]},
                )
                self.manager.drop_connection()
                time.sleep(delay)  # on the DB thread: later batches and closes wait, in order
                delay = min(delay * 2, 5.0)
            except Exception as exc:
                if attempt >= 2:
                    return self._lost(batch, exc)
                log.exception("could not persist a batch", extra={"attempt": attempt, "items": len(batch)})

    def _lost(self, batch: list, exc: Exception) -> None:
        log.error("crawl results lost", extra={"items": len(batch), "error": str(exc)[:200]})
        for crawl, _item in batch:
            crawl.persist_lost += 1
        for crawl in {id(c): c for c, _ in batch}.values():
            crawl.persist_error = f"{crawl.persist_lost} result(s) could not be saved: {type(exc).__name__}"

    def _write(self, batch: list) -> None:
        conn = self.manager.conn()
        by_website: dict[int, list] = {}
        counts: dict[int, list[int]] = {}
        observations, announce = [], []
        with conn.transaction():
            for crawl, item in batch:
                c = counts.setdefault(crawl.run_id, [0, 0, 0, 0])
                c[0] += 1
                if isinstance(item, CandidateItem):
                    by_website.setdefault(crawl.website["id"], []).append(item)
                    c[1] += 1
                else:
                    observations.append(item)
                    c[1 if item.ok else 2] += 1
                    c[3] += len(item.changes)
            for website_id, candidates in by_website.items():
                crawls_q.upsert_candidates(conn, website_id, candidates)
            event_ids = crawls_q.write_observations(conn, observations) if observations else []
            crawls_q.add_counts(conn, {run: tuple(c) for run, c in counts.items()})
        if event_ids:
            # events come back in the order of the changes written; keep those whose website wants them now
            wants = {crawl.website["id"]: self._immediate(crawl.website) for crawl, _ in batch}
            website_of = [i.website_id for i in observations if i.ok and not i.flagged for _c in i.changes]
            announce = [e for e, w in zip(event_ids, website_of) if wants.get(w)]
        if announce:
            self._announce(announce)

    def _immediate(self, website: dict) -> bool:
        return bool(
            website.get("webhook_url")
            and website.get("webhook_enabled", True)
            and website.get("webhook_mode", "immediate") == "immediate"
            and self.webhooks_enabled
        )

    def _announce(self, event_ids: list[int]) -> None:
        """After commit: queue the deliveries (immediate mode). If Redis fails, the outbox sweep queues them."""
        try:
            for event_id in event_ids:
                enqueue_delivery(self.manager.redis, event_id, 1)
        except Exception:
            log.exception("could not queue deliveries; the outbox sweep will", extra={"events": len(event_ids)})
