"""History queries at scale, through the real API (gunicorn, authentication, rate limit).

Loads >= 10,000,000 observations with COPY — 100,000 products x 100 days, plus 10 "dense" products
observed every hour for a year (for first and deep pages of 500 rows) — aggregates the monthly
statistics, then measures, for:

  history first page   500 rows of a dense product's year (newest first)
  history deep page    page 15 of the same, by cursor
  history 30 days      a 30-day range of a random product
  statistics           12 months of a random product
  bare Flask           a constant JSON body: one real first page, parsed once, serialized by Flask on
                       every request (the ratio baseline: same bytes, no auth, no query)

two things, each in rounds that alternate the scenarios so the machine's moods hit all alike:

  latency      p50/p95/p99 with 2 keep-alive clients (light load), and the CPU each request cost in
               each process (gunicorn workers, Postgres, Redis, this client);
  throughput   requests/s with as many clients as the server handles at once (workers x threads = 8),
               so both servers are CPU-bound. With 2 clients neither is: each request of the API waits
               on Redis and Postgres in turn while a core idles, so req/s there measures the length of
               the chain, not capacity (it is printed too). A sweep on this 2-core machine: bare
               plateaus at 4 clients, the API at 8; more clients add queueing only.

Targets: history p95 <= 25 ms (light load); deep page within 1.5x of the first page; API first page
>= 50% of bare req/s (throughput, median of the paired rounds).

    .venv/bin/python bench/history_query.py [--products 100000] [--days 100] [--requests 3000]
                                            [--clients 2] [--saturate 8] [--rounds 10]
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
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
import psycopg  # noqa: E402
from psycopg.rows import dict_row  # noqa: E402

from api.auth import create_client  # noqa: E402
from core.redis_client import get_redis  # noqa: E402
from core.settings import load_settings  # noqa: E402
from db.embedded import servers  # noqa: E402
from db.migrate import migrate  # noqa: E402
from db.partitions import add_months, ensure_observation_partitions  # noqa: E402
from scheduler.retention import aggregate_completed_months  # noqa: E402

DENSE = 10
WORKERS, THREADS = 2, 4  # gunicorn workers (and gthread threads, if chosen), for the API and the baseline alike
BARE_APP = """
import json
import os
from flask import Flask
app = Flask("bare")
with open(os.environ["OBSRV_BENCH_BARE_BODY"]) as f:
    BODY = json.load(f)  # a real first page of the API
