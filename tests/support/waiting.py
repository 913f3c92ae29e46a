"""Waiting in tests: on a condition, against a deadline; never a sleep that hopes.

``wait_until(predicate)`` polls until the predicate returns something truthy (and returns it)
or fails after ``timeout`` seconds, naming what it waited for. "Nothing more arrived" is
never a pause either: wait for a positive sign that the system has gone past the point where
the extra thing would have happened (``webhooks_settled``), then assert.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from rq import Queue

from core.jobs import WEBHOOKS_QUEUE

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T],
    timeout: float = 30,
    message: str | Callable[[], str] = "condition",
    interval: float = 0.1,
) -> T:
    """Poll ``predicate`` until it returns something truthy (returned), or fail after ``timeout`` seconds.

    The predicate runs at least once, and once more at the deadline. ``message`` may be a callable, for a
    description that is costly to make (a process's log): it is called only on failure."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            detail = message() if callable(message) else message
            raise AssertionError(f"timed out after {timeout:g}s waiting for {detail}")
        time.sleep(interval)  # the poll's interval, not a wait for something to happen


def webhook_jobs_idle(redis) -> bool:
    """No delivery job waits, runs or is scheduled (a retry) on the webhooks queue."""
    queue = Queue(WEBHOOKS_QUEUE, connection=redis)
    return (
        queue.count == 0
        and queue.started_job_registry.count == 0
        and queue.scheduled_job_registry.count == 0
        and queue.deferred_job_registry.count == 0
    )


def webhooks_settled(db, redis, website_id: int) -> bool:
    """Every change event of the website is delivered or exhausted, and no delivery job is left anywhere.

    After this nothing more can reach the receiver for these events: the delivery job is idempotent (it
    leaves a settled event alone), and a receiver records a request before it answers, while the outbox
    records the attempt after the answer. An event written by a crawl that has finished is in the table
    (the crawl's results are written before its run is closed), so a spurious one is waited for and seen."""
    open_events = db.execute(
        "SELECT count(*) AS n FROM change_events WHERE website_id = %s AND delivered_at IS NULL "
        "AND exhausted_at IS NULL",
        (website_id,),
    ).fetchone()["n"]
    return open_events == 0 and webhook_jobs_idle(redis)


def pause(seconds: float) -> None:
    """A deliberate pause that is itself the behaviour under test (a client slow to send its body), never a
    wait for something to happen: for that, :func:`wait_until`."""
    time.sleep(seconds)
