"""Enqueuing jobs: the one place that names job functions, queues, ids and retry policies.

Jobs take ids, are idempotent, and declare their retry policy here. The API
enqueues by import path, so it never imports the worker's code.
"""

from __future__ import annotations

import uuid

from rq import Queue, Retry

CRAWL_QUEUE = "crawl"
WEBHOOKS_QUEUE = "webhooks"
DEFAULT_QUEUE = "default"
CRAWL_JOB = "scheduler.crawl_job.run_crawl"


def crawl_job_id(website_id: int, kind: str, slot: str | None = None) -> str:
    """Unique per website, kind and slot: a scheduled slot enqueued twice is one job."""
    return f"crawl-{website_id}-{kind}-{slot or uuid.uuid4().hex[:12]}"


def enqueue_crawl(redis, website_id: int, kind: str, *, settings: dict, product_ids: list[int] | None = None,
                  job_id: str | None = None, slot: str | None = None):
    """Queue a crawl of one website. Internal failures are retried twice; site failures are recorded, not retried."""
    job_id = job_id or crawl_job_id(website_id, kind, slot)
    queue = Queue(CRAWL_QUEUE, connection=redis)
    return queue.enqueue(
        CRAWL_JOB,
        website_id,
        kind,
        product_ids=product_ids,
        job_id=job_id,
        job_timeout=int(settings["OBSRV_CRAWL_TIMEOUT"]) + 300,
        result_ttl=7 * 86400,
        failure_ttl=30 * 86400,
        retry=Retry(max=2, interval=[60, 300]),
        description=f"{kind} crawl of website {website_id}",
    )
