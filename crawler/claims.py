"""Claiming crawl work: the rows the crawl manager claims from Postgres, made into crawls.

:func:`claim` claims up to ``limit`` crawl work rows (``db.queries.work``), skips work whose website may
not be crawled now (scheduler.lifecycle), hands back work on a domain another crawler holds, and builds
each crawl's context once (:func:`build`): the website, its approved products with their last notified
state (or the known identities, for discovery), the deployment's settings, a ``crawl_runs`` row. A crawl
that cannot start is recorded as failed (:func:`fail_start`). Runs on the crawl manager's DB thread
(:mod:`crawler.manager`).
"""

from __future__ import annotations

import logging

import psycopg

from crawler.domain_locks import DomainLocks
from crawler.spiders.base import Crawl
from crawler.spiders.discovery import DiscoveryCrawl
from crawler.spiders.products import ProductCrawl
from db.queries import crawls as crawls_q
from db.queries import websites as websites_q
from db.queries import work as work_q
from scheduler import lifecycle

log = logging.getLogger("obsrv.crawler")
LOCK_RETRY_SECONDS = 30  # a domain another crawler holds: its work is tried again this much later


def claim(conn, worker: str, limit: int, settings: dict, spider, domains: DomainLocks) -> list[Crawl]:
    rows = work_q.claim(conn, worker, limit)
    if not rows:
        return []
    websites = websites_q.get_many(conn, [r["website_id"] for r in rows])
    crawls = []
    for work in rows:
        website = websites.get(work["website_id"])
        if website is None or website["status"] not in lifecycle.CRAWLABLE[work["kind"]]:
            state = "deleted" if website is None else website["status"]
            work_q.finish(conn, work["id"], worker, note=f"skipped: website is {state}")
            continue
        if not domains.hold(website["domain"]):
            work_q.hand_back(
                conn,
                [work["id"]],
                worker,
                delay_seconds=LOCK_RETRY_SECONDS,
                note=f"waiting: another crawler holds {website['domain']}",
            )
            continue
        try:
            crawl = build(conn, work, website, worker, settings, spider)
        except Exception as exc:  # a bug or a bad row costs this crawl, not the others claimed with it
            log.exception("could not start a crawl", extra={"work_id": work["id"]})
            crawl = None
            fail_start(conn, work, exc, worker)
        if crawl is None:
            domains.let_go(website["domain"])
            continue
        crawls.append(crawl)
    return crawls


def build(conn, work: dict, website: dict, worker: str, settings: dict, spider) -> Crawl | None:
    """A crawl's context, read once: website, products or identities, its crawl run."""
    earlier = conn.execute("SELECT count(*) AS n FROM crawl_runs WHERE work_id = %s", (work["id"],)).fetchone()["n"]
    job_id = work["job_id"] if earlier == 0 else f"{work['job_id']}#{earlier + 1}"  # taken up again: a new run
    run = crawls_q.start_run(
        conn, website_id=website["id"], kind=work["kind"], job_id=job_id, worker=worker, work_id=work["id"]
    )
    if run["status"] != "running":  # this attempt already ran to its end
        work_q.finish(conn, work["id"], worker, note=f"already {run['status']}")
        return None
    common = {"work": work, "website": website, "run": run, "settings": settings, "spider": spider}
    if work["kind"] == "discovery":
        return DiscoveryCrawl(identities=crawls_q.known_identities(conn, website["id"]), **common)
    products = crawls_q.products_to_crawl(conn, website["id"], work["product_ids"], work_id=work["id"])
    return ProductCrawl(products=products, **common)


def fail_start(conn, work: dict, exc: Exception, worker: str) -> None:
    try:
        run = conn.execute(
            "SELECT id FROM crawl_runs WHERE work_id = %s AND status = 'running'", (work["id"],)
        ).fetchone()
        if run:
            crawls_q.finish_run(
                conn,
                run["id"],
                status="failed",
                error_type="internal",
                error_message=f"the crawl could not start: {type(exc).__name__}",
            )
        work_q.finish(conn, work["id"], worker, note=f"could not start: {type(exc).__name__}")
    except psycopg.Error:
        log.exception("could not record a crawl that failed to start")
