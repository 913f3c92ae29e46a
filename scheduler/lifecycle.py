"""The website lifecycle: a website's statuses, their edges, and every change of status.

A website is registered ``pending_discovery``; its discovery ends it ``pending_approval`` (product pages
found) or ``failed`` (none); approving products makes it ``active``; consecutive failed crawls pause it
(``paused``, announced by a ``website.paused`` event); the client pauses and resumes it. ``EDGES`` lists
every move a status may make; a status changes only through :func:`transition`, which refuses any other
with :class:`IllegalTransition` (the API answers 409). What a change brings is decided here too:

- entering ``active`` restarts the failure count and schedules the next run from now (:func:`next_run`);
- a discovery's end (:func:`end_discovery`) moves only a website still pending discovery;
- a closed crawl run (:func:`settle`, from the crawler and from the scheduler's dead-crawl sweep) counts
  consecutive failures and pauses an active website after OBSRV_AUTO_PAUSE_FAILURES of them;
- the alert status of its crawl health (:func:`alert_status`: ok, degraded, failing).

API views, the crawler (crawler.manager) and the scheduler (scheduler.loop) all call this module; the SQL
is in db.queries.websites (``lock_status``, ``change_status``), called from here only.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from croniter import croniter

from core.jobs import enqueue_delivery
from core.vocabulary import WEBSITE_STATUSES
from db.queries import webhooks as webhooks_q
from db.queries import websites as websites_q

log = logging.getLogger("obsrv.crawl")

STATUSES = WEBSITE_STATUSES
#: status -> statuses it may move to (staying where it is is always allowed)
EDGES = {
    "pending_discovery": {"pending_approval", "failed"},
    "pending_approval": {"active", "pending_discovery", "failed"},
    "active": {"paused", "failed", "pending_discovery"},
    "paused": {"active", "pending_discovery"},
    "failed": {"pending_discovery", "active"},
}
#: crawl kind -> the statuses in which a website may be crawled so
CRAWLABLE = {
    "discovery": {"pending_discovery"},
    "baseline": {"active", "pending_approval"},
    "scheduled": {"active"},
    "manual": {"active"},
}


class IllegalTransition(ValueError):
    """A status change along no edge (or from a status the website is no longer in)."""


def allowed(current: str, new: str) -> bool:
    return current == new or new in EDGES.get(current, ())


def next_run(schedule: str, after: datetime | None = None) -> datetime:
    """The next time a cron schedule (UTC) fires after ``after`` (default: now)."""
    return croniter(schedule, after or datetime.now(UTC)).get_next(datetime)


def schedule_next(conn, website: dict, after: datetime) -> datetime:
    """Move a website's next crawl to its schedule's first slot after ``after``."""
    when = next_run(website["schedule"], after)
    websites_q.set_next_crawl(conn, website["id"], when)
    return when


def transition(conn, website_id: int, new: str, reason: str | None = None, *, expect: str | None = None) -> dict:
    """Move a website to ``new`` along an allowed edge (from ``expect`` if given); raises IllegalTransition.

    Locks the website's row until the caller's transaction ends. Entering ``active`` restarts the failure
    count and schedules the next run from now."""
    row = websites_q.lock_status(conn, website_id)
    if row is None:
        raise IllegalTransition(f"website {website_id} does not exist")
    current = row["status"]
    if expect is not None and current != expect:
        raise IllegalTransition(f"website is {current}, not {expect}")
    if not allowed(current, new):
        raise IllegalTransition(f"a website cannot go from {current} to {new}")
    first_run = next_run(row["schedule"]) if new == "active" and current != "active" else None
    website = websites_q.change_status(conn, website_id, old=current, new=new, reason=reason, next_crawl_at=first_run)
    if website is None:  # cannot happen while the row is locked; never write a status unchecked
        raise IllegalTransition(f"website {website_id} is no longer {current}")
    return website


def end_discovery(
    conn, website_id: int, *, found: int = 0, failed: bool = False, reason: str | None = None
) -> dict | None:
    """A discovery ended. A website still pending discovery waits for approval if it found product pages,
    or failed (with ``reason``) if the discovery failed; any other website stays as it is. Returns the
    website if it moved."""
    row = websites_q.lock_status(conn, website_id)
    if row is None or row["status"] != "pending_discovery":
        return None
    if found:
        return transition(conn, website_id, "pending_approval", f"{found} product pages found")
    if failed:
        return transition(conn, website_id, "failed", reason)
    return None


def should_pause(counted: dict | None, pause_after: int) -> bool:
    """Auto-pause: an active website whose crawls failed ``pause_after`` times in a row (0: never)."""
    return (
        counted is not None
        and pause_after > 0
        and counted["status"] == "active"
        and counted["consecutive_failures"] >= pause_after
    )


def settle(conn, redis, settings: dict, run: dict) -> int | None:
    """Account for one closed crawl run: a failed discovery fails its website; any other crawl counts toward
    (or resets) consecutive failures and may pause the website. Returns the id of a ``website.paused``
    event, if it paused the website (queued for delivery after the commit; the outbox sweep retries)."""
    website_id = run["website_id"]
    event_id = None
    with conn.transaction():
        if run["kind"] == "discovery":
            if run["status"] == "failed":
                end_discovery(conn, website_id, failed=True, reason=run["error_message"])
            return None
        failed = run["status"] == "failed"
        counted = websites_q.count_crawl_outcome(conn, website_id, failed=failed)
        if failed and should_pause(counted, settings["OBSRV_AUTO_PAUSE_FAILURES"]):
            reason = f"{counted['consecutive_failures']} consecutive failed crawls"
            transition(conn, website_id, "paused", f"paused automatically after {reason}", expect="active")
            [event_id] = webhooks_q.insert_events(
                conn,
                [
                    {
                        "website_id": website_id,
                        "type": "website.paused",
                        "after": {
                            "reason": reason,
                            "last_error": {"type": run["error_type"], "message": run["error_message"]},
                            "resume": f'PATCH /v1/websites/{website_id} {{"status": "active"}}',
                        },
                    }
                ],
            )
            log.warning("website paused automatically", extra={"website_id": website_id, "reason": reason})
    if event_id is not None:
        try:
            enqueue_delivery(redis, event_id, 1)
        except Exception:  # the outbox sweep will
            log.exception("could not queue the website.paused event", extra={"event_id": event_id})
    return event_id


def alert_status(health: dict, website: dict) -> str:
    """failing: paused by failures or failing now; degraded: some recent failures; ok otherwise."""
    failures = website["consecutive_failures"]
    if failures >= 2 or (website["status"] == "paused" and failures > 0):
        return "failing"
    if failures == 1 or (health["success_rate"] is not None and health["success_rate"] < 0.9):
        return "degraded"
    return "ok"
