"""History queries at scale, through the real API (gunicorn, authentication, rate limit).

Loads >= 10,000,000 observations with COPY — 100,000 products x 100 days, plus 10 "dense" products
observed every hour for a year (for first and deep pages of 500 rows) — aggregates the monthly
statistics, then measures p50/p95/p99 latency and requests/s, with the same concurrent keep-alive
clients, for:

  history first page   500 rows of a dense product's year (newest first)
  history deep page    page 15 of the same, by cursor
  history 30 days      a 30-day range of a random product
  statistics           12 months of a random product
  bare Flask           a constant JSON body: one real first page, parsed once, serialized by Flask on
                       every request (the ratio baseline: same bytes, no auth, no query)

Targets: history p95 <= 25 ms; deep page within 1.5x of the first page; API >= 50% of bare req/s.
Each scenario also shows the CPU time it cost per request in each process (gunicorn workers, Postgres,
Redis, this client): on two cores, that is what bounds requests/s.

    .venv/bin/python bench/history_query.py [--products 100000] [--days 100] [--requests 1000] [--clients 2]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import io
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
import psycopg  # noqa: E402
from psycopg.rows import dict_row  # noqa: E402

from api.auth import create_client  # noqa: E402
from db.embedded import servers  # noqa: E402
from db.redis_client import get_redis  # noqa: E402
from db.migrate import migrate  # noqa: E402
from db.partitions import add_months, ensure_observation_partitions  # noqa: E402
from scheduler.lifecycle import aggregate_completed_months  # noqa: E402

DENSE = 10
BARE_APP = '''
import json
import os
from flask import Flask
app = Flask("bare")
with open(os.environ["OBSRV_BENCH_BARE_BODY"]) as f:
    BODY = json.load(f)  # a real first page of the API
@app.get("/bare")
def bare():
    return BODY  # Flask serializes it, as any endpoint would
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load(conn, products: int, days: int) -> dict:
    """Clients, websites, products and observations; returns what the scenarios need."""
    now = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    client_id, _row, key, _secret = create_client(conn, "bench")
    conn.execute("INSERT INTO websites (client_id, name, domain, seed_urls, status) "
                 "SELECT %s, 'site ' || i, 'site' || i || '.test', ARRAY['https://site' || i || '.test/'], 'active' "
                 "FROM generate_series(1, 100) AS i", (client_id,))
    conn.execute("""INSERT INTO products (website_id, url, identity, name, price, currency, status)
                    SELECT w.id, 'https://p.test/' || i, 'url:' || i, 'Product ' || i, 10 + (i %% 90), 'GBP', 'approved'
                      FROM generate_series(1, %s) AS i JOIN websites w ON w.name = 'site ' || (1 + i %% 100)""",
                 (products + DENSE,))
    ids = [r["id"] for r in conn.execute("SELECT id FROM products ORDER BY id").fetchall()]
    sparse, dense = ids[:products], ids[products:]
    ensure_observation_partitions(conn, first=add_months(now.date().replace(day=1), -13), last=now.date())
    started = time.perf_counter()
    rows = 0
    with conn.cursor() as cur:
        try:
            cur.execute("SET session_replication_role = replica")  # skip the FK trigger per row (superuser)
        except psycopg.Error:
            conn.rollback()
        with cur.copy("COPY observations (product_id, observed_at, ok, price, currency, availability) "
                      "FROM STDIN") as copy:
            days_at = [(now - timedelta(days=d)).isoformat() for d in range(days)]
            for n, product in enumerate(sparse):
                buf = io.StringIO()
                base = 10 + n % 90
                for d, at in enumerate(days_at):
                    buf.write(f"{product}\t{at}\tt\t{base + (d % 7) * 0.25:.2f}\tGBP\t"
                              f"{'InStock' if (n + d) % 9 else 'OutOfStock'}\n")
                copy.write(buf.getvalue())
                rows += days
            hours_at = [(now - timedelta(hours=h)).isoformat() for h in range(365 * 24)]
            for product in dense:
                buf = io.StringIO()
                for h, at in enumerate(hours_at):
                    buf.write(f"{product}\t{at}\tt\t{20 + (h % 24) * 0.1:.2f}\tGBP\tInStock\n")
                copy.write(buf.getvalue())
                rows += len(hours_at)
        cur.execute("SET session_replication_role = DEFAULT")
    conn.commit()
    loaded = time.perf_counter() - started
    conn.execute("ANALYZE observations")
    conn.commit()
    return {"key": key, "sparse": sparse, "dense": dense, "rows": rows, "load_seconds": loaded, "now": now}


def run(port: int, paths: list[str], headers: dict, requests: int, clients: int,
        per_connection: int = 20) -> tuple[list[float], float]:
    """`requests` GETs from `clients` threads, each over keep-alive connections it replaces every
    `per_connection` requests: (latencies, elapsed seconds).

    Each gunicorn worker serves the connections it accepts, and the kernel picks the worker. With two
    long-lived connections, a run where both land on one worker measures one process, not two: req/s
    swung 2x from run to run. Connections renewed every few dozen requests spread like real clients'.
    """
    latencies: list[float] = []
    lock = threading.Lock()
    errors = []

    def worker(share: int, seed: int):
        rnd = random.Random(seed)
        conn = None
        mine = []
        for n in range(share):
            if n % per_connection == 0:  # a new connection now and then: which worker takes it averages out
                if conn is not None:
                    conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            path = rnd.choice(paths)
            t = time.perf_counter()
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            mine.append(time.perf_counter() - t)
            if response.status != 200:
                errors.append((path, response.status))
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(requests // clients, i)) for i in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"errors: {errors[:3]}")
    return latencies, elapsed


def server_pids(database_url: str, redis_url: str) -> dict[str, int]:
    """The Postgres postmaster and the Redis server, when they run on this machine."""
    pids = {}
    with psycopg.connect(database_url) as conn:
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        with contextlib.suppress(psutil.Error):
            pids["postgres"] = psutil.Process(backend).ppid()
    pid = get_redis(redis_url).info("server").get("process_id")
    if pid and psutil.pid_exists(pid):
        pids["redis"] = pid
    return pids


class CpuMeter:
    """CPU seconds used by each server's process tree, and by this process, between two readings."""

    def __init__(self, servers_by_label: dict[str, int]):
        self.procs = []
        for label, pid in servers_by_label.items():
            parent = psutil.Process(pid)
            self.procs += [(label, p) for p in [parent, *parent.children(recursive=True)]]

    @staticmethod
    def _cpu(proc) -> float:
        try:
            t = proc.cpu_times()
            return t.user + t.system
        except psutil.Error:
            return 0.0

    def read(self) -> dict[str, float]:
        used: dict[str, float] = {}
        for kind, proc in self.procs:
            used[kind] = used.get(kind, 0.0) + self._cpu(proc)
        used["client"] = self._cpu(psutil.Process())
        return used

    @staticmethod
    def delta(before: dict, after: dict) -> dict[str, float]:
        return {k: after[k] - before.get(k, 0.0) for k in after}


