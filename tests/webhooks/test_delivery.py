"""Delivering outbox events for real: Postgres rows, Redis jobs, a receiver on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime

import psycopg
import pytest
import stripe
from rq import Queue
from standardwebhooks import Webhook

from core.redis_client import get_redis
from core.settings import load_settings
from db.pool import get_pool
from db.queries import webhooks as webhooks_q
from scheduler.loop import Scheduler
from tests.conftest import bearer
from tests.support.names import Names
from tests.support.receiver import Receiver
from tests.support.waiting import wait_until
from webhooks.delivery import deliver


@pytest.fixture
def hook_env(services, monkeypatch):
    for name, value in services.env(
        OBSRV_ALLOW_PRIVATE_TARGETS="true",
        OBSRV_WEBHOOK_RETRY_DELAYS="0.3,0.3",
        OBSRV_WEBHOOK_TIMEOUT="2",
        OBSRV_OUTBOX_GRACE_SECONDS="0",
    ).items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def client_with_website(new_client, db):
    """(client id, admin key, website id, product id); the webhook URL is set per test."""
    client_id, key = new_client()
    website_id = db.execute(
        "INSERT INTO websites (client_id, name, domain, seed_urls, status) VALUES (%s, 'Shop', 'shop.test', %s, "
        "'active') RETURNING id",
        (client_id, ["https://shop.test/"]),
    ).fetchone()["id"]
    product_id = db.execute(
        "INSERT INTO products (website_id, url, identity, name, sku, status) VALUES (%s, 'https://shop.test/p/1', "
        "'sku:A1', 'Widget', 'A1', 'approved') RETURNING id",
        (website_id,),
    ).fetchone()["id"]
    return client_id, key, website_id, product_id


def new_event(db, website_id, product_id):
    [event_id] = webhooks_q.insert_events(
        db,
        [
            {
                "website_id": website_id,
                "product_id": product_id,
                "type": "price_changed",
                "before": {"price": "10.00", "currency": "GBP", "availability": "InStock"},
                "after": {"price": "8.00", "currency": "GBP", "availability": "InStock"},
                "change_pct": Decimal("-20"),
                "observed_at": None,
            }
        ],
    )
    return event_id


def set_hook(db, website_id, url):
    db.execute("UPDATE websites SET webhook_url = %s, webhook_enabled = true WHERE id = %s", (url, website_id))


def secret_of(db, client_id):
    return webhooks_q.signing_secrets(db, client_id)[0]


def due(db, event_id) -> bool:
    """The delivery job's own rule: not leased, and its next attempt due."""
    state = webhooks_q.lease_state(db, event_id)
    return state["due"] and not state["leased"]


def deliver_until_settled(event_id, db, limit=5):
    for _ in range(limit):
        deliver(event_id)
        row = db.execute(
            "SELECT delivered_at, exhausted_at, next_attempt_at FROM change_events WHERE id = %s", (event_id,)
        ).fetchone()
        if row["delivered_at"] or row["exhausted_at"]:
            return row
        wait_until(lambda: due(db, event_id), timeout=10, message="the next attempt to be due")
    return row


def test_500_twice_then_200_is_three_attempts_and_one_delivery(db, hook_env, client_with_website):
    client_id, _key, website_id, product_id = client_with_website
    with Receiver(statuses=[500, 500]) as receiver:
        set_hook(db, website_id, receiver.url)
        event_id = new_event(db, website_id, product_id)
        row = deliver_until_settled(event_id, db)
    assert row["delivered_at"] and not row["exhausted_at"]
    attempts = db.execute(
        "SELECT attempt, status_code, success FROM webhook_deliveries WHERE event_id = %s ORDER BY attempt", (event_id,)
    ).fetchall()
    assert [(a["attempt"], a["status_code"], a["success"]) for a in attempts] == [
        (1, 500, False),
        (2, 500, False),
        (3, 200, True),
    ]
    ids = {r["headers"]["webhook-id"] for r in receiver.received}
    assert len(receiver.received) == 3 and len(ids) == 1  # one stable id across retries
    body = receiver.events()[0]
    assert body["id"] == ids.pop() and body["type"] == "price_changed"
    assert body["product"] == {"id": product_id, "url": "https://shop.test/p/1", "name": "Widget", "sku": "A1"}
    assert body["before"]["price"] == "10.00" and body["after"]["price"] == "8.00" and body["change_pct"] == "-20.00"
    assert len(receiver.received[0]["body"]) < 20_000
    secret = secret_of(db, client_id)
    last = receiver.received[-1]
    assert stripe.WebhookSignature.verify_header(last["body"], last["headers"]["obsrv-signature"], secret, 300)
    assert Webhook(secret).verify(last["body"], last["headers"])
    assert deliver(event_id)["skipped"] == "already settled"


