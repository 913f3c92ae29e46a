"""#12 (16): what gunicorn refuses before the app runs (an unreadable request line, a URI too long, headers
too large or malformed) is answered in the API's one error shape, as JSON, by the real gunicorn."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).parent / "gunicorn"


@pytest.fixture(scope="module")
def api(services):
    """gunicorn with the project's config on a socket this test bound (127.0.0.1, a free port): requests
    queue in its backlog until a worker is up, so nothing waits on the clock."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=64)
    env = services.env(OBSRV_API_WORKERS="1", OBSRV_API_THREADS="2", OBSRV_LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [
            str(GUNICORN),
            "-c",
            str(ROOT / "api" / "gunicorn.conf.py"),
            "--bind",
            f"fd://{listener.fileno()}",
            "api:create_app()",
        ],
        cwd=ROOT,
        env=env,
        pass_fds=[listener.fileno()],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    yield listener.getsockname()[:2]
    os.killpg(proc.pid, signal.SIGTERM)
    _out, err = proc.communicate(timeout=60)
    listener.close()
    assert b"Traceback" not in err, err.decode(errors="replace")[-3000:]


def exchange(address, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``raw`` as it is; read the answer until the server closes: (status, headers, body)."""
    with socket.create_connection(address, timeout=60) as sock:
        sock.sendall(raw)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


HOST = b"Host: 127.0.0.1\r\n"


@pytest.mark.parametrize(
    "raw, status",
    [
        (b"GARBAGE\r\n\r\n", 400),  # no request line
        (b"GET /health/live HTTP/1.1 extra\r\n" + HOST + b"\r\n", 400),
        (b"GET /health/live HTTP/9.9\r\n" + HOST + b"\r\n", 400),  # no such version
        (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\n" + HOST + b"\r\n", 414),  # over limit_request_line
        (b"GET /health/live HTTP/1.1\r\n" + HOST + b"X-Big: " + b"a" * 9000 + b"\r\n\r\n", 431),
        (b"GET /health/live HTTP/1.1\r\n" + HOST + b"".join(b"X-%d: 1\r\n" % i for i in range(120)) + b"\r\n", 431),
        (b"GET /health/live HTTP/1.1\r\n" + HOST + b"Bad Header: 1\r\n\r\n", 400),  # a space in a name
    ],
    ids=["garbage", "extra-field", "version", "uri-414", "header-size-431", "header-count-431", "header-name"],
)
def test_gunicorn_refusals_are_the_error_shape(api, raw, status):
    code, headers, body = exchange(api, raw)
    assert code == status
    assert headers["content-type"] == "application/json", (headers, body[:200])
    error = json.loads(body)
    assert set(error) == {"code", "status", "message", "request_id"}
    assert error["code"] == status and error["status"] and error["message"]
    assert error["request_id"] == headers["x-request-id"]
    assert int(headers["content-length"]) == len(body)


def test_the_app_still_answers_through_the_same_server(api):
    code, headers, body = exchange(api, b"GET /health/live HTTP/1.1\r\n" + HOST + b"Connection: close\r\n\r\n")
    assert code == 200 and json.loads(body) == {"status": "ok", "checks": {}}
    code, headers, body = exchange(api, b"TRACE /health/live HTTP/1.1\r\n" + HOST + b"Connection: close\r\n\r\n")
    assert code == 405 and "GET" in headers["allow"] and json.loads(body)["code"] == 405
