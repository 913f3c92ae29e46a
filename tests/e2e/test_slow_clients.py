"""Slow clients cannot take the API down (issue 12, defect 17).

The API runs as `make run` runs it: the Procfile's `api:` command (gunicorn with api/gunicorn.conf.py and
the project's defaults, 2 workers), on a free 127.0.0.1 port against the suite's Postgres and Redis.
32 connections then send their requests slowly and never finish them — 16 stop in the headers, 16 in a
JSON body — while each keeps trickling a byte every half second (never idle). Probes must still be
answered, and the server must close every slow connection by itself (the header and body timeouts are
set short here: 3 s). Under gunicorn's gthread worker (2 workers x 4 threads) the 32 connections held
every thread and no probe got an answer.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest
import requests

from tests.conftest import ROOT, bearer
from tests.support.waiting import pause, wait_until

pytestmark = pytest.mark.slow

TIMEOUT = 3  # OBSRV_API_HEADER_TIMEOUT and OBSRV_API_BODY_TIMEOUT for this test
HEADERS = b"GET /health/live HTTP/1.1\r\nHost: test\r\nX-Slow: "
BODY = b"POST /v1/websites HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def procfile(name: str) -> str:
    """The command `make run` (honcho) runs for ``name``."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no {name} in the Procfile")


@pytest.fixture
def served_api(services, tmp_path):
    port = free_port()
    env = services.env(
        OBSRV_PORT=str(port),
        OBSRV_API_HEADER_TIMEOUT=str(TIMEOUT),
        OBSRV_API_BODY_TIMEOUT=str(TIMEOUT),
        OBSRV_LOG_LEVEL="INFO",
    )
    log_path = tmp_path / "api.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            ["sh", "-c", procfile("api")],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"

    def ready():
        assert proc.poll() is None, log_path.read_text()
        with contextlib.suppress(requests.RequestException):
            return requests.get(base + "/health/ready", timeout=2).status_code == 200

    try:
        wait_until(ready, 60, "the API")
        yield base, port, log_path
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


class SlowClients:
    """Connections that each sent ``first`` and then trickle one byte every half second, until the
    server closes them; what the server answered before closing is kept."""

    def __init__(self, port: int, first: bytes, count: int):
        self.socks = []
        for _ in range(count):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(first)
            s.setblocking(False)
            self.socks.append(s)
        self.answers = dict.fromkeys(range(count), b"")
        self.closed: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        sel = selectors.DefaultSelector()
        for i, s in enumerate(self.socks):
            sel.register(s, selectors.EVENT_READ, i)
        next_byte = time.monotonic() + 0.5
        while not self._stop.is_set() and len(self.closed) < len(self.socks):
            for key, _ in sel.select(timeout=max(0.0, next_byte - time.monotonic())):
                try:
                    data = key.fileobj.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                with self._lock:
                    if data:
                        self.answers[key.data] += data
                    else:
                        self.closed.add(key.data)
                        sel.unregister(key.fileobj)
            if time.monotonic() >= next_byte:
                next_byte += 0.5
                for i, s in enumerate(self.socks):
                    if i not in self.closed:
                        with contextlib.suppress(OSError):
                            s.send(b"a")
        sel.close()

    def all_closed(self) -> bool:
        with self._lock:
            return len(self.closed) == len(self.socks)

    def stop(self):
        self._stop.set()
        self._thread.join(10)
        for s in self.socks:
            s.close()


def probe(base: str) -> int | None:
    try:
        return requests.get(base + "/health/ready", timeout=5).status_code
    except requests.RequestException:
        return None