def test_receiver_down_is_exhausted_after_the_last_attempt(db, hook_env, client_with_website):
    _c, _k, website_id, product_id = client_with_website
    receiver = Receiver().start()
    url = receiver.url
    receiver.stop()
    set_hook(db, website_id, url)
    event_id = new_event(db, website_id, product_id)
    row = deliver_until_settled(event_id, db)
    assert row["exhausted_at"] and not row["delivered_at"]
    attempts = db.execute(
        "SELECT status_code, error FROM webhook_deliveries WHERE event_id = %s ORDER BY attempt", (event_id,)
    ).fetchall()
    assert len(attempts) == 3 and all(a["status_code"] is None and a["error"] for a in attempts)


def test_410_gone_disables_the_webhook(db, hook_env, client_with_website):
    _c, _k, website_id, product_id = client_with_website
    with Receiver(default=410) as receiver:
        set_hook(db, website_id, receiver.url)
        event_id = new_event(db, website_id, product_id)
        deliver(event_id)
    assert db.execute("SELECT webhook_enabled FROM websites WHERE id = %s", (website_id,)).fetchone() == {
        "webhook_enabled": False
    }
    assert db.execute("SELECT exhausted_at FROM change_events WHERE id = %s", (event_id,)).fetchone()["exhausted_at"]
    assert len(receiver.received) == 1


def test_429_retry_after_is_honoured(db, hook_env, client_with_website, services):
    _c, _k, website_id, product_id = client_with_website
    with Receiver(statuses=[429], headers={"Retry-After": "120"}) as receiver:
        set_hook(db, website_id, receiver.url)
        event_id = new_event(db, website_id, product_id)
        result = deliver(event_id)
    assert result["next_delay"] == 120
    waited = db.execute(
        "SELECT next_attempt_at - now() AS wait FROM change_events WHERE id = %s", (event_id,)
    ).fetchone()["wait"]
    assert waited.total_seconds() > 100
    assert deliver(event_id)["skipped"] == "not due yet"
    scheduled = Queue("webhooks", connection=get_redis(services.redis_url)).scheduled_job_registry.get_job_ids()
    assert f"deliver-{event_id}-2" in scheduled


@pytest.mark.parametrize(
    "retry_after, least",
    [
        (lambda: format_datetime(datetime.now(UTC) + timedelta(seconds=600), usegmt=True), 590),  # HTTP-date
        (lambda: "600", 599),  # seconds
        (lambda: format_datetime(datetime.now(UTC) - timedelta(days=1), usegmt=True), None),  # past
        (lambda: "after lunch", None),  # garbage
    ],
    ids=["http-date", "seconds", "past-date", "garbage"],
)
def test_503_retry_after_is_read_as_seconds_or_http_date(db, hook_env, client_with_website, retry_after, least):
    _c, _k, website_id, product_id = client_with_website
    with Receiver(statuses=[503], headers={"Retry-After": retry_after()}) as receiver:
        set_hook(db, website_id, receiver.url)
        event_id = new_event(db, website_id, product_id)
        result = deliver(event_id)
    waited = db.execute(
        "SELECT extract(epoch FROM next_attempt_at - now()) AS s FROM change_events WHERE id = %s", (event_id,)
    ).fetchone()["s"]
    if least is None:  # nothing usable: the schedule's own delay (0.3 s here)
        assert result["next_delay"] == 0.3 and waited < 1
    else:
        assert least <= result["next_delay"] <= 600 and waited > least - 5


