"""`make run`'s path, for real: embedded servers, api + worker + scheduler, Ctrl-C.

Two checkouts' worth of the service (different OBSRV_PORT and run dirs, no
DATABASE_URL / REDIS_URL) run side by side; the CLI's key authenticates; the
docs render; Ctrl-C (SIGINT to the foreground process group, as a terminal
sends it) leaves no process behind.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import psycopg
import pytest
import redis
import requests
from rq import Worker

from tests.conftest import ROOT, bearer
from tests.support.waiting import wait_until

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    """One `make run` (the same command line the Makefile runs)."""

    def __init__(self, run_dir: Path, port: int, **extra_env: str):
        self.run_dir, self.port = run_dir, port
        self.base = f"http://127.0.0.1:{port}"
        env = {
            k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL") and not k.startswith("OBSRV_")
        }
        env.update(
            OBSRV_PORT=str(port),
            OBSRV_RUN_DIR=str(run_dir),
            OBSRV_API_WORKERS="1",
            OBSRV_SCHEDULER_TICK_SECONDS="1",
            PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        )
        env.update(extra_env)
        self.env = env
        self.log = open(run_dir.parent / f"run-{port}-{time.monotonic_ns()}.log", "wb")  # noqa: SIM115 -- closed in stop()
        self.proc = subprocess.Popen(
            [
                str(BIN / "python"),
                "-m",
                "db.embedded",
                "--",
                str(BIN / "honcho"),
                "--no-colour",
                "-e",
                os.devnull,
                "start",
                "-f",
                "Procfile",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")

    def wait_ready(self, timeout: float = 120) -> None:
        def ready() -> bool:
            assert self.proc.poll() is None, f"make run exited early:\n{self.output()}"
            try:
                return requests.get(self.base + "/health/ready", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_until(ready, timeout, lambda: f"/health/ready:\n{self.output()}", interval=0.3)

    def processes(self) -> list[psutil.Process]:
        """The runner, its descendants, and the servers it started (postgres daemonizes)."""
        found = {}
        try:
            root = psutil.Process(self.proc.pid)
            found[root.pid] = root
            for child in root.children(recursive=True):
                found[child.pid] = child
        except psutil.NoSuchProcess:
            pass
        for proc in psutil.process_iter(["cmdline"]):
            if any(str(self.run_dir) in part for part in proc.info["cmdline"] or []):
                found[proc.pid] = proc
        return list(found.values())

    def ctrl_c(self, timeout: float = 60) -> int:
        os.killpg(self.proc.pid, signal.SIGINT)
        return self.proc.wait(timeout)


@pytest.fixture
def two_services(tmp_path):
    started = []
    for name in ("a", "b"):
        run_dir = tmp_path / name / ".run"
        run_dir.mkdir(parents=True)
        started.append(Service(run_dir, free_port()))
    yield started
    for service in started:
        if service.proc.poll() is None:
            os.killpg(service.proc.pid, signal.SIGKILL)
        for proc in service.processes():
            proc.kill()


def test_make_run_side_by_side_then_ctrl_c_leaves_nothing(two_services):
    a, b = two_services
    for service in two_services:
        service.wait_ready()
    assert "docs" in a.output() and f"{a.base}/docs" in a.output()

    # each has its own embedded servers
    services_a = json.loads((a.run_dir / "services.json").read_text())
    services_b = json.loads((b.run_dir / "services.json").read_text())
    assert services_a["DATABASE_URL"] != services_b["DATABASE_URL"]
    assert services_a["REDIS_URL"] != services_b["REDIS_URL"]

    # the docs render and the OpenAPI document is served
    docs = requests.get(a.base + "/docs", timeout=5)
    assert docs.status_code == 200 and "swagger-ui" in docs.text
    assert requests.get(a.base + "/docs/static/swagger-ui-bundle.js", timeout=5).status_code == 200
    assert requests.get(a.base + "/openapi.json", timeout=5).json()["info"]["title"] == "Obsrv"

    # the README's CLI finds the running service's database by itself
    cli = subprocess.run(
        [str(BIN / "python"), "-m", "api", "create-client", "Demo Co"],
        cwd=ROOT,
        env=a.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 0, cli.stderr
    key = next(line.split()[1] for line in cli.stdout.splitlines() if line.startswith("api_key:"))
    assert "obsrv_live_" not in cli.stderr
    listed = requests.get(a.base + "/v1/auth/keys", headers=bearer(key), timeout=5)
    assert listed.status_code == 200 and listed.json()[0]["scopes"] == ["read", "write", "admin"]
    assert requests.get(b.base + "/v1/auth/keys", headers=bearer(key), timeout=5).status_code == 401

    # the webhook worker listens on its queue only, the crawler runs, the scheduler ticks
    conn = redis.Redis.from_url(services_a["REDIS_URL"])
    wait_until(
        lambda: Worker.all(connection=conn) and conn.exists("obsrv:scheduler:heartbeat"),
        30,
        lambda: f"the webhook worker and the scheduler's heartbeat:\n{a.output()}",
        interval=0.3,
    )
    workers = Worker.all(connection=conn)
    assert len(workers) == 1 and workers[0].queue_names() == ["webhooks"]
    assert any("crawler" in p.cmdline() for p in a.processes()), "no crawler process"
    assert conn.exists("obsrv:scheduler:heartbeat")
    conn.close()

    # secrets never reach the logs
    assert key not in a.output()

    # Ctrl-C stops everything, each service independently
    before = a.processes()
    assert len(before) >= 6  # runner, honcho, gunicorn (+worker), crawler, rq worker, scheduler, servers
    a.ctrl_c()
    gone, alive = psutil.wait_procs(before, timeout=30)
    assert not alive, f"left behind: {[(p.pid, p.cmdline()) for p in alive]}\n{a.output()}"
    assert not (a.run_dir / "services.json").exists()
    assert requests.get(b.base + "/health/ready", timeout=5).status_code == 200  # b unaffected

    before = b.processes()
    b.ctrl_c()
    gone, alive = psutil.wait_procs(before, timeout=30)
    assert not alive, f"left behind: {[(p.pid, p.cmdline()) for p in alive]}"


def _running_discovery(service: Service, shop, key_env: dict) -> str:
    """Register the shop through the API (6 requests/min) and wait until its discovery runs; the DB URL."""
    cli = subprocess.run(
        [str(BIN / "python"), "-m", "api", "create-client", "Ctrl-C Co"],
        cwd=ROOT,
        env=key_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    key = next(line.split()[1] for line in cli.stdout.splitlines() if line.startswith("api_key:"))
    created = requests.post(
        service.base + "/v1/websites",
        headers=bearer(key),
        timeout=10,
        json={"name": "slow shop", "seed_urls": [shop.url("/")], "crawl_rate_per_minute": 6},
    )
    assert created.status_code == 202, created.text
    database_url = json.loads((service.run_dir / "services.json").read_text())["DATABASE_URL"]
    with psycopg.connect(database_url, autocommit=True) as conn:
        wait_until(
            lambda: conn.execute("SELECT pages_fetched FROM crawl_runs WHERE status = 'running'").fetchone(),
            60,
            lambda: f"the discovery to start:\n{service.output()}",
            interval=0.3,
        )
    return database_url


def test_ctrl_c_mid_crawl_stops_everything_and_the_next_start_takes_the_crawl_up(tmp_path):
    """#12 (3, 19): a terminal's Ctrl-C while a discovery waits out its politeness delay stops the whole
    group without honcho having to SIGKILL anyone; the run is closed as cancelled and its work handed back.
    A `make run` started while the first is still stopping waits for it, then starts its own servers."""
    from tests.support.shop import Shop

    run_dir = tmp_path / ".run"
    run_dir.mkdir()
    port = free_port()
    with Shop.books() as shop:
        first = Service(run_dir, port, OBSRV_ALLOW_PRIVATE_TARGETS="true")
        first.wait_ready()
        second = None
        try:
            database_url = _running_discovery(first, shop, first.env)
            before = first.processes()
            os.killpg(first.proc.pid, signal.SIGINT)
            second = Service(run_dir, port, OBSRV_ALLOW_PRIVATE_TARGETS="true")  # at once: the first is stopping
            gone, alive = psutil.wait_procs(before, timeout=30)
            assert not alive, f"left behind: {[(p.pid, p.cmdline()) for p in alive]}\n{first.output()}"
            assert "sending SIGKILL" not in first.output(), first.output()
            second.wait_ready()
            assert "waiting for it to stop" in second.output()
            with psycopg.connect(database_url, autocommit=True) as conn:
                first_run = conn.execute("SELECT status FROM crawl_runs ORDER BY id LIMIT 1").fetchone()
                assert first_run == ("cancelled",)
                wait_until(  # the handed-back discovery is taken up again
                    lambda: conn.execute("SELECT count(*) FROM crawl_runs WHERE status = 'running'").fetchone()[0],
                    60,
                    lambda: f"the discovery to be taken up again:\n{second.output()}",
                    interval=0.3,
                )
            services_now = json.loads((run_dir / "services.json").read_text())
            assert redis.Redis.from_url(services_now["REDIS_URL"]).ping()
        finally:
            for service in (first, second):
                if service is not None and service.proc.poll() is None:
                    os.killpg(service.proc.pid, signal.SIGINT)
                    try:
                        service.proc.wait(30)
                    except subprocess.TimeoutExpired:
                        os.killpg(service.proc.pid, signal.SIGKILL)
                if service is not None:
                    for proc in service.processes():
                        proc.kill()
