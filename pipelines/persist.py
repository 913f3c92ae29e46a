"""PersistPipeline: batched writes of candidates, observations and products' latest state.

Items are buffered and written OBSRV_PERSIST_BATCH at a time (or when the
oldest has waited OBSRV_PERSIST_MAX_WAIT seconds, and at the end), each batch
in one transaction: COPY into ``observations``, one UPDATE of ``products``
from unnested arrays, one UPDATE of the crawl run's counters.

Batches are written by one background thread, in order, so the crawl goes on
while Postgres works; the spider's close waits for every batch. A batch that
cannot be written is retried once, then reported on the spider
(``persist_error``), which fails the crawl run rather than hiding the loss.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor

from crawler.items import CandidateItem, ObservationItem
from crawler.spiders.base import connect
from db.partitions import ensure_observation_partitions
from db.jobs import enqueue_delivery
from db.queries import crawls as crawls_q
from db.redis_client import get_redis

log = logging.getLogger("obsrv.persist")


class PersistPipeline:
    def __init__(self, settings):
        self.settings = settings
        self.batch_size = settings.getint("OBSRV_PERSIST_BATCH", 200)
        self.max_wait = settings.getfloat("OBSRV_PERSIST_MAX_WAIT", 5.0)
        self.buffer: list = []
        self.oldest = 0.0
        self.conn = None
        self.seen_identities: dict[str, str] = {}
        self.website_id = 0
        self.crawl_run_id = 0
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="obsrv-persist")
        self.pending: list[Future] = []
        self.spider = None

    @classmethod
    def from_crawler(cls, crawler):
        pipeline = cls(crawler.settings)
        pipeline.crawler = crawler
        return pipeline

    def open_spider(self, spider=None):
        spider = spider or self.crawler.spider
        self.spider = spider
        self.website_id = spider.website_id
        self.crawl_run_id = spider.crawl_run_id
        self.conn = connect(self.settings)
        ensure_observation_partitions(self.conn, months_ahead=1)
        self.seen_identities = crawls_q.known_identities(self.conn, self.website_id)

    def process_item(self, item, spider=None):
        if isinstance(item, CandidateItem):
            known = self.seen_identities.get(item.identity)
            if known is not None and known != item.url:
                return item  # the same product under another URL: offered once
            self.seen_identities[item.identity] = item.url
        elif not isinstance(item, ObservationItem):
            return item
        if not self.buffer:
            self.oldest = time.monotonic()
        self.buffer.append(item)
        if len(self.buffer) >= self.batch_size or time.monotonic() - self.oldest >= self.max_wait:
            self.flush()
        return item

    def flush(self) -> None:
        if not self.buffer:
            return
        batch, self.buffer = self.buffer, []
        self.pending = [f for f in self.pending if not f.done()]
        self.pending.append(self.writer.submit(self._write_with_retry, batch))

    def _write_with_retry(self, batch: list) -> None:
        for attempt in (1, 2):
            try:
                self._write(batch)
                return
            except Exception as exc:
                log.exception("could not persist a batch", extra={"attempt": attempt, "items": len(batch)})
                if attempt == 2:
                    self.spider.persist_error = f"{len(batch)} results could not be saved: {exc}"

    def _write(self, batch: list) -> None:
        candidates = [i for i in batch if isinstance(i, CandidateItem)]
        observations = [i for i in batch if isinstance(i, ObservationItem)]
        event_ids: list[int] = []
        with self.conn.transaction():
            if candidates:
                crawls_q.upsert_candidates(self.conn, self.website_id, candidates)
            if observations:
                event_ids = crawls_q.write_observations(self.conn, observations)
            if self.crawl_run_id:
                ok = sum(1 for i in observations if i.ok) + len(candidates)
                crawls_q.add_counts(self.conn, self.crawl_run_id, attempted=len(batch), ok=ok,
                                    failed=sum(1 for i in observations if not i.ok),
                                    changes=sum(len(i.changes) for i in observations))
        if event_ids:
            self._announce(event_ids)

    def _announce(self, event_ids: list[int]) -> None:
        """After commit: queue the deliveries (immediate mode). If Redis fails, the outbox sweep queues them."""
        website = self.spider.website
        if not (website.get("webhook_url") and website.get("webhook_enabled", True)
                and website.get("webhook_mode", "immediate") == "immediate"
                and self.settings.getbool("OBSRV_WEBHOOKS_ENABLED", True)):
            return
        try:
            redis = get_redis(self.settings["REDIS_URL"], socket_timeout=5)
            for event_id in event_ids:
                enqueue_delivery(redis, event_id, 1)
        except Exception:
            log.exception("could not queue deliveries; the outbox sweep will", extra={"events": len(event_ids)})

    def close_spider(self, spider=None):
        try:
            self.flush()
        finally:
            self.writer.shutdown(wait=True)
            if self.conn is not None:
                self.conn.close()