def hold_slow_clients_and_probe(base: str, port: int, key: str) -> tuple[SlowClients, SlowClients]:
    """32 slow connections held while probes and ordinary requests are answered; returns them once the
    server has closed every one."""
    headers = SlowClients(port, HEADERS, 16)
    bodies = SlowClients(port, BODY, 16)
    try:
        # 10 probes at once while the 32 slow connections are held: every one answered
        results: list[int | None] = []
        threads = [threading.Thread(target=lambda: results.append(probe(base))) for _ in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == [200] * 10, results

        # a body sent in pieces, but complete in time, reaches the view (the body read waits for it)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            body = json.dumps({"name": ""}).encode()
            s.sendall(
                b"POST /v1/websites HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                + f"Authorization: Bearer {key}\r\nContent-Length: {len(body)}\r\n"
                "X-Request-ID: slow-but-in-time\r\nConnection: close\r\n\r\n".encode()
                + body[:3]
            )
            pause(0.3)  # the rest of the body comes later (a pause, within the body timeout)
            s.sendall(body[3:])
            answer = b"".join(iter(lambda: s.recv(65536), b""))
        head, _, payload = answer.partition(b"\r\n\r\n")
        assert head.split()[1] in (b"400", b"422"), answer[:300]
        error = json.loads(payload)
        assert "name" in json.dumps(error["errors"]) and error["request_id"] == "slow-but-in-time"

        # a body over the limit is refused, in the one error shape
        big = requests.post(
            base + "/v1/websites",
            data=b"x" * (1024 * 1024 + 1),
            headers={"Content-Type": "application/json", **bearer(key)},
            timeout=10,
        )
        assert big.status_code == 413 and big.json()["code"] == 413, big.text[:300]

        # the server closes every slow connection by itself, though each keeps sending
        wait_until(lambda: headers.all_closed() and bodies.all_closed(), 60, "the server to close the slow connections")
    finally:
        headers.stop()
        bodies.stop()
    assert requests.get(base + "/health/live", timeout=5).status_code == 200
    return headers, bodies


def timed_out(answer: bytes) -> dict:
    """The 408 a slow connection got before it was closed, in the one error shape."""
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer[:200]
    error = json.loads(payload)
    assert error["code"] == 408 and error["request_id"] and "did not arrive" in error["message"], error
    return error


def test_slow_clients_hold_no_thread_and_are_cut(served_api, new_client):
    base, port, log_path = served_api
    _client_id, key = new_client()
    headers, bodies = hold_slow_clients_and_probe(base, port, key)

    assert all(not answer for answer in headers.answers.values())  # cut in the headers: nothing to answer
    for answer in bodies.answers.values():  # cut in the body: a 408
        timed_out(answer)

    # each 408 is logged like any request, with its request id
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    logged = [line for line in lines if line.get("message") == "request" and line.get("status") == 408]
    assert len(logged) == 16 and all(line.get("request_id") for line in logged)


@pytest.fixture
def front(served_api, tmp_path):
    """docker-compose's front (api/haproxy.cfg, as the `front` service runs it) before the served API."""
    if shutil.which("haproxy") is None:
        pytest.skip("haproxy not installed (.ci/run installs Debian's)")
    _base, api_port, _log = served_api
    port = free_port()
    log_path = tmp_path / "front.log"
    env = {**os.environ, "OBSRV_FRONT_BIND": f"127.0.0.1:{port}", "OBSRV_API_ADDR": f"127.0.0.1:{api_port}"}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            ["haproxy", "-db", "-f", str(ROOT / "api" / "haproxy.cfg")],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"

    def ready():
        assert proc.poll() is None, log_path.read_text()
        with contextlib.suppress(requests.RequestException):
            return requests.get(base + "/health/ready", timeout=2).status_code == 200

    try:
        wait_until(ready, 30, "the front")
        yield base, port, log_path
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def test_compose_front_takes_whole_requests_in_bounded_time(front, new_client):
    base, port, log_path = front
    _client_id, key = new_client()
    headers, bodies = hold_slow_clients_and_probe(base, port, key)

    # the front cut them all with a 408: in the one error shape for a slow body; haproxy 2.6 answers
    # headers that never completed with its own page (see api/haproxy.cfg)
    assert all(answer.startswith(b"HTTP/1.1 408 ") for answer in headers.answers.values())
    for answer in bodies.answers.values():
        timed_out(answer)

    # and logged each as one JSON line (HAProxy writes a line once it has closed the connection: the
    # last ones may come a moment after the client saw the close)
    def cut():
        lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
        return [line for line in lines if line["status"] == 408]

    wait_until(
        lambda: len(cut()) >= 32, 10, lambda: f"the front to log the 32 slow connections: {log_path.read_text()}"
    )
    assert len(cut()) == 32, cut()[:3]


def test_an_oversized_body_gets_its_413_through_the_front(front, new_client):
    """The API refuses a body over OBSRV_API_MAX_BODY_BYTES before reading it; had it closed the
    connection with the body unread, the kernel's reset would destroy the 413 on its way (one try in
    four through HAProxy got "connection closed without response")."""
    base, _port, _log = front
    _client_id, key = new_client()
    for _ in range(12):
        big = requests.post(
            base + "/v1/websites",
            data=b"x" * (1024 * 1024 + 1),
            headers={"Content-Type": "application/json", **bearer(key)},
            timeout=10,
        )
        assert big.status_code == 413 and big.json()["code"] == 413, big.text[:300]
