"""Job ids, and enqueuing RQ jobs: the one place that names job functions, queues and retry policies.

Crawls are not RQ jobs: they are crawl work in Postgres (db.queries.work), claimed by the crawler
processes; their ids are made here too. RQ carries webhook deliveries only. Jobs take ids, are
idempotent, and declare their retry policy here. The API enqueues by import path, so it never imports
the worker's code.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from rq import Queue

WEBHOOKS_QUEUE = "webhooks"
DELIVER_JOB = "webhooks.delivery.deliver"


def crawl_job_id(website_id: int, kind: str, slot: str | None = None) -> str:
    """A crawl work's id, unique per website, kind and slot: a scheduled slot queued twice is one crawl."""
    return f"crawl-{website_id}-{kind}-{slot or uuid.uuid4().hex[:12]}"


#: a delivery's lease outlasts its whole-attempt timeout by this much (webhooks.delivery takes it; the outbox
#: sweep reads it to tell a job that is starting from one a dead worker left "started")
LEASE_MARGIN_SECONDS = 15.0


def delivery_job_id(event_id: int, attempt_number: int) -> str:
    return f"deliver-{event_id}-{attempt_number}"


def enqueue_delivery(redis, event_id: int, attempt_number: int, *, delay: float = 0.0, job_id: str | None = None):
    """Queue one attempt of one event. The job carries only the event id; attempts and their delays are the
    outbox's own policy (webhooks.delivery), so RQ's retry is off."""
    queue = Queue(WEBHOOKS_QUEUE, connection=redis)
    kwargs = {
        "job_id": job_id or delivery_job_id(event_id, attempt_number),
        "job_timeout": 120,
        "result_ttl": 86400,
        "failure_ttl": 7 * 86400,
        "description": f"webhook delivery of event {event_id}, attempt {attempt_number}",
    }
    if delay > 0:
        return queue.enqueue_in(timedelta(seconds=delay), DELIVER_JOB, event_id, **kwargs)
    return queue.enqueue(DELIVER_JOB, event_id, **kwargs)
