"""Enqueuing jobs: the one place that names job functions, queues, ids and retry policies.

Jobs take ids, are idempotent, and declare their retry policy here. The API
enqueues by import path, so it never imports the worker's code.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from rq import Queue, Retry

CRAWL_QUEUE = "crawl"
WEBHOOKS_QUEUE = "webhooks"
DEFAULT_QUEUE = "default"
CRAWL_JOB = "scheduler.crawl_job.run_crawl"
DELIVER_JOB = "webhooks.delivery.deliver"


def crawl_job_id(website_id: int, kind: str, slot: str | None = None) -> str:
    """Unique per website, kind and slot: a scheduled slot enqueued twice is one job."""
    return f"crawl-{website_id}-{kind}-{slot or uuid.uuid4().hex[:12]}"


def enqueue_crawl(redis, website_id: int, kind: str, *, settings: dict, product_ids: list[int] | None = None,
                  job_id: str | None = None, slot: str | None = None, delay: float = 0.0):
    """Queue a crawl of one website. Internal failures are retried twice; site failures are recorded, not retried."""
    job_id = job_id or crawl_job_id(website_id, kind, slot)
    queue = Queue(CRAWL_QUEUE, connection=redis)
    options = {"product_ids": product_ids, "job_id": job_id, "job_timeout": int(settings["OBSRV_CRAWL_TIMEOUT"]) + 300,
               "result_ttl": 7 * 86400, "failure_ttl": 30 * 86400, "retry": Retry(max=2, interval=[60, 300]),
               "description": f"{kind} crawl of website {website_id}"}
    if delay > 0:
        return queue.enqueue_in(timedelta(seconds=delay), CRAWL_JOB, website_id, kind, **options)
    return queue.enqueue(CRAWL_JOB, website_id, kind, **options)


def delivery_job_id(event_id: int, attempt_number: int) -> str:
    return f"deliver-{event_id}-{attempt_number}"


def enqueue_delivery(redis, event_id: int, attempt_number: int, *, delay: float = 0.0, job_id: str | None = None):
    """Queue one attempt of one event. The job carries only the event id; attempts and their delays are the
    outbox's own policy (webhooks.delivery), so RQ's retry is off."""
    queue = Queue(WEBHOOKS_QUEUE, connection=redis)
    kwargs = {"job_id": job_id or delivery_job_id(event_id, attempt_number), "job_timeout": 120,
              "result_ttl": 86400, "failure_ttl": 7 * 86400,
              "description": f"webhook delivery of event {event_id}, attempt {attempt_number}"}
    if delay > 0:
        return queue.enqueue_in(timedelta(seconds=delay), DELIVER_JOB, event_id, **kwargs)
    return queue.enqueue(DELIVER_JOB, event_id, **kwargs)