def summary(latencies: list[float], elapsed: float) -> dict:
    cuts = statistics.quantiles(latencies, n=100)
    return {"p50": cuts[49] * 1000, "p95": cuts[94] * 1000, "p99": cuts[98] * 1000, "rps": len(latencies) / elapsed}


def gunicorn(app: str, port: int, env: dict, cwd: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", str(ROOT / "api" / "gunicorn.conf.py"), app],
        cwd=cwd, env={**env, "OBSRV_PORT": str(port), "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"{app} did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=100)
    parser.add_argument("--requests", type=int, default=3000, help="per scenario, over all rounds")
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=10, help="scenarios alternate in rounds, so noise hits all alike")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="obsrv-bench-history-"))
    procs = []
    stack = contextlib.ExitStack()
    try:
        database_url, redis_url = stack.enter_context(servers(workdir, "obsrv_bench_history"))
        migrate(database_url)
        with psycopg.connect(database_url, row_factory=dict_row) as conn:
            data = load(conn, args.products, args.days)
            conn.autocommit = True
            started = time.perf_counter()
            aggregate_completed_months(conn, lookback_months=13)
            aggregated = time.perf_counter() - started
        print(f"loaded {data['rows']:,} observations with COPY in {data['load_seconds']:.1f} s "
              f"({data['rows'] / data['load_seconds']:,.0f} rows/s); monthly statistics in {aggregated:.1f} s")

        env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "OBSRV_API_WORKERS": "2",
               "OBSRV_RATE_LIMIT": "100000000/hour", "OBSRV_LOG_LEVEL": "WARNING"}
        api_port, bare_port = free_port(), free_port()
        procs.append(gunicorn("api:create_app()", api_port, env, ROOT))
        headers = {"Authorization": f"Bearer {data['key']}"}

        now = data["now"] + timedelta(hours=1)
        year = f"start={(now - timedelta(days=365)).isoformat()}&end={now.isoformat()}".replace("+", "%2B")
        firsts = [f"/v1/products/{p}/history?limit=500&{year}" for p in data["dense"]]
        deep = []
        for path in firsts:  # walk 15 pages once to collect the cursors of page 15
            cursor = None
            for _ in range(14):
                conn = http.client.HTTPConnection("127.0.0.1", api_port)
                conn.request("GET", path + (f"&cursor={cursor}" if cursor else ""), headers=headers)
                cursor = json.loads(conn.getresponse().read())["next_cursor"]
                conn.close()
            deep.append(f"{path}&cursor={cursor}")
        conn = http.client.HTTPConnection("127.0.0.1", api_port)
        conn.request("GET", firsts[0], headers=headers)
        (workdir / "bare_body.json").write_bytes(conn.getresponse().read())  # the baseline serves this page
        conn.close()
        (workdir / "bare_app.py").write_text(BARE_APP)
        procs.append(gunicorn("bare_app:app", bare_port, {**env, "OBSRV_BENCH_BARE_BODY": str(workdir / "bare_body.json")},
                              workdir))
        meter = CpuMeter({"api": procs[0].pid, "bare": procs[1].pid, **server_pids(database_url, redis_url)})
        rnd = random.Random(7)
        month = f"start={(now - timedelta(days=30)).isoformat()}&end={now.isoformat()}".replace("+", "%2B")
        ranges = [f"/v1/products/{p}/history?limit=500&{month}" for p in rnd.sample(data["sparse"], min(500, len(data["sparse"])))]
        stats = [f"/v1/products/{p}/statistics?months=12" for p in rnd.sample(data["sparse"], min(500, len(data["sparse"])))]

        scenarios = [("history first page (500 rows, 1 year)", api_port, firsts, headers),
                     ("history deep page (page 15, cursor)", api_port, deep, headers),
                     ("history 30-day range", api_port, ranges, headers),
                     ("statistics (12 months)", api_port, stats, headers),
                     ("bare Flask, constant first-page JSON", bare_port, ["/bare"], {})]
        for _name, port, paths, hdrs in scenarios:
            run(port, paths, hdrs, 100, args.clients)  # warm-up
        collected = {name: ([], 0.0) for name, *_ in scenarios}
        cpu = {name: {} for name, *_ in scenarios}
        per_round = {name: [] for name, *_ in scenarios}
        for _round in range(args.rounds):
            for name, port, paths, hdrs in scenarios:
                before = meter.read()
                latencies, elapsed = run(port, paths, hdrs, args.requests // args.rounds, args.clients)
                per_round[name].append(len(latencies) / elapsed)
                for label, used in meter.delta(before, meter.read()).items():
                    cpu[name][label] = cpu[name].get(label, 0.0) + used
                collected[name] = (collected[name][0] + latencies, collected[name][1] + elapsed)
        results = {name: summary(*value) for name, value in collected.items()}
        labels = [label for label in ("api", "bare", "postgres", "redis", "client") if label in cpu[scenarios[0][0]]]
        print(f"\n{'':40s} {'':35s}   CPU ms per request")
        print(f"{'scenario':40s} {'p50 ms':>8s} {'p95 ms':>8s} {'p99 ms':>8s} {'req/s':>8s}  "
              + " ".join(f"{label:>8s}" for label in labels) + f" {'total':>8s}")
        for name, r in results.items():
            count = len(collected[name][0])
            per = {label: cpu[name][label] / count * 1000 for label in labels}
            print(f"{name:40s} {r['p50']:8.2f} {r['p95']:8.2f} {r['p99']:8.2f} {r['rps']:8.0f}  "
                  + " ".join(f"{per[label]:8.2f}" for label in labels) + f" {sum(per.values()):8.2f}")
        first, deep_r = results[scenarios[0][0]], results[scenarios[1][0]]
        bare = results[scenarios[-1][0]]
        worst_p95 = max(results[s[0]]["p95"] for s in scenarios[:3])
        print(f"\nhistory p95 (worst of the three) {worst_p95:.2f} ms (target <= 25): "
              f"{'PASS' if worst_p95 <= 25 else 'FAIL'}")
        print(f"deep/first page p95 {deep_r['p95'] / first['p95']:.2f}x (target <= 1.5): "
              f"{'PASS' if deep_r['p95'] <= 1.5 * first['p95'] else 'FAIL'}")
        # Each round runs the first page right before the baseline: the two share the machine's mood, so the
        # median of the per-round ratios is steadier than the ratio of the totals (both printed).
        paired = [a / b for a, b in zip(per_round[scenarios[0][0]], per_round[scenarios[-1][0]])]
        ratio = statistics.median(paired)
        print(f"API first page / bare endpoint req/s {first['rps'] / bare['rps']:.2f} over all rounds; "
              f"median of {len(paired)} paired rounds {ratio:.2f} (range {min(paired):.2f}-{max(paired):.2f}) "
              f"(target >= 0.5): {'PASS' if ratio >= 0.5 else 'FAIL'}")
        print(f"({args.requests} requests per scenario in {args.rounds} alternating rounds over {args.clients} "
              f"keep-alive clients; "
              f"gunicorn 2 workers x gthread; {data['rows']:,} observations)")
        return 0
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(20)
        stack.close()


if __name__ == "__main__":
    sys.exit(main())