@app.get("/bare")
def bare():
    return BODY  # Flask serializes it, as any endpoint would
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load(conn, products: int, days: int) -> dict:
    """Clients, websites, products and observations; returns what the scenarios need."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    client_id, _row, key, _secret = create_client(conn, "bench")
    conn.execute(
        "INSERT INTO websites (client_id, name, domain, seed_urls, status) "
        "SELECT %s, 'site ' || i, 'site' || i || '.test', ARRAY['https://site' || i || '.test/'], 'active' "
        "FROM generate_series(1, 100) AS i",
        (client_id,),
    )
    conn.execute(
        """INSERT INTO products (website_id, url, identity, name, price, currency, status)
                    SELECT w.id, 'https://p.test/' || i, 'url:' || i, 'Product ' || i, 10 + (i %% 90), 'GBP', 'approved'
                      FROM generate_series(1, %s) AS i JOIN websites w ON w.name = 'site ' || (1 + i %% 100)""",
        (products + DENSE,),
    )
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
        with cur.copy(
            "COPY observations (product_id, observed_at, ok, price, currency, availability) FROM STDIN"
        ) as copy:
            days_at = [(now - timedelta(days=d)).isoformat() for d in range(days)]
            for n, product in enumerate(sparse):
                buf = io.StringIO()
                base = 10 + n % 90
                for d, at in enumerate(days_at):
                    buf.write(
                        f"{product}\t{at}\tt\t{base + (d % 7) * 0.25:.2f}\tGBP\t"
                        f"{'InStock' if (n + d) % 9 else 'OutOfStock'}\n"
                    )
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


def run(
    port: int, paths: list[str], headers: dict, requests: int, clients: int, per_connection: int = 20
) -> tuple[list[float], float]:
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
    """CPU seconds used by each server's process tree, and by this process, between two readings.

    The trees are walked at every reading: a pool opens connections (Postgres backends) under load and
    gunicorn may start its workers after the port answers, and a process born between two readings
    counts all its CPU to that interval.
    """

    def __init__(self, servers_by_label: dict[str, int]):
        self.roots = {label: psutil.Process(pid) for label, pid in servers_by_label.items()}

    @staticmethod
    def _cpu(proc) -> float:
        try:
            t = proc.cpu_times()
            return t.user + t.system
        except psutil.Error:
            return 0.0

    def read(self) -> dict[tuple[str, int], float]:
        used: dict[tuple[str, int], float] = {}
        for label, root in self.roots.items():
            try:
                tree = [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
            for proc in tree:
                used[(label, proc.pid)] = self._cpu(proc)
        used[("client", os.getpid())] = self._cpu(psutil.Process())
        return used

    @staticmethod
    def delta(before: dict, after: dict) -> dict[str, float]:
        """CPU seconds per label; processes gone since ``before`` are not counted (their last share is lost)."""
        spent: dict[str, float] = {}
        for (label, pid), seconds in after.items():
            spent[label] = spent.get(label, 0.0) + seconds - before.get((label, pid), 0.0)
        return spent


def summary(latencies: list[float], elapsed: float) -> dict:
    cuts = statistics.quantiles(latencies, n=100)
    return {"p50": cuts[49] * 1000, "p95": cuts[94] * 1000, "p99": cuts[98] * 1000, "rps": len(latencies) / elapsed}


def gunicorn(app: str, port: int, env: dict, cwd: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", str(ROOT / "api" / "gunicorn.conf.py"), app],
        cwd=cwd,
        env={**env, "OBSRV_PORT": str(port), "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"{app} did not start")


def measure(scenarios, meter, requests: int, rounds: int, clients: int) -> dict:
    """Every scenario ``requests`` times over ``rounds`` alternating rounds: latency summaries, req/s per
    round, and CPU ms per request by process label."""
    collected = {name: ([], 0.0) for name, *_ in scenarios}
    cpu = {name: {} for name, *_ in scenarios}
    per_round = {name: [] for name, *_ in scenarios}
    for _round in range(rounds):
        for name, port, paths, hdrs in scenarios:
            before = meter.read()
            latencies, elapsed = run(port, paths, hdrs, requests // rounds, clients)
            per_round[name].append(len(latencies) / elapsed)
            for label, used in meter.delta(before, meter.read()).items():
                cpu[name][label] = cpu[name].get(label, 0.0) + used
            collected[name] = (collected[name][0] + latencies, collected[name][1] + elapsed)
    per_request = {
        name: {label: used / len(collected[name][0]) * 1000 for label, used in cpu[name].items()} for name in cpu
    }
    return {
        "results": {name: summary(*value) for name, value in collected.items()},
        "per_round": per_round,
        "cpu": cpu,
        "per_request": per_request,
    }


def table(title: str, phase: dict, columns: tuple[str, ...], labels: list[str]) -> None:
    """One phase's results: the chosen columns, then CPU ms per request by process and in all."""
    heads = {"p50": "p50 ms", "p95": "p95 ms", "p99": "p99 ms", "rps": "req/s"}
    print(f"\n{title}")
    print(
        f"{'scenario':40s} "
        + " ".join(f"{heads[c]:>8s}" for c in columns)
        + "  "
        + " ".join(f"{label:>8s}" for label in labels)
        + f" {'CPU ms':>8s}"
    )
    for name, r in phase["results"].items():
        per = phase["per_request"][name]
        print(
            f"{name:40s} "
            + " ".join(f"{r[c]:8.0f}" if c == "rps" else f"{r[c]:8.2f}" for c in columns)
            + "  "
            + " ".join(f"{per[label]:8.2f}" for label in labels)
            + f" {sum(per[label] for label in labels):8.2f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=100)
    parser.add_argument("--requests", type=int, default=3000, help="per scenario, over all rounds")
    parser.add_argument("--clients", type=int, default=2, help="keep-alive clients for the latency phase")
    parser.add_argument(
        "--saturate",
        type=int,
        default=WORKERS * THREADS,
        help="keep-alive clients for the throughput phase (default: workers x threads)",
    )
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
        print(
            f"loaded {data['rows']:,} observations with COPY in {data['load_seconds']:.1f} s "
            f"({data['rows'] / data['load_seconds']:,.0f} rows/s); monthly statistics in {aggregated:.1f} s"
        )

        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "OBSRV_API_WORKERS": str(WORKERS),
            "OBSRV_API_THREADS": str(THREADS),
            "OBSRV_RATE_LIMIT": "100000000/hour",
            "OBSRV_LOG_LEVEL": "WARNING",
        }
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
        procs.append(
            gunicorn(
                "bare_app:app", bare_port, {**env, "OBSRV_BENCH_BARE_BODY": str(workdir / "bare_body.json")}, workdir
            )
        )
        meter = CpuMeter({"api": procs[0].pid, "bare": procs[1].pid, **server_pids(database_url, redis_url)})
        rnd = random.Random(7)
        month = f"start={(now - timedelta(days=30)).isoformat()}&end={now.isoformat()}".replace("+", "%2B")
        ranges = [
            f"/v1/products/{p}/history?limit=500&{month}"
            for p in rnd.sample(data["sparse"], min(500, len(data["sparse"])))
        ]
        stats = [
            f"/v1/products/{p}/statistics?months=12" for p in rnd.sample(data["sparse"], min(500, len(data["sparse"])))
        ]

        scenarios = [
            ("history first page (500 rows, 1 year)", api_port, firsts, headers),
            ("history deep page (page 15, cursor)", api_port, deep, headers),
            ("history 30-day range", api_port, ranges, headers),
            ("statistics (12 months)", api_port, stats, headers),
            ("bare Flask, constant first-page JSON", bare_port, ["/bare"], {}),
        ]
        for _name, port, paths, hdrs in scenarios:
            run(port, paths, hdrs, 100, args.clients)  # warm-up
        light = measure(scenarios, meter, args.requests, args.rounds, args.clients)
        busy = measure(scenarios, meter, args.requests, args.rounds, args.saturate)
        labels = [
            label for label in ("api", "bare", "postgres", "redis", "client") if label in light["cpu"][scenarios[0][0]]
        ]

        table(f"latency: {args.clients} keep-alive clients", light, ("p50", "p95", "p99", "rps"), labels)
        table(f"throughput: {args.saturate} keep-alive clients", busy, ("rps", "p50", "p95"), labels)

        first_name, deep_name, bare_name = scenarios[0][0], scenarios[1][0], scenarios[-1][0]
        first, deep_r = light["results"][first_name], light["results"][deep_name]
        worst_p95 = max(light["results"][s[0]]["p95"] for s in scenarios[:3])
        print(
            f"\nhistory p95 (worst of the three, {args.clients} clients) {worst_p95:.2f} ms (target <= 25): "
            f"{'PASS' if worst_p95 <= 25 else 'FAIL'}"
        )
        print(
            f"deep/first page p95 {deep_r['p95'] / first['p95']:.2f}x (target <= 1.5): "
            f"{'PASS' if deep_r['p95'] <= 1.5 * first['p95'] else 'FAIL'}"
        )
        # Each round runs the first page shortly before the baseline: the two share the machine's mood, so
        # the median of the per-round ratios is steadier than the ratio of the totals (both printed).
        for label, phase, judged in (
            (f"{args.clients} clients (latency-bound)", light, False),
            (f"{args.saturate} clients (throughput)", busy, True),
        ):
            paired = [a / b for a, b in zip(phase["per_round"][first_name], phase["per_round"][bare_name])]
            ratio = statistics.median(paired)
            verdict = f" (target >= 0.5): {'PASS' if ratio >= 0.5 else 'FAIL'}" if judged else ""
            print(
                f"API first page / bare req/s at {label}: median of {len(paired)} paired rounds {ratio:.2f} "
                f"(range {min(paired):.2f}-{max(paired):.2f}; all rounds "
                f"{phase['results'][first_name]['rps'] / phase['results'][bare_name]['rps']:.2f}){verdict}"
            )
        print(
            f"({args.requests} requests per scenario and phase in {args.rounds} alternating rounds; gunicorn "
            f"{WORKERS} workers, {load_settings(env)['OBSRV_API_WORKER_CLASS']} worker class (OBSRV_API_WORKER_CLASS); "
            f"{data['rows']:,} observations)"
        )
        return 0
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(20)
        stack.close()


if __name__ == "__main__":
    sys.exit(main())
