"""A webhook receiver on 127.0.0.1 for tests and benchmarks: records every request, answers as scripted."""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.support.waiting import wait_until


class Receiver:
    """``Receiver(statuses=[500, 500])`` answers 500 twice, then ``default`` (200) from then on.

    ``hold``: an Event each request waits for before it is answered (a receiver that hangs until the test lets
    it go); ``trickle``: seconds between the bytes of an answer that never ends while ``hold`` is unset (a
    receiver that keeps the connection busy without ever answering). ``arrived`` is set at each request;
    ``max_in_flight`` counts the most requests of one event (``webhook-id``) ever handled at the same time.
    """

    def __init__(
        self,
        statuses: list[int] | None = None,
        default: int = 200,
        delay: float = 0.0,
        headers: dict | None = None,
        hold: threading.Event | None = None,
        trickle: float | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        self.statuses = list(statuses or [])
        self.default = default
        self.delay = delay
        self.headers = headers or {}
        self.hold = hold
        self.trickle = trickle
        self.arrived = threading.Event()
        self.received: list[dict] = []
        self.in_flight: dict[str, int] = {}
        self.max_in_flight = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in two sends: do not hold the second

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                arrived = time.time()
                event_id = self.headers.get("webhook-id") or ""
                with receiver.lock:
                    status = receiver.statuses.pop(0) if receiver.statuses else receiver.default
                    receiver.received.append(
                        {
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                            "body": body,
                            "at": arrived,
                            "status": status,
                        }
                    )
                    receiver.in_flight[event_id] = receiver.in_flight.get(event_id, 0) + 1
                    receiver.max_in_flight = max(receiver.max_in_flight, receiver.in_flight[event_id])
                receiver.arrived.set()
                try:
                    self._answer(status)
                except OSError:  # the client gave up (its timeout): that is what slow receivers see
                    self.close_connection = True
                finally:
                    with receiver.lock:
                        receiver.in_flight[event_id] -= 1

            def _answer(self, status):
                if receiver.trickle:
                    self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                    hold = receiver.hold or threading.Event()
                    while not hold.is_set():
                        self.wfile.write(b"X")  # one byte of a header line that never ends
                        self.wfile.flush()
                        hold.wait(receiver.trickle)
                    self.wfile.write(b"-Trickle: done\r\nContent-Length: 0\r\n\r\n")
                    return
                if receiver.hold is not None:
                    deadline = time.monotonic() + 120
                    while not receiver.hold.wait(0.05) and time.monotonic() < deadline:
                        if self._client_gone():  # it gave up: this request is no longer in flight
                            raise ConnectionResetError("the client closed the connection")
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(status)
                for name, value in receiver.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def _client_gone(self) -> bool:
                readable, _, _ = select.select([self.connection], [], [], 0)
                try:
                    return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
                except OSError:
                    return True

            def log_message(self, *_args):
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.thread = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hooks/obsrv"

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def events(self) -> list[dict]:
        with self.lock:
            return [json.loads(r["body"]) for r in self.received]

    def start(self) -> Receiver:
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def wait_for(self, count: int, timeout: float = 60.0) -> list[dict]:
        """The requests received, once there are at least ``count`` (fails after ``timeout`` seconds)."""
        if count <= 0:
            return self.received[:]

        def enough() -> list[dict] | None:
            with self.lock:
                return list(self.received) if len(self.received) >= count else None

        return wait_until(enough, timeout, lambda: f"{count} requests (got {len(self.received)})", interval=0.05)
