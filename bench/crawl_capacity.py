"""Crawl capacity: one crawler process crawling 1,000 websites at once, each at its own polite rate.

Serves W websites (default 1,000) of P product pages each (default 6) from host names
s0001.bench.test ... pinned to 127.0.0.1 by one wildcard DNS override (tests.support.shop, one port,
every request recorded). Registers them directly in SQL (active, domain host:port,
crawl_rate_per_minute R, default 10; products approved), queues one 'manual' crawl_work per website
and runs ONE crawler process, `python -m crawler --until-idle`, throttling on, as production does.

The ideal: every website's crawl starts at once and fetches a page every 60/R s, so the whole crawl
takes (P-1)·60/R s from the first request (P·60/R counting robots.txt, which is fetched in the same
slot). Measured:

  makespan   first request the shop saw -> last product observed (max observations.observed_at) and
             -> last request the shop saw, against that ideal; how fast the crawls started (the spread
             of every host's first request)
  politeness the smallest gap between two requests to one host (every request, robots.txt included;
             and product pages only), against the delay 60/R
  memory     peak RSS of the crawler process and its children (psutil, every 0.2 s; and ru_maxrss)
  CPU        user+sys seconds of the crawler (wait4 rusage), per product; products/day one process
             sustains at R/min (concurrency·1440·R if the CPU keeps up) and the CPU-bound figure
             86400 / (CPU s per product)
  webhooks   commit->receipt latency of change events delivered by an `rq worker webhooks`
             (SimpleWorker) to a local receiver while the crawl runs, against the same with no crawl
             running (baseline, same run): N events (default 50) 0.2 s apart each phase

Checks (exit 1 and FAIL otherwise): every one of the W·P products has exactly one observation and it
is ok, every crawl run succeeded, all crawl work done. Targets: all observed within 60 s of the first
request, no host hit faster than its rate (gap >= delay - 0.25 s), peak RSS < 800 MB.

    .venv/bin/python bench/crawl_capacity.py [--websites 1000] [--products 6] [--rate 10]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from psycopg.rows import dict_row  # noqa: E402

from api.auth import create_client  # noqa: E402
from bench._support import Sampler, stop_process_groups, wait_for_rq_workers  # noqa: E402
from core.jobs import enqueue_delivery  # noqa: E402
from core.redis_client import get_redis  # noqa: E402
from db.embedded import servers  # noqa: E402
from db.migrate import migrate  # noqa: E402
from db.queries.webhooks import insert_events  # noqa: E402
from tests.support.receiver import Receiver  # noqa: E402
from tests.support.shop import Shop  # noqa: E402

TOLERANCE = 0.25  # seconds a gap may fall short of the delay (timer granularity)
MAKESPAN_TARGET = 60.0  # seconds from the first request to the last product observed
RSS_TARGET_MB = 800.0
BEFORE = {"price": "10.00", "currency": "GBP", "availability": "InStock"}
AFTER = {"price": "8.00", "currency": "GBP", "availability": "InStock"}


def register(conn, shop: Shop, rate: int) -> int:
    """An active website per host (rate R/min) with its products approved, and one queued 'manual' crawl
    each, all in bulk; returns the number of products."""
    client = conn.execute("INSERT INTO clients (name) VALUES ('bench') RETURNING id").fetchone()["id"]
    hosts = shop.hosts
    ids = [
        r["id"]
        for r in conn.execute(
            """INSERT INTO websites (client_id, name, domain, seed_urls, status, crawl_rate_per_minute)
           SELECT %s, h, h || ':' || %s, ARRAY['http://' || h || ':' || %s || '/'], 'active', %s
             FROM unnest(%s::text[]) WITH ORDINALITY AS t(h, n) ORDER BY n
        RETURNING id""",
            (client, str(shop.port), str(shop.port), rate, hosts),
        ).fetchall()
    ]
    websites, urls = [], []
    for website, host in zip(ids, hosts):
        for path in shop.product_paths_for(host):
            websites.append(website)
            urls.append(shop.url(path, host=host))
    conn.execute(
        """INSERT INTO products (website_id, url, identity, status, approved_at)
           SELECT w, u, 'url:' || u, 'approved', now() FROM unnest(%s::bigint[], %s::text[]) AS t(w, u)""",
        (websites, urls),
    )
    conn.execute(
        """INSERT INTO crawl_work (website_id, kind, job_id)
           SELECT id, 'manual', 'bench-manual-' || id FROM unnest(%s::bigint[]) AS id""",
        (ids,),
    )
    return len(urls)


def hook_site(conn, url: str) -> tuple[int, int]:
    """A client with a signing secret and one website (paused: never crawled) whose webhook is ``url``."""
    client_id, _row, _key, _secret = create_client(conn, "bench-hooks")
    website = conn.execute(
        "INSERT INTO websites (client_id, name, domain, seed_urls, status, webhook_url) "
        "VALUES (%s, 'hooks', 'hooks.bench.test', ARRAY['https://hooks.bench.test/'], 'paused', %s) RETURNING id",
        (client_id, url),
    ).fetchone()["id"]
    product = conn.execute(
        "INSERT INTO products (website_id, url, identity, name, sku, status) "
        "VALUES (%s, 'https://hooks.bench.test/p/1', 'sku:A1', 'Widget', 'A1', 'approved') RETURNING id",
        (website,),
    ).fetchone()["id"]
    return website, product


class HookProbe:
    """Change events one at a time, ``spacing`` s apart; commit->receipt latency of each."""

    def __init__(self, conn, redis, receiver: Receiver, site: tuple[int, int]):
        self.conn, self.redis, self.receiver, self.site = conn, redis, receiver, site

    def produce(self, n: int, spacing: float) -> dict[str, float]:
        committed: dict[int, float] = {}
        started = time.monotonic()
        for i in range(n):
            time.sleep(max(0.0, started + i * spacing - time.monotonic()))
            event = {
                "website_id": self.site[0],
                "product_id": self.site[1],
                "type": "price_changed",
                "before": BEFORE,
                "after": AFTER,
                "change_pct": Decimal("-20"),
                "observed_at": None,
            }
            with self.conn.transaction():
                (event_id,) = insert_events(self.conn, [event])
            committed[event_id] = time.time()
            enqueue_delivery(self.redis, event_id, 1)
        uids = {
            r["id"]: r["uid"]
            for r in self.conn.execute(
                "SELECT id, uid::text AS uid FROM change_events WHERE id = ANY(%s)", (list(committed),)
            )
        }
        return {uids[i]: at for i, at in committed.items()}

    def latencies(self, committed: dict[str, float], timeout: float) -> list[float]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.receiver.lock:
                arrived = {r["headers"].get("webhook-id"): r["at"] for r in self.receiver.received}
            if committed.keys() <= arrived.keys():
                return [arrived[uid] - at for uid, at in committed.items()]
            time.sleep(0.05)
        missing = len(committed.keys() - arrived.keys())
        raise SystemExit(f"FAIL: {missing} of {len(committed)} webhook events not delivered in {timeout:.0f} s")


def pct(values: list[float], q: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


@contextlib.contextmanager
def rq_worker(env: dict, redis, log: Path):
    """One `rq worker webhooks` (SimpleWorker), registered before we yield; stopped however we leave."""
    name = f"bench-capacity-{os.getpid()}"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                str(ROOT / ".venv" / "bin" / "rq"),
                "worker",
                "-c",
                "scheduler.rq_settings",
                "--url",
                env["REDIS_URL"],
                "--worker-class",
                "rq.worker.SimpleWorker",
                "--name",
                name,
                "webhooks",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=out,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        wait_for_rq_workers(redis, [name], [proc], log, "FAIL: the RQ worker did not start:\n")
        yield proc
    finally:
        stop_process_groups([proc])


def gaps(requests: list[tuple[float, str, str, str]], products_only: bool) -> tuple[float, str, int]:
    """The smallest gap between two requests to one host: (gap, host, number of gaps measured)."""
    by_host: dict[str, list[float]] = defaultdict(list)
    for at, host, _method, path in requests:
        if not products_only or path.startswith("/catalogue/"):
            by_host[host].append(at)
    best, where, count = float("inf"), "", 0
    for host, times in by_host.items():
        times.sort()
        for a, b in zip(times, times[1:]):
            count += 1
            if b - a < best:
                best, where = b - a, host
    return best, where, count


def short_gaps(requests, delay: float) -> int:
    by_host: dict[str, list[float]] = defaultdict(list)
    for at, host, _method, _path in requests:
        by_host[host].append(at)
    n = 0
    for times in by_host.values():
        times.sort()
        n += sum(1 for a, b in zip(times, times[1:]) if b - a < delay - TOLERANCE)
    return n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--websites", type=int, default=1000)
    parser.add_argument("--products", type=int, default=6, help="products per website")
    parser.add_argument("--rate", type=int, default=10, help="crawl_rate_per_minute of every website")
    parser.add_argument("--events", type=int, default=50, help="webhook events per phase (0.2 s apart)")
    parser.add_argument(
        "--timeout", type=float, default=None, help="seconds the crawler may run (default: 300 + 4x the paced duration)"
    )
    args = parser.parse_args()
    w, p, rate = args.websites, args.products, args.rate
    delay = 60.0 / rate
    ideal = (p - 1) * delay
    timeout = args.timeout or 300 + 4 * (p + 1) * delay

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # like Ctrl-C: the finally blocks stop everything
    workdir = Path(tempfile.mkdtemp(prefix="obsrv-bench-capacity-"))
    stack = contextlib.ExitStack()
    database_url, redis_url = stack.enter_context(servers(workdir, "obsrv_bench_capacity"))
    hosts = [f"s{i:04d}.bench.test" for i in range(1, w + 1)]
    shop = Shop.generated(n_products=w * p, hosts=hosts, jsonld=True)
    shop.warm()
    receiver = Receiver().start()
    crawler = None
    try:
        migrate(database_url)
        shop.start()
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "OBSRV_ALLOW_PRIVATE_TARGETS": "true",
            "OBSRV_ALLOW_HTTP_WEBHOOKS": "true",
            "OBSRV_CRAWL_THROTTLE": "true",
            "OBSRV_DNS_OVERRIDES": "*.bench.test=127.0.0.1",
            "OBSRV_LOG_LEVEL": "WARNING",
        }
        concurrency = int(env.get("OBSRV_CRAWL_CONCURRENCY") or 1000)
        redis = get_redis(redis_url)
        conn = stack.enter_context(psycopg.connect(database_url, autocommit=True, row_factory=dict_row))
        products = register(conn, shop, rate)
        probe = HookProbe(conn, redis, receiver, hook_site(conn, receiver.url))
        stack.enter_context(rq_worker(env, redis, workdir / "rq-worker.log"))

        # webhook baseline: no crawl running (one warm-up event first: the worker's first connection)
        probe.latencies(probe.produce(1, 0.0), 60)
        baseline = probe.latencies(probe.produce(args.events, 0.2), 60)

        # the crawl, with the same webhook events produced while it runs
        shop.reset_requests()
        crawler_log = (workdir / "crawler.log").open("wb")
        t_start = time.monotonic()
        crawler = subprocess.Popen(
            [sys.executable, "-m", "crawler", "--until-idle"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=crawler_log,
            stderr=crawler_log,
            start_new_session=True,
        )
        sampler = Sampler(crawler.pid)
        sampler.start()
        outcome: dict = {}

        def reap() -> None:  # wait4: the crawler's own rusage (CPU, max RSS), exactly
            _pid, status, usage = os.wait4(crawler.pid, 0)
            outcome.update(at=time.monotonic(), code=os.waitstatus_to_exitcode(status), usage=usage)
            crawler.returncode = outcome["code"]

        reaper = threading.Thread(target=reap, daemon=True)
        reaper.start()
        while not shop.requests and reaper.is_alive() and time.monotonic() - t_start < 120:
            time.sleep(0.02)
        hooks_during: list[float] = []
        crawl_running = False
        if shop.requests:
            committed = probe.produce(args.events, 0.2)
            crawl_running = reaper.is_alive()
            hooks_during = probe.latencies(committed, 120)
        reaper.join(max(0.0, t_start + timeout - time.monotonic()))
        if reaper.is_alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(crawler.pid, signal.SIGKILL)
            reaper.join(10)
            print(f"FAIL: the crawler did not end within {timeout:.0f} s (killed)")
        sampler.done.set()
        sampler.join(5)
        crawler_log.close()
        t_exit = outcome.get("at", time.monotonic())

        # what happened
        wall_offset = time.time() - time.monotonic()
        requests = shop.requests
        stats = conn.execute(
            """SELECT count(*) AS n, count(*) FILTER (WHERE ok) AS ok, count(DISTINCT product_id) AS products,
                      count(DISTINCT product_id) FILTER (WHERE ok) AS ok_products,
                      extract(epoch FROM max(observed_at)) AS last, extract(epoch FROM min(observed_at)) AS first
                 FROM observations"""
        ).fetchone()
        once = conn.execute(
            """SELECT count(*) AS n FROM (SELECT product_id FROM observations GROUP BY product_id
                                            HAVING count(*) = 1 AND bool_and(ok)) x"""
        ).fetchone()["n"]
        runs = conn.execute(
            """SELECT count(*) AS n, count(*) FILTER (WHERE status = 'succeeded') AS ok,
                      count(*) FILTER (WHERE status = 'succeeded' AND products_ok = %s) AS complete,
                      array_agg(DISTINCT status) AS statuses,
                      extract(epoch FROM max(finished_at)) AS last_close,
                      extract(epoch FROM min(started_at)) AS first_start,
                      extract(epoch FROM max(started_at)) AS last_start
                 FROM crawl_runs""",
            (p,),
        ).fetchone()
        lags = [
            float(r["lag"])
            for r in conn.execute(
                """SELECT extract(epoch FROM r.finished_at - max(o.observed_at)) AS lag
                 FROM crawl_runs r JOIN observations o ON o.crawl_run_id = r.id
                WHERE r.finished_at IS NOT NULL GROUP BY r.id, r.finished_at"""
            )
        ]
        work = conn.execute("SELECT status, count(*) AS n FROM crawl_work GROUP BY status").fetchall()
        work = {r["status"]: r["n"] for r in work}

        product_requests = [r for r in requests if r[3].startswith("/catalogue/")]
        first = min((r[0] for r in requests), default=None)
        if first is None or stats["last"] is None:
            print("FAIL: the crawler fetched nothing or observed nothing; its log:")
            print((workdir / "crawler.log").read_text()[-5000:])
            return 1
        last_request = max(r[0] for r in requests)
        last_product_request = max((r[0] for r in product_requests), default=first)
        last_observed = float(stats["last"]) - wall_offset
        last_close = float(runs["last_close"] or 0) - wall_offset
        makespan = last_observed - first
        firsts: dict[str, float] = {}
        for at, host, _m, _path in requests:
            firsts[host] = min(at, firsts.get(host, at))
        starts = sorted(t - first for t in firsts.values())
        by_host: dict[str, list[float]] = defaultdict(list)
        for at, host, _m, _path in requests:
            by_host[host].append(at)
        spans = sorted(max(t) - min(t) for t in by_host.values())
        mean_gap = statistics.fmean(b - a for t in by_host.values() for a, b in zip(sorted(t), sorted(t)[1:]))
        gap_all, gap_host, n_all = gaps(requests, products_only=False)
        gap_prod, gap_prod_host, n_prod = gaps(requests, products_only=True)
        too_fast = short_gaps(requests, delay)
        usage = outcome.get("usage")
        cpu = (usage.ru_utime + usage.ru_stime) if usage else (sampler.samples[-1][2] if sampler.samples else 0.0)
        at_first = sampler.at(first)
        cpu_crawl = cpu - (at_first[2] if at_first else 0.0)
        per_product = cpu / products
        per_product_crawl = cpu_crawl / products
        peak_mb = sampler.peak_mb()
        maxrss_mb = usage.ru_maxrss / 1024 if usage else 0.0
        observed_ok = stats["ok"] == products and stats["n"] == products and once == products
        runs_ok = runs["n"] == w and runs["ok"] == w and runs["complete"] == w
        work_ok = work.get("done", 0) == w and len(work) == 1

        print(
            f"{len(os.sched_getaffinity(0))} CPUs; {w} websites x {p} products = {products} products at "
            f"{rate}/min each (delay {delay:.2f} s), one crawler process (OBSRV_CRAWL_CONCURRENCY "
            f"{concurrency}, throttle on); shop on 127.0.0.1:{shop.port}, {len(requests)} requests "
            f"({len(requests) - len(product_requests)} robots.txt / other)"
        )
        print(
            f"crawler start -> first request: {first - t_start:6.2f} s; crawler exit: "
            f"{t_exit - t_start:6.2f} s after start (exit code {outcome.get('code')})"
        )
        print(
            f"crawls started (first request per host, from the first request): p50 {pct(starts, 50):.2f} s, "
            f"p95 {pct(starts, 95):.2f} s, last {starts[-1]:.2f} s ({len(starts)} hosts); crawl_runs "
            f"started over {float(runs['last_start']) - float(runs['first_start']):.2f} s"
        )
        print(
            f"makespan, first request -> last product observed: {makespan:6.2f} s   (ideal (P-1)*60/R = "
            f"{ideal:.1f} s, {p * delay:.1f} s counting robots.txt; ratio {makespan / ideal:.2f})"
        )
        print(
            f"          first request -> last product request:  {last_product_request - first:6.2f} s; "
            f"-> last request: {last_request - first:6.2f} s; -> last crawl run closed: {last_close - first:6.2f} s"
        )
        print(
            f"per host, first -> last request: p50 {pct(spans, 50):.2f} s, max {spans[-1]:.2f} s (paced: "
            f"{p * delay:.1f} s); mean gap {mean_gap:.3f} s; crawl run closed after its last observation: "
            f"p50 {pct(lags, 50):.2f} s, p95 {pct(lags, 95):.2f} s, max {max(lags):.2f} s"
        )
        print(
            f"smallest gap between two requests to one host: {gap_all:.3f} s ({gap_host}; {n_all} gaps, "
            f"robots.txt included) = {gap_all / delay:.3f} x the delay; product pages only: {gap_prod:.3f} s "
            f"({gap_prod_host}) = {gap_prod / delay:.3f} x; gaps < delay - {TOLERANCE} s: {too_fast}"
        )
        print(f"peak RSS (crawler + children, every 0.2 s): {peak_mb:6.1f} MB   (ru_maxrss {maxrss_mb:.1f} MB)")
        print(
            f"CPU (user+sys): {cpu:6.2f} s = {per_product * 1000:.2f} ms per product "
            f"({cpu_crawl:.2f} s = {per_product_crawl * 1000:.2f} ms per product from the first request on)"
        )
        print(
            f"products/day at {rate}/min: rate-bound {concurrency} x 1440 x {rate} = "
            f"{concurrency * 1440 * rate:,}; CPU-bound 86400 / CPU s per product = {86400 / per_product:,.0f} "
            f"({86400 / per_product_crawl:,.0f} without start-up)"
        )
        base50, base95 = pct(baseline, 50), pct(baseline, 95)
        if hooks_during:
            d50, d95 = pct(hooks_during, 50), pct(hooks_during, 95)
            print(
                f"webhook commit->receipt, {args.events} events 0.2 s apart, SimpleWorker: no crawl p50 "
                f"{base50 * 1000:.1f} ms p95 {base95 * 1000:.1f} ms; during the crawl p50 {d50 * 1000:.1f} ms "
                f"p95 {d95 * 1000:.1f} ms; ratio p50 {d50 / base50:.2f} p95 {d95 / base95:.2f}"
                f"{'' if crawl_running else ' (the crawl ended before the last event)'}"
            )
        print(
            f"observations: {stats['n']} ({stats['ok']} ok) of {products} products, exactly one ok each: {once}; "
            f"crawl runs {runs['n']}, succeeded with {p} ok: {runs['complete']}, statuses {runs['statuses']}; "
            f"work {work}"
        )
        checks = [
            ("every product observed exactly once, ok", observed_ok),
            ("every crawl run succeeded, all work done", runs_ok and work_ok and outcome.get("code") == 0),
            (
                f"all {products} observed within {MAKESPAN_TARGET:.0f} s of the first request",
                makespan <= MAKESPAN_TARGET and observed_ok,
            ),
            (f"no host hit faster than its rate (gap >= {delay:.2f} - {TOLERANCE} s)", gap_all >= delay - TOLERANCE),
            (f"peak RSS < {RSS_TARGET_MB:.0f} MB", peak_mb < RSS_TARGET_MB),
        ]
        for label, ok in checks:
            print(f"{'PASS' if ok else 'FAIL'}: {label}")
        if not (observed_ok and runs_ok and work_ok):
            print(f"crawler log tail ({workdir / 'crawler.log'}):")
            print((workdir / "crawler.log").read_text()[-3000:])
        return 0 if all(ok for _label, ok in checks) else 1
    finally:
        if crawler is not None and crawler.returncode is None:
            with contextlib.suppress(ProcessLookupError, ChildProcessError):
                os.killpg(crawler.pid, signal.SIGKILL)
        stack.close()
        receiver.stop()
        shop.stop()


if __name__ == "__main__":
    sys.exit(main())