def test_private_targets_are_refused_at_delivery_time(db, hook_env, client_with_website, monkeypatch):
    monkeypatch.setenv("OBSRV_ALLOW_PRIVATE_TARGETS", "false")
    _c, _k, website_id, product_id = client_with_website
    with Receiver() as receiver:
        set_hook(db, website_id, receiver.url)
        event_id = new_event(db, website_id, product_id)
        deliver(event_id)
    assert receiver.received == []
    error = db.execute("SELECT error FROM webhook_deliveries WHERE event_id = %s", (event_id,)).fetchone()["error"]
    assert "refused target" in error


def test_rotation_signs_with_both_secrets_for_the_grace_period(db, hook_env, client_with_website, make_app):
    client_id, key, website_id, product_id = client_with_website
    old = secret_of(db, client_id)
    api = make_app(OBSRV_ALLOW_PRIVATE_TARGETS=True).test_client()
    rotated = api.post("/v1/auth/webhook-secret", headers=bearer(key))
    assert rotated.status_code == 201
    new = rotated.get_json()["secret"]
    assert new.startswith("whsec_") and new != old and rotated.get_json()["previous_valid_until"]
    with Receiver() as receiver:
        set_hook(db, website_id, receiver.url)
        deliver(new_event(db, website_id, product_id))
        # after the grace period only the new secret signs
        db.execute("UPDATE webhook_secrets SET valid_until = now() - interval '1 second' WHERE valid_until IS NOT NULL")
        deliver(new_event(db, website_id, product_id))
    during, after = receiver.received
    for secret in (old, new):
        assert stripe.WebhookSignature.verify_header(during["body"], during["headers"]["obsrv-signature"], secret, 300)
        assert Webhook(secret).verify(during["body"], during["headers"])
    assert Webhook(new).verify(after["body"], after["headers"])
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(after["body"], after["headers"]["obsrv-signature"], old, 300)
    audit = db.execute("SELECT action FROM audit_log WHERE action = 'webhook_secret.rotated'").fetchall()
    assert len(audit) == 1


def test_test_webhook_and_delivery_log_endpoints(db, hook_env, client_with_website, make_app, new_client):
    client_id, key, website_id, _product_id = client_with_website
    api = make_app(OBSRV_ALLOW_PRIVATE_TARGETS=True).test_client()
    assert api.post(f"/v1/websites/{website_id}/test-webhook", headers=bearer(key)).status_code == 409  # no URL
    with Receiver(statuses=[503]) as receiver:
        set_hook(db, website_id, receiver.url)
        failed = api.post(f"/v1/websites/{website_id}/test-webhook", headers=bearer(key)).get_json()
        ok = api.post(f"/v1/websites/{website_id}/test-webhook", headers=bearer(key)).get_json()
    assert failed["delivered"] is False and failed["status_code"] == 503
    assert ok["delivered"] is True and ok["status_code"] == 200
    body = receiver.events()[1]
    assert body["type"] == "test" and body["website"] == {"id": website_id, "name": "Shop"}
    assert Webhook(secret_of(db, client_id)).verify(receiver.received[1]["body"], receiver.received[1]["headers"])
    log = api.get(f"/v1/websites/{website_id}/webhook-deliveries", headers=bearer(key)).get_json()
    assert [(d["event_type"], d["status_code"], d["success"]) for d in log] == [
        ("test", 200, True),
        ("test", 503, False),
    ]
    _other, other_key = new_client("Other")
    assert api.get(f"/v1/websites/{website_id}/webhook-deliveries", headers=bearer(other_key)).status_code == 404


