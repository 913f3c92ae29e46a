"""What authentication and rate limiting cost per request, through the real API.

Starts Postgres and Redis (embedded unless DATABASE_URL / REDIS_URL are set),
migrates, creates a client, runs the API under gunicorn exactly as `make run`
does (one worker) and measures, in the same run, with one keep-alive client:

  baseline  GET /health/live            (no key, no limiter, no database)
  auth      GET /v1/auth/keys           (Bearer key checked — by prefix in Postgres, then from the
                                         process's memory, confirmed by the key epoch the rate
                                         limit's Redis trip reads — scope check, rate limit
                                         counted, key list from Postgres)

Rounds alternate between the two so machine noise hits both alike; the
median round is reported. Target: auth costs < 1 ms more per request.

    .venv/bin/python bench/auth_overhead.py [--requests 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from psycopg.rows import dict_row  # noqa: E402

from api.auth import create_client  # noqa: E402
from db.embedded import servers  # noqa: E402
from db.migrate import migrate  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure(port: int, path: str, headers: dict, n: int) -> float:
    """Requests per second of n sequential keep-alive requests."""
    conn = http.client.HTTPConnection("127.0.0.1", port)
    started = time.perf_counter()
    for _ in range(n):
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise SystemExit(f"{path}: HTTP {response.status}")
    elapsed = time.perf_counter() - started
    conn.close()
    return n / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per endpoint per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="obsrv-bench-"))
    stack = contextlib.ExitStack()
    database_url, redis_url = stack.enter_context(servers(workdir, "obsrv_bench"))
    api = None
    try:
        migrate(database_url)
        with psycopg.connect(database_url, row_factory=dict_row) as conn:
            _client_id, _row, key, _secret = create_client(conn, "bench")
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "OBSRV_PORT": str(port),
            "OBSRV_API_WORKERS": "1",
            "OBSRV_RATE_LIMIT": "100000000/hour",
            "OBSRV_KEY_TOUCH_SECONDS": "60",
        }
        api = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "-c", "api/gunicorn.conf.py", "api:create_app()"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                measure(port, "/health/ready", {}, 1)
                break
            except (OSError, SystemExit):
                if time.monotonic() > deadline:
                    raise SystemExit("API did not come up") from None
                time.sleep(0.2)

        auth_headers = {"Authorization": f"Bearer {key}"}
        probe = http.client.HTTPConnection("127.0.0.1", port)
        probe.request("GET", "/v1/auth/keys", headers=auth_headers)
        response = probe.getresponse()
        response.read()
        assert response.getheader("X-RateLimit-Limit"), "the auth path must be rate limited"
        probe.close()

        measure(port, "/health/live", {}, 300)  # warm-up
        measure(port, "/v1/auth/keys", auth_headers, 300)
        base_rounds, auth_rounds = [], []
        for _ in range(args.rounds):
            base_rounds.append(measure(port, "/health/live", {}, args.requests))
            auth_rounds.append(measure(port, "/v1/auth/keys", auth_headers, args.requests))
        base, auth = statistics.median(base_rounds), statistics.median(auth_rounds)
        extra_ms = 1000 / auth - 1000 / base
        print(f"baseline GET /health/live  (unauthenticated): {base:8.0f} req/s  {1000 / base:.3f} ms/req")
        print(f"auth     GET /v1/auth/keys (key + rate limit): {auth:8.0f} req/s  {1000 / auth:.3f} ms/req")
        print(f"ratio auth/baseline: {auth / base:.2f}")
        print(f"auth path cost: {extra_ms:.3f} ms/request (target < 1 ms): {'PASS' if extra_ms < 1 else 'FAIL'}")
        print(
            f"({args.rounds} alternating rounds of {args.requests} sequential keep-alive requests, median round; "
            f"gunicorn gthread, 1 worker)"
        )
        return 0
    finally:
        if api is not None:
            api.terminate()
            api.wait(20)
        stack.close()


if __name__ == "__main__":
    sys.exit(main())
