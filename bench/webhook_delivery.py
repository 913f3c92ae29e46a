"""Webhook delivery: deliveries/s and commit→arrival latency through the real outbox, RQ and signed POSTs.

Starts Postgres and Redis (embedded unless DATABASE_URL / REDIS_URL are set),
migrates, creates a client (create_client: key + signing secret) and a few
websites whose webhook_url points at a receiver on 127.0.0.1
(tests.support.receiver, with TCP_NODELAY: see below). For each worker
configuration it starts real RQ workers as `make run` does (`rq worker
--with-scheduler --url $REDIS_URL crawl webhooks default`,
OBSRV_ALLOW_PRIVATE_TARGETS=true, OBSRV_LOG_LEVEL=WARNING) and produces
`price_changed` events the way a crawl does: each batch in one transaction
(insert_events), commit time noted right after COMMIT, then
enqueue_delivery(redis, id, 1) for each event (pipelines/persist.py).

Two phases per configuration:
  burst  all events at once, in batches of 200: deliveries/s is the workers' sustained
         capacity; commit→arrival latency is mostly the wait behind the backlog.
  paced  batches of 10 at a steady 50% of the burst rate for ~20 s: latency under load.
Latency is per event: arrivals are matched by their webhook-id (the event's uid).
Every event must arrive exactly once, a sample's Obsrv-Signature must verify with
the client's secret, and every event must be marked delivered in Postgres.

Baseline: the receiver's own capacity, a loop of signed POSTs from one separate
Python process, no queue, no database (requests.Session, keep-alive; and one
new connection per POST, as deliver() makes).

    .venv/bin/python bench/webhook_delivery.py [--events 10000] [--fork-events 500] [--paced-seconds 20]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import requests  # noqa: E402
from psycopg.rows import dict_row  # noqa: E402

from api.auth import create_client  # noqa: E402
from bench._support import stop_process_groups, wait_for_rq_workers  # noqa: E402
from core.jobs import enqueue_delivery  # noqa: E402
from core.redis_client import get_redis  # noqa: E402
from db.embedded import EmbeddedPostgres, EmbeddedRedis  # noqa: E402
from db.migrate import migrate  # noqa: E402
from db.queries.webhooks import insert_events  # noqa: E402
from tests.support.receiver import Receiver  # noqa: E402
from webhooks.signing import sign, verify  # noqa: E402

BATCH, PACED_BATCH, PACED_LOAD = 200, 10, 0.5
WEBSITES = 4
BEFORE = {"price": "10.00", "currency": "GBP", "availability": "InStock"}
AFTER = {"price": "8.00", "currency": "GBP", "availability": "InStock"}


def raw_posts(url: str, secret: str, n: int, keep_alive: bool) -> float:
    """POSTs/s of n signed POSTs in a loop (run in a child process, away from the receiver's GIL)."""
    body = json.dumps(
        {
            "id": "0" * 36,
            "type": "price_changed",
            "created_at": "2025-01-01T00:00:00+00:00",
            "website": {"id": 1, "name": "Shop 0"},
            "before": BEFORE,
            "after": AFTER,
            "product": {"id": 1, "url": "https://shop0.test/p/1", "name": "Widget", "sku": "A1"},
            "change_pct": "-20.00",
            "observed_at": None,
        }
    ).encode()
    post = requests.Session().post if keep_alive else requests.post
    started = time.perf_counter()
    for i in range(n):
        headers = {"Content-Type": "application/json", **sign(body, [secret], f"raw-{i}")}
        post(url, data=body, headers=headers, timeout=10).raise_for_status()
    return n / (time.perf_counter() - started)


def setup(conn, url: str) -> tuple[str, list[tuple[int, int]]]:
    """A client; returns its signing secret and (website id, product id) pairs whose webhook is url."""
    client_id, _row, _key, secret = create_client(conn, "bench")
    sites = []
    for i in range(WEBSITES):
        website = conn.execute(
            "INSERT INTO websites (client_id, name, domain, seed_urls, status, webhook_url) "
            "VALUES (%s, %s, %s, %s, 'active', %s) RETURNING id",
            (client_id, f"Shop {i}", f"shop{i}.test", [f"https://shop{i}.test/"], url),
        ).fetchone()["id"]
        product = conn.execute(
            "INSERT INTO products (website_id, url, identity, name, sku, status) "
            "VALUES (%s, %s, 'sku:A1', 'Widget', 'A1', 'approved') RETURNING id",
            (website, f"https://shop{i}.test/p/1"),
        ).fetchone()["id"]
        sites.append((website, product))
    return secret, sites


def produce(conn, redis, sites, n: int, batch: int, rate: float | None) -> dict[int, float]:
    """n events in batches, at `rate` events/s or all at once; returns event id -> commit time."""
    committed, started = {}, time.monotonic()
    for first in range(0, n, batch):
        if rate:
            time.sleep(max(0.0, started + first / rate - time.monotonic()))
        events = [
            {
                "website_id": sites[i % len(sites)][0],
                "product_id": sites[i % len(sites)][1],
                "type": "price_changed",
                "before": BEFORE,
                "after": AFTER,
                "change_pct": Decimal("-20"),
                "observed_at": None,
            }
            for i in range(first, min(n, first + batch))
        ]
        with conn.transaction():
            ids = insert_events(conn, events)
        at = time.time()
        for event_id in ids:
            committed[event_id] = at
            enqueue_delivery(redis, event_id, 1)
    return committed


@contextlib.contextmanager
def workers(count: int, worker_class: str | None, env: dict, redis, log: Path):
    """RQ worker processes as `make run` starts them, registered before we yield; stopped however we leave."""
    names = [f"bench-{os.getpid()}-{time.monotonic_ns()}-{i}" for i in range(count)]
    procs = []
    try:
        with log.open("ab") as out:
            for name in names:
                procs.append(
                    subprocess.Popen(
                        [
                            str(Path(sys.executable).parent / "rq"),
                            "worker",
                            "--with-scheduler",
                            "-c",
                            "scheduler.rq_settings",
                            "--url",
                            env["REDIS_URL"],
                            "--name",
                            name,
                            *(["--worker-class", worker_class] if worker_class else []),
                            "crawl",
                            "webhooks",
                            "default",
                        ],
                        cwd=ROOT,
                        env=env,
                        stdout=out,
                        stderr=out,
                        start_new_session=True,
                    )
                )
        wait_for_rq_workers(redis, names, procs, log, "RQ workers did not start:\n")
        yield
    finally:
        stop_process_groups(procs)


def wait_until(done, deadline: float, failure: str) -> None:
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit(failure)
        time.sleep(0.05)


def run(
    conn, redis, receiver: Receiver, sites, secret: str, n: int, batch: int, rate: float | None, timeout: float
) -> dict:
    """Produce n events, check every delivery; deliveries/s and commit→arrival percentiles (seconds)."""
    with receiver.lock:
        receiver.received.clear()
    committed = produce(conn, redis, sites, n, batch, rate)
    deadline = time.monotonic() + timeout
    wait_until(lambda: len(receiver.received) >= n, deadline, f"not all {n} events arrived in {timeout:.0f} s")
    wait_until(
        lambda: (
            conn.execute(
                "SELECT count(*) AS n FROM change_events WHERE id = ANY(%s) AND delivered_at IS NOT NULL",
                (list(committed),),
            ).fetchone()["n"]
            == n
        ),
        deadline,
        "arrived events are not all marked delivered in Postgres",
    )
    with receiver.lock:
        received = list(receiver.received)
    uids = {
        r["uid"]: r["id"]
        for r in conn.execute("SELECT uid::text AS uid, id FROM change_events WHERE id = ANY(%s)", (list(committed),))
    }
    arrivals = {r["headers"]["webhook-id"]: r["at"] for r in received}
    if len(received) != n or arrivals.keys() != uids.keys():
        raise SystemExit(f"{len(received)} arrivals of {len(arrivals)} distinct ids; expected each of {n} once")
    for r in random.sample(received, min(200, n)):
        verify(r["body"], r["headers"]["obsrv-signature"], secret)
    cuts = statistics.quantiles([arrivals[uid] - committed[i] for uid, i in uids.items()], n=100, method="inclusive")
    seconds = max(arrivals.values()) - min(committed.values())
    return {"n": n, "seconds": seconds, "rate": n / seconds, "p50": cuts[49], "p95": cuts[94], "p99": cuts[98]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000, help="burst events per SimpleWorker configuration")
    parser.add_argument("--fork-events", type=int, default=500, help="burst events for the forking worker (slow)")
    parser.add_argument("--paced-seconds", type=float, default=20, help="length of each paced phase")
    parser.add_argument("--timeout", type=float, default=900, help="seconds a phase may take to drain")
    args = parser.parse_args()
    simple = "rq.worker.SimpleWorker"
    configs = [
        ("1 rq worker (fork per job)", None, 1, args.fork_events),
        ("1 rq worker SimpleWorker", simple, 1, args.events),
        ("2 rq workers SimpleWorker", simple, 2, args.events),
    ]

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # like Ctrl-C: the finally blocks stop everything
    workdir = Path(tempfile.mkdtemp(prefix="obsrv-bench-hooks-"))
    servers = []
    receiver = Receiver().start()
    # Its handler writes headers and body in two sends: with Nagle on, a keep-alive client's delayed ACK
    # stalls every response by ~40 ms (23 POSTs/s). TCP_NODELAY (this receiver's own handler class only).
    receiver.server.RequestHandlerClass.disable_nagle_algorithm = True
    try:
        database_url, redis_url = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
        if not database_url:
            servers.append(EmbeddedPostgres(workdir / "pg"))
            database_url = servers[-1].start("obsrv_bench_hooks")
        if not redis_url:
            servers.append(EmbeddedRedis(workdir / "redis"))
            redis_url = servers[-1].start()
        migrate(database_url)
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "OBSRV_ALLOW_PRIVATE_TARGETS": "true",
            "OBSRV_LOG_LEVEL": "WARNING",
        }
        redis = get_redis(redis_url)
        with psycopg.connect(database_url, autocommit=True, row_factory=dict_row) as conn:
            secret, sites = setup(conn, receiver.url)
            with multiprocessing.get_context("spawn").Pool(1) as pool:
                raw = {keep: pool.apply(raw_posts, (receiver.url, secret, args.events, keep)) for keep in (True, False)}
            rows = []
            for label, worker_class, count, n in configs:
                with workers(count, worker_class, env, redis, workdir / "workers.log"):
                    burst = run(conn, redis, receiver, sites, secret, n, BATCH, None, args.timeout)
                    rate = burst["rate"] * PACED_LOAD
                    paced_n = max(PACED_BATCH, round(rate * args.paced_seconds / PACED_BATCH) * PACED_BATCH)
                    paced = run(conn, redis, receiver, sites, secret, paced_n, PACED_BATCH, rate, args.timeout)
                rows += [
                    (label, f"burst, batches of {BATCH}", burst),
                    ("", f"paced {rate:.1f}/s, of {PACED_BATCH}", paced),
                ]

        print(
            f"{len(os.sched_getaffinity(0))} CPUs; receiver: tests.support.receiver (ThreadingHTTPServer, "
            f"TCP_NODELAY) on 127.0.0.1; {WEBSITES} websites, 1 client"
        )
        print(f"baseline: raw signed POSTs from 1 process, requests.Session (keep-alive): {raw[True]:6.0f} POSTs/s")
        print(f"          raw signed POSTs from 1 process, new connection per POST:     {raw[False]:6.0f} POSTs/s")
        print(
            f"{'workers':26}  {'phase':24} {'events':>6} {'seconds':>7} {'deliv/s':>7} {'÷ raw':>6}  "
            f"{'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}"
        )
        for label, phase, r in rows:
            ratio = f"{r['rate'] / raw[True]:6.3f}" if label else f"{'-':>6}"  # paced: the rate is ours
            print(
                f"{label:26}  {phase:24} {r['n']:6d} {r['seconds']:7.1f} {r['rate']:7.1f} {ratio}  "
                f"{r['p50'] * 1e3:7.0f} {r['p95'] * 1e3:7.0f} {r['p99'] * 1e3:7.0f}"
            )
        fork = rows[0][2]
        if fork["n"] < args.events:
            print(
                f"note: the forking worker ran {fork['n']} burst events, not {args.events}: at "
                f"{fork['rate']:.1f}/s, {args.events} would take {args.events / fork['rate'] / 60:.0f} min"
            )
        print(
            "deliv/s = events / (last arrival - first commit); ÷ raw = deliv/s ÷ keep-alive raw POSTs/s; "
            "latency = the event's COMMIT → its arrival at the receiver. Every event arrived once, "
            "a sample's signature verified, all marked delivered in Postgres."
        )
        return 0
    finally:
        receiver.stop()
        for server in reversed(servers):
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