def test_sweep_requeues_lost_jobs_and_daily_digests(db, hook_env, client_with_website, services):
    _c, _k, website_id, product_id = client_with_website
    with Receiver() as receiver:
        set_hook(db, website_id, receiver.url)
        lost = [new_event(db, website_id, product_id) for _ in range(3)]  # committed, but no job was ever queued
        settings = load_settings()
        scheduler = Scheduler(settings)
        assert sorted(scheduler.sweep_outbox()) == sorted(lost)
        assert scheduler.sweep_outbox() == []  # their jobs are queued now: not twice
        for event_id in lost:
            deliver(event_id)
        assert sorted(json.loads(r["body"])["id"] for r in receiver.received) == sorted(
            str(db.execute("SELECT uid FROM change_events WHERE id = %s", (e,)).fetchone()["uid"]) for e in lost
        )

        # daily digest: changes wait for the digest, which lists them all
        db.execute("UPDATE websites SET webhook_mode = 'daily_digest' WHERE id = %s", (website_id,))
        waiting = [new_event(db, website_id, product_id) for _ in range(2)]
        db.execute("UPDATE change_events SET created_at = now() - interval '1 day' WHERE id = ANY(%s)", (waiting,))
        assert scheduler.sweep_outbox() == []  # not delivered one by one
        [digest_id] = scheduler.make_digests()
        deliver(digest_id)
        digest = receiver.events()[-1]
    assert digest["type"] == "digest" and len(digest["changes"]) == 2
    assert all(c["type"] == "price_changed" for c in digest["changes"])
    settled = db.execute(
        "SELECT count(*) AS n FROM change_events WHERE id = ANY(%s) AND delivered_at IS NOT NULL", (waiting,)
    ).fetchone()["n"]
    assert settled == 2


def test_nothing_unsigned_is_ever_sent(db, hook_env, client_with_website):
    client_id, _k, website_id, product_id = client_with_website
    db.execute("DELETE FROM webhook_secrets WHERE client_id = %s", (client_id,))
    with Receiver() as receiver:
        set_hook(db, website_id, receiver.url)
        event_id = new_event(db, website_id, product_id)
        deliver(event_id)
    assert receiver.received == []
    error = db.execute("SELECT error FROM webhook_deliveries WHERE event_id = %s", (event_id,)).fetchone()["error"]
    assert "no signing secret" in error


def test_payload_carries_list_price_and_the_reported_offers_sku(db, hook_env, client_with_website):
    """A stock change written the way a crawl writes it (Diff, then the batch write) reaches the receiver with
    the reported offer's sku and list price beside price, currency and availability; events recorded before
    offers were kept say null."""
    from datetime import datetime

    from crawler.items import ObservationItem
    from db.partitions import ensure_observation_partitions
    from db.queries import crawls as crawls_q
    from pipelines.diff import detect

    _c, _k, website_id, product_id = client_with_website
    now = datetime.now(UTC)
    ensure_observation_partitions(db, first=now.date(), last=now.date())
    item = ObservationItem(
        url="https://shop.test/p/1?size=L",
        website_id=website_id,
        product_id=product_id,
        observed_at=now,
        ok=True,
        price=Decimal("28.00"),
        currency="EUR",
        availability="OutOfStock",
        sku="A1",
        list_price=Decimal("35.00"),
        offers=[
            {"sku": "A1-M", "price": Decimal("28.00"), "availability": "InStock", "selected": False},
            {"sku": "A1-L", "price": Decimal("28.00"), "availability": "OutOfStock", "selected": True},
        ],
    )
    notified = {
        "last_ok_at": now,
        "notified_price": Decimal("28.00"),
        "notified_currency": "EUR",
        "notified_availability": "InStock",
        "list_price": Decimal("35.00"),
        "reported_sku": "A1-L",
    }
    item.changes = detect(notified, item, 1)
    with db.transaction():
        [event_id] = crawls_q.write_observations(db, [item])
    old_style = new_event(db, website_id, product_id)
    with Receiver() as receiver:
        set_hook(db, website_id, receiver.url)
        deliver(event_id)
        deliver(old_style)
        body, old = receiver.events()
    assert body["type"] == "stock_changed"
    assert body["product"] == {"id": product_id, "url": "https://shop.test/p/1", "name": "Widget", "sku": "A1"}
    assert body["before"] == {
        "price": "28.00",
        "currency": "EUR",
        "availability": "InStock",
        "list_price": "35.00",
        "sku": "A1-L",
    }
    assert body["after"] == {
        "price": "28.00",
        "currency": "EUR",
        "availability": "OutOfStock",
        "list_price": "35.00",
        "sku": "A1-L",
    }
    assert old["before"] == {
        "price": "10.00",
        "currency": "GBP",
        "availability": "InStock",
        "list_price": None,
        "sku": None,
    }


