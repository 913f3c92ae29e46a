"""What a finished (or dead) crawl means for its website: failure counting, auto-pause, discovery's end."""

from __future__ import annotations

import logging

from db.jobs import enqueue_delivery
from db.queries import crawls as crawls_q
from db.queries import webhooks as webhooks_q
from db.queries import websites as websites_q

log = logging.getLogger("obsrv.crawl")


def settle(conn, redis, settings: dict, run: dict) -> int | None:
    """Account for one closed crawl run. Returns the id of a ``website.paused`` event, if it paused the website."""
    website_id = run["website_id"]
    event_id = None
    with conn.transaction():
        if run["kind"] == "discovery":
            if run["status"] == "failed":
                website = websites_q.get(conn, website_id, for_update=True)
                if website and website["status"] == "pending_discovery":
                    websites_q.set_status(conn, website_id, "failed", run["error_message"])
            return None
        paused = crawls_q.record_outcome(conn, website_id, failed=run["status"] == "failed",
                                         pause_after=settings["OBSRV_AUTO_PAUSE_FAILURES"])
        if paused:
            reason = f"{paused['consecutive_failures']} consecutive failed crawls"
            [event_id] = webhooks_q.insert_events(conn, [{
                "website_id": website_id, "type": "website.paused",
                "after": {"reason": reason, "last_error": {"type": run["error_type"],
                                                           "message": run["error_message"]},
                          "resume": f"PATCH /v1/websites/{website_id} {{\"status\": \"active\"}}"}}])
            log.warning("website paused automatically", extra={"website_id": website_id, "reason": reason})
    if event_id is not None:
        try:
            enqueue_delivery(redis, event_id, 1)
        except Exception:  # the outbox sweep will
            log.exception("could not queue the website.paused event", extra={"event_id": event_id})
    return event_id
