"""CrawlManager: the crawler process's crawls — claimed from Postgres, paced per domain, recorded, ended.

One per Scrapy crawler (:meth:`CrawlManager.of`), shared by the spider and the pipelines through
``from_crawler``. It

- claims crawl work (``db.queries.work``) while fewer than OBSRV_CRAWL_CONCURRENCY crawls run, and builds
  each crawl's context once: the website, its approved products with their last notified state (or the
  known identities, for discovery), the deployment's settings, a ``crawl_runs`` row;
- holds the per-domain Redis lock for every domain it crawls (one crawler process per domain at a time,
  renewed every heartbeat) and paces each domain's download slot at the stricter rate of the websites
  crawling it, so two websites on one shop never exceed it together;
- counts what Scrapy holds of each crawl (``track``, ``item_done``) and ends a crawl when nothing is left:
  its last results written, its ``crawl_runs`` row closed, its outcome settled (discovery's end,
  failure counting, auto-pause: scheduler.lifecycle), its work marked done;
- stamps heartbeats, stops crawls past their time limit, and on SIGTERM/SIGINT stops claiming, lets
  running crawls go on for OBSRV_CRAWL_STOP_GRACE_SECONDS and hands the rest back to the queue.

Everything that talks to Postgres or Redis runs on one background thread, in order (``self.db``), so
the reactor never waits on I/O and a crawl's close always follows its last batch. This is the one
component that writes ``crawl_runs``. Claiming and building crawls is :mod:`crawler.claims`, the
domain locks :mod:`crawler.domain_locks`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import socket
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import psycopg
import scrapy
from psycopg.rows import dict_row
from redis import RedisError
from scrapy import signals
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from twisted.internet import task
from twisted.python.failure import Failure

from core.redis_client import get_redis
from crawler import claims
from crawler.domain_locks import DomainLocks
from crawler.items import ProductFields
from crawler.spiders.base import Crawl
from db.partitions import ensure_observation_partitions
from db.queries import crawls as crawls_q
from db.queries import work as work_q
from scheduler import lifecycle

log = logging.getLogger("obsrv.crawler")
CLAIM_CHUNK = 100  # crawls claimed per round trip; the first pages go out while the next are claimed
PARTITIONS_EVERY_SECONDS = 3600.0
STOP_SECONDS = 1.0  # after the last close is written, how long Scrapy may take to close before the reactor stops


class CrawlManager:
    def __init__(self, crawler):
        self.crawler = crawler
        self.settings: dict = crawler.settings["OBSRV_SETTINGS"]
        self.concurrency = max(1, int(self.settings["OBSRV_CRAWL_CONCURRENCY"]))
        self.poll_seconds = max(0.05, float(self.settings["OBSRV_CRAWL_POLL_SECONDS"]))
        self.grace = float(self.settings["OBSRV_CRAWL_STOP_GRACE_SECONDS"])
        self.until_idle = crawler.settings.getbool("OBSRV_UNTIL_IDLE")
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.spider = None
        self.persist = None  # PersistPipeline registers itself
        self.crawls: dict[int, Crawl] = {}  # crawl run id -> running crawl
        self.by_domain: dict[str, set[Crawl]] = {}
        self.stopping = False
        self.hurry = False
        self._wake: asyncio.Event | None = None
        self._loops: list[task.LoopingCall] = []
        # DB thread only:
        self.db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="obsrv-db")
        self._conn: psycopg.Connection | None = None
        self._redis = None
        self.domains = DomainLocks(lambda: self.redis, self.settings["OBSRV_CRAWL_LOCK_SECONDS"])
        self._partitions_at = float("-inf")

    @classmethod
    def of(cls, crawler) -> CrawlManager:
        """The crawler's manager, made on first use."""
        manager = getattr(crawler, "_obsrv_manager", None)
        if manager is None:
            manager = crawler._obsrv_manager = cls(crawler)
            crawler.signals.connect(manager.item_done, signal=signals.item_scraped)
            crawler.signals.connect(manager.item_done, signal=signals.item_dropped)
            crawler.signals.connect(manager.item_done, signal=signals.item_error)
            crawler.signals.connect(manager.request_dropped, signal=signals.request_dropped)
            crawler.signals.connect(manager.spider_closed, signal=signals.spider_closed)
        return manager

    # -- the DB thread -----------------------------------------------------------------------------------
    def drop_connection(self) -> None:
        """Forget the DB thread's connection (it failed): the next :meth:`conn` opens a new one."""
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001 -- already dead
                pass
            self._conn = None

    def conn(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = psycopg.connect(self.settings["DATABASE_URL"], autocommit=True, row_factory=dict_row)
        return self._conn

    @property
    def redis(self):
        if self._redis is None:
            self._redis = get_redis(self.settings["REDIS_URL"], socket_timeout=5)
        return self._redis

    async def in_db(self, fn, *args):
        """Run ``fn`` on the DB thread and wait for it without blocking the reactor."""
        return await asyncio.wrap_future(self.db.submit(self._guarded, fn, *args))

    def _guarded(self, fn, *args):
        try:
            return fn(*args)
        except psycopg.OperationalError:
            if self._conn is not None:  # a lost connection is made again on the next call
                self._conn.close()
            raise

    # -- the claim loop (Spider.start) ---------------------------------------------------------------------
    async def requests(self):
        """The first requests of every crawl this process claims, until it stops."""
        self._wake = asyncio.Event()
        self._install_signals()
        await self.in_db(self._maintain)
        self._loop(self.heartbeat, float(self.settings["OBSRV_HEARTBEAT_SECONDS"]))
        self._loop(self.tick, 1.0)
        log.info("crawler started", extra={"worker": self.worker, "concurrency": self.concurrency})
        next_claim = None
        while not self.stopping:
            free = self.concurrency - len(self.crawls)
            if next_claim is None and free > 0:
                next_claim = asyncio.ensure_future(self.in_db(self._claim, min(free, CLAIM_CHUNK)))
            claimed = []
            if next_claim is not None:
                try:
                    claimed = await next_claim
                except Exception:  # Postgres restarting, say: try again at the next poll
                    log.exception("could not claim crawl work")
                next_claim = None
            more = self.concurrency - len(self.crawls) - len(claimed)
            if claimed and len(claimed) == CLAIM_CHUNK and more > 0:
                # there may be more: claim the next chunk while the engine takes this one's first pages
                next_claim = asyncio.ensure_future(self.in_db(self._claim, min(more, CLAIM_CHUNK)))
            for crawl in claimed:
                for request in self._open(crawl):
                    yield request
            if next_claim is not None:
                continue
            if self.until_idle and not claimed and not self.crawls:
                break
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
            except TimeoutError:
                pass
        if next_claim is not None:  # claimed while stopping: open them, the drain hands them back
            try:
                for crawl in await next_claim:
                    for request in self._open(crawl):
                        yield request
            except Exception:
                log.exception("could not claim crawl work")
        await self._drain()

    def _claim(self, limit: int) -> list[Crawl]:
        return claims.claim(self.conn(), self.worker, limit, self.settings, self.spider, self.domains)

    # -- running crawls (reactor thread) -------------------------------------------------------------------
    def _open(self, crawl: Crawl):
        crawl.deadline = time.monotonic() + crawl.time_limit()
        self.crawls[crawl.run_id] = crawl
        self.by_domain.setdefault(crawl.domain, set()).add(crawl)
        self._pace(crawl.domain)
        self.crawler.stats.inc_value("obsrv/crawls_started")
        log.info(
            "crawl started",
            extra={
                "crawl_run_id": crawl.run_id,
                "website_id": crawl.website["id"],
                "kind": crawl.kind,
                "domain": crawl.domain,
            },
        )
        requests = list(crawl.refill())
        if crawl.open == 0:
            self._finish(crawl)
        return requests

    def _pace(self, domain: str) -> None:
        """The domain's download slot at the stricter rate of the websites crawling it now."""
        downloader = self.crawler.engine.downloader
        crawls = self.by_domain.get(domain)
        if not crawls:
            downloader.per_slot_settings.pop(domain, None)
            return
        concurrency = min(c.slot_concurrency for c in crawls)
        delay = max(c.delay for c in crawls)
        downloader.per_slot_settings[domain] = {"concurrency": concurrency, "delay": delay, "jitter": 0}
        slot = downloader.slots.get(domain)
        if slot is not None:
            slot.concurrency, slot.delay = concurrency, delay

    def track(self, crawl: Crawl, handler: str, result):
        """Run a crawl's handler on a response or failure; the crawl's next requests follow its output."""
        try:
            if isinstance(result, Response):
                crawl.pages += 1
            if not crawl.stopped and not crawl.finishing:
                output = getattr(crawl, handler)(result)
                if isinstance(output, (scrapy.Request, ProductFields)):
                    yield output
                elif output is not None:
                    yield from output
                yield from crawl.refill()
        finally:
            crawl.outstanding -= 1
            self._release(crawl)

    def item_done(self, item, **_kwargs) -> None:
        crawl = self.crawls.get(getattr(item, "crawl_run_id", 0))
        if crawl is not None:
            self._release(crawl)

    def request_dropped(self, request, **_kwargs) -> None:
        crawl = request.meta.get("crawl")
        if isinstance(crawl, Crawl):
            crawl.outstanding -= 1
            self._release(crawl)

    def _release(self, crawl: Crawl) -> None:
        crawl.open -= 1
        if crawl.open <= 0:
            self._finish(crawl)

    def _finish(self, crawl: Crawl) -> None:
        """Nothing of the crawl is left in Scrapy: write its last results, then close it (DB thread, in order)."""
        if crawl.finishing:
            return
        crawl.finishing = True
        self.crawls.pop(crawl.run_id, None)
        same = self.by_domain.get(crawl.domain, set())
        same.discard(crawl)
        if not same:
            self.by_domain.pop(crawl.domain, None)
            self._forget_domain(crawl.domain)
        self._pace(crawl.domain)
        if self.persist is not None:
            self.persist.flush()
        outcome = crawl.outcome()
        self.crawler.stats.inc_value(f"obsrv/crawls_{outcome['status']}")
        future = self.db.submit(self._close, crawl, outcome)
        future.add_done_callback(self._closed)
        if self._wake is not None:
            self._wake.set()

    def _closed(self, future: Future) -> None:
        if future.exception() is not None:
            log.error("could not close a crawl run", exc_info=future.exception())

    def _forget_domain(self, domain: str) -> None:
        """The domain's robots.txt is read again by its next crawl (and memory does not grow with domains)."""
        for middleware in self.crawler.engine.downloader.middleware.middlewares:
            forget = getattr(middleware, "forget", None)
            if forget is not None:
                forget(domain)

    def _close(self, crawl: Crawl, outcome: dict) -> None:
        conn = self.conn()
        try:
            with conn.transaction():
                run = crawls_q.finish_run(
                    conn,
                    crawl.run_id,
                    status=outcome["status"],
                    pages_fetched=crawl.pages,
                    error_type=outcome.get("error_type"),
                    error_message=outcome.get("error_message"),
                    error_products=outcome.get("error_products"),
                    summary=outcome.get("summary"),
                )
                if crawl.kind == "discovery" and outcome.get("candidates") and not crawl.hand_back:
                    lifecycle.end_discovery(conn, crawl.website["id"], found=outcome["candidates"])
                if crawl.hand_back:
                    work_q.hand_back(conn, [crawl.work["id"]], self.worker, note=f"handed back: {crawl.stopped}")
                else:
                    work_q.finish(conn, crawl.work["id"], self.worker)
            if run is not None and not crawl.hand_back:
                lifecycle.settle(conn, self.redis, self.settings, run)
            log.info(
                "crawl finished",
                extra={
                    "crawl_run_id": crawl.run_id,
                    "website_id": crawl.website["id"],
                    "status": outcome["status"],
                    "pages": crawl.pages,
                    "stopped": crawl.stopped,
                },
            )
        finally:
            self.domains.let_go(crawl.domain)

    # -- time: heartbeats, limits, stopping ----------------------------------------------------------------
    def _loop(self, fn, interval: float) -> None:
        loop = task.LoopingCall(fn)
        loop.start(interval, now=False).addErrback(lambda f: log.error("crawler loop failed", exc_info=f.value))
        self._loops.append(loop)

    def heartbeat(self) -> None:
        runs = [(c.run_id, c.pages) for c in self.crawls.values()]
        self.db.submit(self._guarded, self._beat, runs).add_done_callback(self._beat_done)

    def _beat(self, runs: list[tuple[int, int]]) -> None:
        conn = self.conn()
        if runs:
            crawls_q.heartbeat(conn, [r for r, _ in runs], [p for _, p in runs])
        work_q.heartbeat(conn, self.worker)
        try:  # who crawls, for health checks: obsrv:crawler:<host> lives three heartbeats
            self.redis.set(
                f"obsrv:crawler:{socket.gethostname()}",
                self.worker,
                ex=int(3 * float(self.settings["OBSRV_HEARTBEAT_SECONDS"])) + 1,
            )
        except RedisError:
            pass
        self.domains.renew()
        self._maintain()

    @staticmethod
    def _beat_done(future: Future) -> None:
        if future.exception() is not None:
            log.warning("heartbeat failed", exc_info=future.exception())

    def _maintain(self) -> None:
        if time.monotonic() - self._partitions_at >= PARTITIONS_EVERY_SECONDS:
            ensure_observation_partitions(self.conn(), months_ahead=1)
            self._partitions_at = time.monotonic()

    def tick(self) -> None:
        now = time.monotonic()
        for crawl in list(self.crawls.values()):
            if not crawl.stopped and now >= crawl.deadline:
                log.warning("crawl reached its time limit", extra={"crawl_run_id": crawl.run_id})
                crawl.stop(f"time limit of {crawl.time_limit():.0f}s reached")
        if self.persist is not None:
            self.persist.flush_if_due()

    def _install_signals(self) -> None:
        from twisted.internet import reactor

        def handler(signum, _frame):
            reactor.callFromThread(self.shutdown, signal.Signals(signum).name)

        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, handler)

    def shutdown(self, why: str = "shutdown") -> None:
        """First call: stop claiming, let crawls run for the grace period. Second call: hand them back now."""
        if self.stopping:
            self.hurry = True
        self.stopping = True
        log.info("crawler stopping", extra={"signal": why, "running": len(self.crawls), "grace": self.grace})
        if self._wake is not None:
            self._wake.set()

    async def _drain(self) -> None:
        deadline = time.monotonic() + self.grace
        while self.crawls and time.monotonic() < deadline and not self.hurry:
            await asyncio.sleep(0.05)
        for crawl in list(self.crawls.values()):
            crawl.stop("the crawler stopped", hand_back=True)
        self._cancel_queued_downloads()
        deadline = time.monotonic() + 1.0
        while self.crawls and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for crawl in list(self.crawls.values()):  # a download still in flight: not waited for
            self._finish(crawl)
        for loop in self._loops:
            if loop.running:
                loop.stop()
        await self.in_db(lambda: None)  # every close written
        log.info("crawler stopped", extra={"worker": self.worker})
        if not self.until_idle:
            self._stop_reactor_soon()

    def _cancel_queued_downloads(self) -> None:
        """Requests waiting out a politeness delay in their download slot are not sent: Scrapy's engine
        would wait for them (up to a whole delay: 60 s at 1/min) before it lets the process exit."""
        downloader = self.crawler.engine.downloader
        for slot in list(downloader.slots.values()):
            while slot.queue:
                _request, deferred = slot.queue.popleft()
                deferred.errback(Failure(IgnoreRequest("the crawler stopped")))

    def _stop_reactor_soon(self, seconds: float = STOP_SECONDS) -> None:
        """Everything is written: a download still in flight (a hung site) must not keep the process alive.
        Scrapy closes the spider normally; if that has not ended the reactor in ``seconds``, stop it."""
        from twisted.internet import reactor

        def stop():
            if reactor.running:
                log.warning("stopping the reactor: downloads still in flight were abandoned")
                reactor.stop()
                # and if Scrapy's own close hangs on them too, leave: every result and close is written
                timer = threading.Timer(seconds, _exit_now)
                timer.daemon = True
                timer.start()

        reactor.callLater(seconds, stop)

    def spider_closed(self, spider, reason) -> None:
        self.db.shutdown(wait=True)
        if self._conn is not None:
            self._conn.close()


def _exit_now() -> None:
    log.warning("Scrapy did not close in time after the crawler stopped; exiting")
    logging.shutdown()
    os._exit(0)