class Listener:
    """A bare TCP listener on 127.0.0.1 that counts the connections it is offered (and answers none)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join(5)
        self.sock.close()


@pytest.mark.parametrize(
    "template",
    [
        "https://127.0.0.1:{port}\\@evil.example/x",
        "https://%31%32%37.0.0.1:{port}/",
        "https://nowhere.invalid:{port}/",
        "https://127.1:{port}/",
    ],
)
def test_test_webhook_never_connects_to_loopback_with_default_settings(
    db, hook_env, client_with_website, make_app, template
):
    """URLs stored before the check was strict (or by hand): refused at delivery, nothing dialled."""
    _client_id, key, website_id, _product_id = client_with_website
    api = make_app(OBSRV_ALLOW_PRIVATE_TARGETS=False, OBSRV_ALLOW_HTTP_WEBHOOKS=False).test_client()
    with Listener() as listener:
        set_hook(db, website_id, template.format(port=listener.port))
        answer = api.post(f"/v1/websites/{website_id}/test-webhook", headers=bearer(key)).get_json()
    assert listener.accepted == 0
    assert answer["delivered"] is False and answer["status_code"] is None
    assert answer["error"].startswith("refused target: ") and "127.0.0.1" not in answer["error"]


def test_delivery_errors_are_a_fixed_vocabulary(db, hook_env, client_with_website, make_app):
    """What a client reads about a failed delivery says what went wrong, not what the network looks like."""
    _client_id, key, website_id, _product_id = client_with_website
    api = make_app(
        OBSRV_ALLOW_PRIVATE_TARGETS=True, OBSRV_ALLOW_HTTP_WEBHOOKS=True, OBSRV_WEBHOOK_TIMEOUT=0.5
    ).test_client()

    def test_webhook(url):
        set_hook(db, website_id, url)
        return api.post(f"/v1/websites/{website_id}/test-webhook", headers=bearer(key)).get_json()["error"]

    closed = Receiver().start()
    closed_url = closed.url
    closed.stop()
    assert test_webhook(closed_url) == "connection failed"  # nothing listens
    with Receiver(default=500) as receiver:
        assert test_webhook(receiver.url) == "http 500"  # no body, no reason phrase
        assert test_webhook(receiver.url.replace("http://", "https://")) == "tls error"  # not TLS there
    release = threading.Event()
    with Receiver(hold=release) as receiver:
        try:
            assert test_webhook(receiver.url) == "timeout"
        finally:
            release.set()
    errors = {r["error"] for r in db.execute("SELECT error FROM webhook_deliveries").fetchall()}
    assert errors == {"connection failed", "http 500", "tls error", "timeout"}


@pytest.fixture
def names(monkeypatch):
    return Names().install(monkeypatch)


def test_dns_rebinding_at_delivery_never_reaches_loopback(db, hook_env, client_with_website, monkeypatch, names):
    """The name answers a public address to the check and 127.0.0.1 to any later lookup: the POST goes to the
    address that was checked (192.88.99.0/24 is public by the check's rules, and routed nowhere)."""
    monkeypatch.setenv("OBSRV_ALLOW_PRIVATE_TARGETS", "false")
    monkeypatch.setenv("OBSRV_WEBHOOK_TIMEOUT", "1")
    _c, _k, website_id, product_id = client_with_website
    with Receiver() as receiver:
        names.answer("hooks.rebind.test", ["192.88.99.7"], ["127.0.0.1"])
        set_hook(db, website_id, f"http://hooks.rebind.test:{receiver.port}/hooks/obsrv")
        event_id = new_event(db, website_id, product_id)
        result = deliver(event_id)
    assert receiver.received == []
    assert names.count("hooks.rebind.test") == 1
    assert result["success"] is False
    error = db.execute("SELECT error FROM webhook_deliveries WHERE event_id = %s", (event_id,)).fetchone()["error"]
    assert error in ("connection failed", "timeout")


def _two_receivers_on_one_port():
    """A receiver on 127.0.0.2 and another on 127.0.0.1, both on the same port."""
    for _ in range(20):
        checked = Receiver(host="127.0.0.2")
        try:
            other = Receiver(host="127.0.0.1", port=checked.port)
        except OSError:  # that port is taken on 127.0.0.1: another one
            checked.server.server_close()
            continue
        return checked.start(), other.start()
    raise AssertionError("no free port on both 127.0.0.1 and 127.0.0.2")


def test_delivery_dials_the_checked_address_and_keeps_the_name_in_the_host_header(
    db, hook_env, client_with_website, names
):
    _c, _k, website_id, product_id = client_with_website
    checked, other = _two_receivers_on_one_port()
    try:
        names.answer("hooks.rebind.test", ["127.0.0.2"], ["127.0.0.1"])
        set_hook(db, website_id, f"http://hooks.rebind.test:{checked.port}/hooks/obsrv")
        assert deliver(new_event(db, website_id, product_id))["success"] is True
    finally:
        checked.stop()
        other.stop()
    assert other.received == [] and len(checked.received) == 1
    assert checked.received[0]["headers"]["host"] == f"hooks.rebind.test:{checked.port}"
    assert names.count("hooks.rebind.test") == 1


def test_test_webhook_dials_the_checked_address_too(db, hook_env, client_with_website, make_app, names):
    _c, key, website_id, _product_id = client_with_website
    api = make_app(OBSRV_ALLOW_PRIVATE_TARGETS=True).test_client()
    checked, other = _two_receivers_on_one_port()
    try:
        names.answer("hooks.rebind.test", ["127.0.0.2"], ["127.0.0.1"])
        set_hook(db, website_id, f"http://hooks.rebind.test:{checked.port}/hooks/obsrv")
        answer = api.post(f"/v1/websites/{website_id}/test-webhook", headers=bearer(key)).get_json()
    finally:
        checked.stop()
        other.stop()
    assert answer["delivered"] is True and other.received == [] and len(checked.received) == 1


def _held_during_the_post(db, services, event_id):
    """What the database shows while a POST of the event is in flight (looked at from another connection)."""
    in_transaction = db.execute(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND state LIKE 'idle in transaction%%'"
    ).fetchone()["n"]
    try:
        with db.transaction():
            db.execute("SELECT id FROM change_events WHERE id = %s FOR UPDATE NOWAIT", (event_id,))
            db.execute(
                "SELECT id FROM websites WHERE id = (SELECT website_id FROM change_events WHERE id = %s) "
                "FOR UPDATE NOWAIT",
                (event_id,),
            )
        locked = False
    except psycopg.errors.LockNotAvailable:
        locked = True
    stats = get_pool(services.database_url).get_stats()
    return {
        "in_transaction": in_transaction,
        "locked": locked,
        "pool_connections_out": stats.get("pool_size", 0) - stats.get("pool_available", 0),
    }


def test_a_slow_receiver_holds_no_transaction_lock_or_pool_connection_during_the_post(
    db, hook_env, client_with_website, services, monkeypatch
):
    monkeypatch.setenv("OBSRV_WEBHOOK_TIMEOUT", "30")
    _c, _k, website_id, product_id = client_with_website
    release = threading.Event()
    outcome = {}
    with Receiver(hold=release) as receiver:
        set_hook(db, website_id, receiver.url)
        event_id = new_event(db, website_id, product_id)
        worker = threading.Thread(target=lambda: outcome.update(deliver(event_id)))
        worker.start()
        try:
            assert receiver.arrived.wait(20), "the POST never arrived"
            held = _held_during_the_post(db, services, event_id)
            again = deliver(event_id)  # another worker meanwhile: the event is leased, not sent twice
        finally:
            release.set()
            worker.join(30)
    assert held == {"in_transaction": 0, "locked": False, "pool_connections_out": 0}
    assert "skipped" in again and len(receiver.received) == 1
    assert outcome["success"] is True
    row = db.execute("SELECT attempts, delivered_at FROM change_events WHERE id = %s", (event_id,)).fetchone()
    assert row["attempts"] == 1 and row["delivered_at"]
    assert [
        r["success"]
        for r in db.execute("SELECT success FROM webhook_deliveries WHERE event_id = %s", (event_id,)).fetchall()
    ] == [True]


def test_test_webhook_holds_no_transaction_or_pool_connection_during_the_post(
    db, hook_env, client_with_website, make_app, services
):
    _c, key, website_id, _product_id = client_with_website
    api = make_app(OBSRV_ALLOW_PRIVATE_TARGETS=True, OBSRV_WEBHOOK_TIMEOUT=30).test_client()
    release = threading.Event()
    answer = {}
    with Receiver(hold=release) as receiver:
        set_hook(db, website_id, receiver.url)
        caller = threading.Thread(
            target=lambda: answer.update(
                api.post(f"/v1/websites/{website_id}/test-webhook", headers=bearer(key)).get_json()
            )
        )
        caller.start()
        try:
            assert receiver.arrived.wait(20), "the POST never arrived"
            row = db.execute("SELECT id FROM change_events WHERE type = 'test'").fetchone()
            assert row is not None, "the test event is uncommitted while its POST is in flight: a transaction holds it"
            event_id = row["id"]
            held = _held_during_the_post(db, services, event_id)
        finally:
            release.set()
            caller.join(30)
    assert held == {"in_transaction": 0, "locked": False, "pool_connections_out": 0}
    assert answer["delivered"] is True and answer["status_code"] == 200
    assert db.execute("SELECT delivered_at FROM change_events WHERE id = %s", (event_id,)).fetchone()["delivered_at"]


def test_sweep_trusts_the_events_lease_not_a_job_a_dead_worker_left_started(
    db, hook_env, client_with_website, services
):
    """#12 (12): a worker SIGKILLed mid-delivery leaves its job "started" in RQ's registry until RQ cleans up;
    the sweep goes by the event's lease in Postgres: expired, the event is queued again at once; live, not."""
    from rq.job import Job, JobStatus

    from core.jobs import delivery_job_id, enqueue_delivery

    _c, _k, website_id, product_id = client_with_website
    with Receiver() as receiver:
        set_hook(db, website_id, receiver.url)
        event_id = new_event(db, website_id, product_id)
        redis = get_redis(load_settings()["REDIS_URL"])
        enqueue_delivery(redis, event_id, 1)
        job = Job.fetch(delivery_job_id(event_id, 1), connection=redis)
        job.set_status(JobStatus.STARTED)  # what a worker killed mid-job leaves behind...
        job.started_at = datetime.now(UTC) - timedelta(minutes=5)  # ...five minutes ago
        job.save()
        db.execute(
            "UPDATE change_events SET lease_token = gen_random_uuid(), "
            "leased_until = now() + interval '1 minute' WHERE id = %s",
            (event_id,),
        )
        scheduler = Scheduler(load_settings())
        assert scheduler.sweep_outbox() == []  # leased: an attempt may still be in flight
        db.execute("UPDATE change_events SET leased_until = now() - interval '1 second' WHERE id = %s", (event_id,))
        assert scheduler.sweep_outbox() == [event_id]  # the lease ran out: nobody holds it
        deliver(event_id)
        assert len(receiver.received) == 1
