"""Slow clients against the real API: do probes still get answers, and does the server cut the slow ones?

Starts Postgres and Redis (embedded unless DATABASE_URL / REDIS_URL are set), migrates, and runs the API
as `make run` does (`gunicorn -c api/gunicorn.conf.py 'api:create_app()'`, the project's defaults: 2
workers) on a free 127.0.0.1 port. Then, for N = 16, 64, 256 slow connections of each kind:

  headers  a request line and part of the headers, then one more byte every second (a slowloris:
           never idle, never complete)
  body     complete headers of a JSON POST announcing a 100,000-byte body, then one byte of it every
           second

it opens the N connections, sends 10 probes at once (`GET /health/ready`, which reads Postgres and
Redis, one new connection each, 5 s deadline) and counts those answered 200, then watches the slow
connections for up to 20 s after they opened and notes when the server closed each one (and the status
it answered, if any).

Baseline, in the same run: the probes with no slow connection (latency), and the API's ordinary
throughput — GET /health/ready from 8 keep-alive clients — so a server choice that cuts slow clients
can be checked to cost nothing big. Target: 10 of 10 probes answered with every N, and every slow
connection closed by the server within the watch.

    .venv/bin/python bench/slow_clients.py [--counts 16,64,256] [--watch 20] [--worker-class gthread ...]

``--worker-class`` (repeatable) runs the whole measurement once per class through OBSRV_API_WORKER_CLASS,
so the project's choice and an alternative are measured in one run.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from db.embedded import servers  # noqa: E402
from db.migrate import migrate  # noqa: E402

PROBES = 10
PROBE_DEADLINE = 5.0
PROBE_PATH = "/health/ready"
FIRST = {
    "headers": b"GET /health/live HTTP/1.1\r\nHost: bench\r\nX-Slow: ",
    "body": (
        b"POST /v1/websites HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100000\r\n\r\n{"
    ),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_api(port: int, env: dict) -> subprocess.Popen:
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", "api/gunicorn.conf.py", "api:create_app()"],
        cwd=ROOT,
        env={**env, "OBSRV_PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the API exited with {proc.returncode}")
        with contextlib.suppress(OSError):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", PROBE_PATH)
            if conn.getresponse().status == 200:
                conn.close()
                return proc
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("the API did not become ready")


class SlowConnections:
    """N sockets that trickle a byte each second; notes when (and how) the server closes each one."""

    def __init__(self, port: int, kind: str, count: int):
        self.opened = time.monotonic()
        self.socks = []
        for _ in range(count):
            s = socket.create_connection(("127.0.0.1", port))
            s.setblocking(False)
            s.send(FIRST[kind])
            self.socks.append(s)
        self.closed_after: dict[int, float] = {}
        self.answers: dict[int, bytes] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        sel = selectors.DefaultSelector()
        for i, s in enumerate(self.socks):
            sel.register(s, selectors.EVENT_READ, i)
        next_trickle = time.monotonic() + 1.0
        while not self._stop.is_set() and len(self.closed_after) < len(self.socks):
            for key, _ in sel.select(timeout=max(0.0, next_trickle - time.monotonic())):
                i = key.data
                try:
                    data = key.fileobj.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if data:
                    self.answers[i] = self.answers.get(i, b"") + data
                    continue
                self.closed_after[i] = time.monotonic() - self.opened
                sel.unregister(key.fileobj)
            if time.monotonic() >= next_trickle:
                next_trickle += 1.0
                for i, s in enumerate(self.socks):
                    if i not in self.closed_after:
                        with contextlib.suppress(OSError):
                            s.send(b"a")
        sel.close()

    def watch(self, until: float) -> None:
        """Until every connection is closed by the server, or ``until`` seconds after they opened."""
        self._thread.join(max(0.0, self.opened + until - time.monotonic()))

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for s in self.socks:
            s.close()

    def statuses(self) -> dict[str, int]:
        counted: dict[str, int] = {}
        for i in self.closed_after:
            answer = self.answers.get(i, b"")
            status = answer.split(b" ", 2)[1].decode() if answer.startswith(b"HTTP/") else "none"
            counted[status] = counted.get(status, 0) + 1
        return counted


def probes(port: int) -> tuple[int, list[float]]:
    """PROBES requests at once, each on a new connection: (answered 200 within the deadline, latencies)."""
    latencies: list[float] = []
    lock = threading.Lock()

    def one():
        started = time.monotonic()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=PROBE_DEADLINE)
            conn.request("GET", PROBE_PATH)
            response = conn.getresponse()
            response.read()
            conn.close()
        except OSError:
            return
        elapsed = time.monotonic() - started
        if response.status == 200 and elapsed <= PROBE_DEADLINE:
            with lock:
                latencies.append(elapsed)

    threads = [threading.Thread(target=one) for _ in range(PROBES)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(latencies), latencies


def throughput(port: int, clients: int = 8, requests: int = 4000) -> float:
    """req/s of GET PROBE_PATH from ``clients`` keep-alive clients."""
    errors = []

    def worker(n: int):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for _ in range(n):
            conn.request("GET", PROBE_PATH)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                errors.append(response.status)
            if response.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.close()

    threads = [threading.Thread(target=worker, args=(requests // clients,)) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"throughput run: {len(errors)} non-200 answers, e.g. {errors[:3]}")
    return requests // clients * clients / elapsed


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.0f} ms" if values else "-"


def measure(port: int, counts: list[int], watch: float) -> tuple[bool, list[dict]]:
    rows = []
    for kind in ("headers", "body"):
        for count in counts:
            slow = SlowConnections(port, kind, count)
            time.sleep(1.0)  # let the server accept them and start reading (the bench's only settle)
            answered, latencies = probes(port)
            slow.watch(watch)
            cut = sorted(slow.closed_after.values())
            rows.append(
                {
                    "kind": kind,
                    "count": count,
                    "answered": answered,
                    "latency": ms(latencies),
                    "cut": len(cut),
                    "cut_median": statistics.median(cut) if cut else None,
                    "cut_max": max(cut) if cut else None,
                    "statuses": slow.statuses(),
                }
            )
            slow.close()
            # the server frees what the slow connections held once they are gone
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and probes(port)[0] < PROBES:
                pass
    passed = all(r["answered"] == PROBES and r["cut"] == r["count"] for r in rows)
    return passed, rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", default="16,64,256", help="slow connections per scenario")
    parser.add_argument("--watch", type=float, default=20.0, help="seconds to watch the slow connections")
    parser.add_argument(
        "--worker-class",
        action="append",
        default=[],
        help="OBSRV_API_WORKER_CLASS to measure (repeatable; default: the project's default)",
    )
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]

    workdir = Path(tempfile.mkdtemp(prefix="obsrv-bench-slow-"))
    results = 0
    with servers(workdir, "obsrv_bench_slow") as (database_url, redis_url):
        migrate(database_url)
        env = {k: v for k, v in os.environ.items() if not k.startswith("OBSRV_")}
        env.update(DATABASE_URL=database_url, REDIS_URL=redis_url, OBSRV_LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT))
        for worker_class in args.worker_class or [None]:
            run_env = dict(env, **({"OBSRV_API_WORKER_CLASS": worker_class} if worker_class else {}))
            label = worker_class or "project default"
            port = free_port()
            proc = start_api(port, run_env)
            try:
                idle, idle_latencies = probes(port)
                rps = throughput(port)
                if idle != PROBES:
                    raise SystemExit(f"{label}: only {idle} of {PROBES} probes answered with no slow client")
                passed, rows = measure(port, counts, args.watch)
            finally:
                proc.terminate()
                proc.wait(30)
            print(f"\n== API worker class: {label} (OBSRV_API_WORKERS=2)")
            print(
                f"baseline: {idle}/{PROBES} probes answered with no slow connection, median {ms(idle_latencies)}; "
                f"ordinary throughput {rps:,.0f} req/s ({PROBE_PATH}, 8 keep-alive clients)"
            )
            print(
                f"{'slow kind':9s} {'N':>4s} {'probes':>7s} {'ratio':>6s} {'probe p50':>10s} "
                f"{'cut by server':>14s} {'cut after (median/max)':>23s}  answers"
            )
            for r in rows:
                after = f"{r['cut_median']:.1f} / {r['cut_max']:.1f} s" if r["cut"] else f"not in {args.watch:.0f} s"
                print(
                    f"{r['kind']:9s} {r['count']:4d} {r['answered']:>4d}/{PROBES} {r['answered'] / PROBES:6.2f} "
                    f"{r['latency']:>10s} {r['cut']:>7d}/{r['count']:<6d} {after:>23s}  "
                    f"{', '.join(f'{k}: {v}' for k, v in sorted(r['statuses'].items())) or '-'}"
                )
            print(
                f"target: {PROBES}/{PROBES} probes with every N and every slow connection cut within "
                f"{args.watch:.0f} s: {'PASS' if passed else 'FAIL'}"
            )
            results |= 0 if passed else 1
    return results


if __name__ == "__main__":
    sys.exit(main())
