"""CrawlRunExtension: keeps a crawl's crawl_runs row alive while it runs and closes it when it ends.

Every OBSRV_HEARTBEAT_SECONDS it stamps ``heartbeat_at`` (so a crawl whose
worker died can be told from a slow one) and renews the per-domain Redis
lock its job holds. On ``spider_closed`` (after the pipelines have flushed)
it records the outcome the spider summarises, and for discovery moves the
website to pending_approval (failures are settled by the crawl job, scheduler.outcomes).
"""

from __future__ import annotations

import logging

from redis import Redis, RedisError
from scrapy import signals
from twisted.internet import task

from crawler.spiders.base import connect
from db import locks
from db.queries import crawls as crawls_q
from db.queries import websites as websites_q

log = logging.getLogger("obsrv.crawl")


class CrawlRunExtension:
    def __init__(self, crawler):
        self.crawler = crawler
        self.settings = crawler.settings
        self.interval = crawler.settings.getfloat("OBSRV_HEARTBEAT_SECONDS", 15.0)
        self.loop: task.LoopingCall | None = None
        self._redis = None

    @classmethod
    def from_crawler(cls, crawler):
        ext = cls(crawler)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider):
        if getattr(spider, "crawl_run_id", 0):
            self.loop = task.LoopingCall(self.beat, spider)
            self.loop.start(self.interval, now=False)

    def pages(self) -> int:
        return self.crawler.stats.get_value("response_received_count", 0) or 0

    def beat(self, spider):
        try:
            with connect(self.settings) as conn:
                crawls_q.heartbeat(conn, spider.crawl_run_id, self.pages())
        except Exception:
            log.exception("heartbeat failed", extra={"crawl_run_id": spider.crawl_run_id})
        lock_key, token = self.settings.get("OBSRV_LOCK_KEY"), self.settings.get("OBSRV_LOCK_TOKEN")
        if lock_key and token and self.settings.get("REDIS_URL"):
            try:
                self._redis = self._redis or Redis.from_url(self.settings["REDIS_URL"], socket_timeout=5)
                locks.renew(self._redis, lock_key, token, self.settings.getint("OBSRV_CRAWL_LOCK_SECONDS", 600))
            except RedisError:
                log.warning("could not renew the domain lock", extra={"lock": lock_key})

    def spider_closed(self, spider, reason):
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        if not getattr(spider, "crawl_run_id", 0):
            return
        outcome = spider.summary()
        if getattr(spider, "persist_error", None):
            outcome.update(status="failed", error_type="internal", error_message=spider.persist_error)
        if reason != "finished" and outcome["status"] == "succeeded":
            outcome.update(status="partially_failed", error_type="internal",
                           error_message=f"crawl stopped before the end: {reason}")
        elif reason != "finished" and not outcome.get("error_message"):
            outcome["error_message"] = f"crawl stopped: {reason}"
        with connect(self.settings) as conn, conn.transaction():
            run = crawls_q.finish_run(conn, spider.crawl_run_id, status=outcome["status"], pages_fetched=self.pages(),
                                      error_type=outcome.get("error_type"),
                                      error_message=outcome.get("error_message"),
                                      error_products=outcome.get("error_products"))
            if spider.name == "discovery" and outcome.get("candidates"):
                website = websites_q.get(conn, spider.website_id, for_update=True)
                if website and website["status"] == "pending_discovery":
                    websites_q.set_status(conn, spider.website_id, "pending_approval",
                                          f"{outcome['candidates']} product pages found")
        log.info("crawl finished", extra={"crawl_run_id": spider.crawl_run_id, "website_id": spider.website_id,
                                          "status": outcome["status"], "reason": reason,
                                          "pages": self.pages(), "finished": bool(run)})
