"""The crawl job: ``run_crawl(website_id, kind)``, run by an RQ worker on the ``crawl`` queue.

1. Takes the website's per-domain Redis lock (one crawl per domain across all
   workers); if another crawl holds it, the job re-queues itself a little later.
2. Opens a ``crawl_runs`` row, then runs ``python -m crawler.run`` as a child
   process (a fresh reactor per crawl, a hard time limit).
3. If the child died without closing its run (killed, crashed, timed out), the
   run is closed here as failed (``internal``). Then the outcome is settled
   (scheduler.outcomes): a failed discovery fails the website; consecutive
   failed crawls are counted and pause the website after
   OBSRV_AUTO_PAUSE_FAILURES, with a ``website.paused`` event in the outbox.

Importable without Flask; idempotent for a given job id (the run row is keyed
by it).
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import psycopg
from psycopg.rows import dict_row
from rq import Queue, get_current_job

from db import locks
from db.jobs import CRAWL_JOB, CRAWL_QUEUE, crawl_job_id
from db.queries import crawls as crawls_q
from db.queries import websites as websites_q
from db.redis_client import get_redis
from db.settings import load_settings
from scheduler.outcomes import settle

log = logging.getLogger("obsrv.crawl_job")
ROOT = Path(__file__).resolve().parents[1]
LOCK_RETRY_SECONDS = 30
KILL_GRACE_SECONDS = 30


def _spider_for(kind: str) -> str:
    return "discovery" if kind == "discovery" else "products"


def run_crawl(website_id: int, kind: str, product_ids: list[int] | None = None) -> dict:
    settings = load_settings()
    redis = get_redis(settings["REDIS_URL"], socket_timeout=10)
    job = get_current_job()
    job_id = job.id if job else crawl_job_id(website_id, kind)
    with psycopg.connect(settings["DATABASE_URL"], autocommit=True, row_factory=dict_row) as conn:
        website = websites_q.get(conn, website_id)
        if website is None:
            return {"website_id": website_id, "skipped": "website deleted"}
        if kind != "discovery" and website["status"] not in ("active", "pending_approval"):
            return {"website_id": website_id, "skipped": f"website is {website['status']}"}
        if kind == "discovery" and website["status"] != "pending_discovery":
            return {"website_id": website_id, "skipped": f"discovery already done: website is {website['status']}"}

        lock_key = locks.domain_lock_key(website["domain"])
        token = locks.acquire(redis, lock_key, settings["OBSRV_CRAWL_LOCK_SECONDS"])
        if token is None:
            retry_id = f"{job_id.rsplit('-later', 1)[0]}-later{os.urandom(3).hex()}"
            Queue(CRAWL_QUEUE, connection=redis).enqueue_in(
                timedelta(seconds=LOCK_RETRY_SECONDS), CRAWL_JOB, website_id, kind, product_ids=product_ids,
                job_id=retry_id, job_timeout=job.timeout if job else None)
            log.info("domain busy, crawl re-queued", extra={"website_id": website_id, "retry_job": retry_id})
            return {"website_id": website_id, "deferred": retry_id}

        try:
            run = crawls_q.start_run(conn, website_id=website_id, kind=kind, job_id=job_id,
                                     worker=f"{socket.gethostname()}:{os.getpid()}")
            if run["status"] != "running":
                return {"website_id": website_id, "crawl_run_id": run["id"], "status": run["status"]}
            command = [sys.executable, "-m", "crawler.run", "--spider", _spider_for(kind), "--kind", kind,
                       "--website", str(website_id), "--crawl-run", str(run["id"]),
                       "--lock-key", lock_key, "--lock-token", token]
            if product_ids:
                command += ["--products", ",".join(str(i) for i in product_ids)]
            error = _run_child(command, settings["OBSRV_CRAWL_TIMEOUT"] + KILL_GRACE_SECONDS)
            final = crawls_q.get_run(conn, run["id"])
            if final["status"] == "running":  # the child never closed its run
                final = crawls_q.finish_run(conn, run["id"], status="failed", error_type="internal",
                                            error_message=error or "crawl process ended without a result")
            settle(conn, redis, settings, final)
            return {"website_id": website_id, "crawl_run_id": run["id"], "status": final["status"],
                    "products_ok": final["products_ok"], "products_failed": final["products_failed"]}
        finally:
            locks.release(redis, lock_key, token)


def _run_child(command: list[str], timeout: float) -> str | None:
    """Run the crawl process; an error message if it did not end well."""
    try:
        result = subprocess.run(command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, timeout=timeout, text=True, errors="replace")
    except subprocess.TimeoutExpired:
        return f"crawl process killed after {timeout:.0f}s"
    if result.returncode != 0:
        tail = " | ".join(result.stderr.strip().splitlines()[-3:])
        return f"crawl process exited with {result.returncode}: {tail[-1500:]}"
    return None
