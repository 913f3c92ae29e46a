"""Obsrv's promise, end to end with real processes: a real change reaches the client's endpoint,
signed, once; no change sends nothing; a worker killed mid-delivery and a flushed Redis lose nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import stripe
from standardwebhooks import Webhook

from core.jobs import enqueue_delivery
from core.redis_client import get_redis
from core.settings import load_settings
from db.queries import webhooks as webhooks_q
from scheduler.loop import Scheduler
from tests.conftest import ROOT, bearer
from tests.support.receiver import Receiver
from tests.support.shop import Shop
from tests.support.waiting import wait_until, webhooks_settled

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent


class Worker:
    """The service's workers as `make run` starts them: a crawler process and an `rq worker` on the
    webhooks queue, each in its own process group."""

    def __init__(self, services, **env):
        self.env = services.env(
            OBSRV_ALLOW_PRIVATE_TARGETS="true",
            OBSRV_CRAWL_THROTTLE="false",
            OBSRV_RETRY_BACKOFF_BASE="0.01",
            OBSRV_LOG_LEVEL="WARNING",
            OBSRV_WEBHOOK_RETRY_DELAYS="1,1",
            OBSRV_CRAWL_POLL_SECONDS="0.2",
            **env,
        )
        commands = [
            [str(BIN / "python"), "-m", "crawler"],
            [
                str(BIN / "rq"),
                "worker",
                "--with-scheduler",
                "-c",
                "scheduler.rq_settings",
                "--url",
                services.redis_url,
                "webhooks",
            ],
        ]
        self.procs = [
            subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            for command in commands
        ]

    def stop(self):
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            proc.wait(60)

    def kill(self):
        for proc in self.procs:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)


def crawl_now(api, key, website_id):
    """POST /crawl; the crawl before it may still be closing (409)."""
    return wait_until(
        lambda: api.post(f"/v1/websites/{website_id}/crawl", headers=bearer(key)).status_code == 202,
        timeout=30,
        message="the crawl endpoint to accept",
        interval=0.2,
    )


def crawls_done(db, website_id, count):
    return (
        db.execute(
            "SELECT count(*) AS n FROM crawl_runs WHERE website_id = %s AND status <> 'running'", (website_id,)
        ).fetchone()["n"]
        >= count
    )


def test_changes_reach_the_receiver_signed_and_once(make_app, new_client, services, db):
    client_id, key = new_client()
    secret = webhooks_q.signing_secrets(db, client_id)[0]
    api = make_app(OBSRV_ALLOW_PRIVATE_TARGETS=True, OBSRV_ALLOW_HTTP_WEBHOOKS=True).test_client()
    redis = get_redis(services.redis_url)
    worker = Worker(services)
    try:
        with Shop.books() as shop, Receiver() as receiver:
            website_id = api.post(
                "/v1/websites",
                headers=bearer(key),
                json={
                    "name": "Books",
                    "seed_urls": [shop.url("/")],
                    "webhook_url": receiver.url,
                    "price_threshold_pct": 5,
                },
            ).get_json()["id"]
            wait_until(lambda: crawls_done(db, website_id, 1), message="discovery", timeout=120)
            candidates = api.get(
                f"/v1/websites/{website_id}/discovered-products?page_size=3", headers=bearer(key)
            ).get_json()
            a, b, c = candidates
            assert (
                api.post(
                    f"/v1/websites/{website_id}/approve-products",
                    headers=bearer(key),
                    json={"product_ids": [a["id"], b["id"], c["id"]]},
                ).status_code
                == 202
            )
            wait_until(lambda: crawls_done(db, website_id, 2), message="baseline", timeout=120)
            assert receiver.received == []  # the baseline alerts no one

            path = {p["id"]: p["url"].split(str(shop.port), 1)[1] for p in (a, b, c)}
            shop.set_price(path[a["id"]], Decimal(a["price"]) * 2)  # +100% (exact in cents, whatever the price): alert
            shop.set_availability(path[b["id"]], in_stock=False)  # out of stock: alert
            shop.set_price(path[c["id"]], (Decimal(c["price"]) * Decimal("1.01")).quantize(Decimal("0.01")))  # +1%

            crawl_now(api, key, website_id)
            wait_until(lambda: crawls_done(db, website_id, 3), message="the crawl after the change", timeout=120)
            received = receiver.wait_for(2, timeout=60)
            # nothing more is on its way: every event of the website settled, no delivery job left
            wait_until(
                lambda: webhooks_settled(db, redis, website_id),
                timeout=60,
                message="every change event delivered and the webhooks queue idle",
            )
            assert len(receiver.received) == 2, receiver.events()
            events = {e["product"]["id"]: e for e in receiver.events()}
            assert set(events) == {a["id"], b["id"]}
            price = events[a["id"]]
            assert price["type"] == "price_changed" and price["change_pct"] == "100.00"
            assert price["before"]["price"] == a["price"] and price["after"]["currency"] == "GBP"
            assert Decimal(price["after"]["price"]) == Decimal(a["price"]) * 2
            stock = events[b["id"]]
            assert stock["type"] == "stock_changed"
            assert (stock["before"]["availability"], stock["after"]["availability"]) == ("InStock", "OutOfStock")
            for request in received:
                assert stripe.WebhookSignature.verify_header(
                    request["body"], request["headers"]["obsrv-signature"], secret, tolerance=300
                )
                assert Webhook(secret).verify(request["body"], request["headers"])

            # a second crawl with no change sends nothing
            crawl_now(api, key, website_id)
            wait_until(lambda: crawls_done(db, website_id, 4), message="the crawl without change", timeout=120)
            # had the crawl written an event it would be in the outbox by now (its results are written before
            # its run closes): wait until the outbox and the queue have nothing left, then count
            wait_until(
                lambda: webhooks_settled(db, redis, website_id),
                timeout=60,
                message="every change event delivered and the webhooks queue idle",
            )
            assert len(receiver.received) == 2
        deliveries = api.get(f"/v1/websites/{website_id}/webhook-deliveries", headers=bearer(key)).get_json()
        assert len(deliveries) == 2 and all(d["success"] for d in deliveries)
        product = api.get(f"/v1/products/{a['id']}", headers=bearer(key)).get_json()
        assert Decimal(product["price"]) == Decimal(a["price"]) * 2
    finally:
        worker.stop()


def test_worker_killed_mid_delivery_and_redis_flushed_loses_nothing(new_client, services, db, monkeypatch):
    client_id, _key = new_client()
    with Receiver(delay=3.0) as receiver:
        website_id = db.execute(
            "INSERT INTO websites (client_id, name, domain, seed_urls, status, webhook_url) "
            "VALUES (%s, 'Shop', 'shop.test', %s, 'active', %s) RETURNING id",
            (client_id, ["https://shop.test/"], receiver.url),
        ).fetchone()["id"]
        events = webhooks_q.insert_events(
            db,
            [
                {
                    "website_id": website_id,
                    "type": "price_changed",
                    "before": {"price": "1.00"},
                    "after": {"price": f"{i}.00"},
                }
                for i in range(2, 7)
            ],
        )
        redis = get_redis(services.redis_url)
        for event_id in events:
            enqueue_delivery(redis, event_id, 1)
        worker = Worker(services)
        receiver.wait_for(1, timeout=60)  # a delivery is in flight (the receiver is slow)
        worker.kill()
        redis.flushall()
        receiver.delay = 0.0

        for name, value in services.env(OBSRV_ALLOW_PRIVATE_TARGETS="true", OBSRV_OUTBOX_GRACE_SECONDS="0").items():
            monkeypatch.setenv(name, value)
        scheduler = Scheduler(load_settings())
        worker = Worker(services)
        try:

            def all_delivered():
                scheduler.sweep_outbox()
                return db.execute(
                    "SELECT count(*) AS n FROM change_events WHERE id = ANY(%s) AND delivered_at IS NOT NULL", (events,)
                ).fetchone()["n"] == len(events)

            wait_until(all_delivered, timeout=90, message="every event delivered after the restart", interval=0.2)
        finally:
            worker.stop()
    uids = {str(r["uid"]) for r in db.execute("SELECT uid FROM change_events WHERE id = ANY(%s)", (events,)).fetchall()}
    assert uids <= {e["id"] for e in receiver.events()}  # at least once each (the killed one may come twice)
