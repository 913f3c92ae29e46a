"""Outgoing HTTP of the webhooks stage: every connection dials an address the SSRF check approved.

``core.urls.check_target`` parses a URL once and resolves its host once; the :class:`~core.urls.Target` it
returns carries the addresses it checked. Here a requests transport adapter hands requests a connection
pool whose connections dial one of those addresses instead of resolving the name again (a second lookup
could answer 127.0.0.1: DNS rebinding), while the Host header, TLS SNI and certificate verification still
use the name. The connection refuses a host or port other than the target's (the two parsers disagreeing).

The timeout is the whole exchange's, not each socket operation's (requests' own timeout restarts at every
byte, so a receiver that trickles its answer could hold a POST for ever): at the deadline a watchdog shuts the
exchange's sockets down, whatever they were doing. That bound is what lets a delivery lease its event for
the timeout plus a margin and know the POST is over when the lease lapses.

No proxy, ``.netrc`` or environment setting takes part (``trust_env`` off): a proxy would resolve the name
itself, and credentials from the environment must never reach a receiver. Redirects are not followed.
"""

from __future__ import annotations

import socket
import threading
import time

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.poolmanager import SSL_KEYWORDS

from core.urls import Target


class Deadline:
    """The end of one exchange: at ``at`` (monotonic) every socket it opened is shut down."""

    def __init__(self, at: float):
        self.at = at
        self.passed = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = False
        self._timer = threading.Timer(max(0.0, at - time.monotonic()), self._expire)
        self._timer.daemon = True
        self._timer.start()

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def watch(self, sock: socket.socket) -> bool:
        """Shut ``sock`` down at the deadline; False if it has passed already. A duplicate of the descriptor is
        kept, so TLS wrapping (which detaches the original socket object) changes nothing."""
        with self._lock:
            if self.passed or self._closed:
                return False
            self._sockets.append(sock.dup())
            return True

    def _expire(self) -> None:
        with self._lock:
            if self._closed:
                return
            self.passed = True
            for sock in self._sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)  # wakes any read or write blocked on it, in any thread
                except OSError:
                    pass

    def close(self) -> None:
        self._timer.cancel()
        with self._lock:
            self._closed = True
            for sock in self._sockets:
                sock.close()
            self._sockets.clear()


class _Pinned:
    """A urllib3 connection that connects to the target's checked addresses, never to a fresh lookup, and
    whose socket is shut down at the exchange's deadline."""

    def __init__(self, *args, obsrv_target: Target, obsrv_deadline: Deadline, **kwargs):
        super().__init__(*args, **kwargs)
        self._obsrv_target = obsrv_target
        self._obsrv_deadline = obsrv_deadline

    def _new_conn(self) -> socket.socket:
        target, deadline = self._obsrv_target, self._obsrv_deadline
        if self.host.strip("[]").lower() != target.host or self.port != target.port:
            raise NewConnectionError(self, "not the checked target")
        error: Exception = NewConnectionError(self, "no checked address")
        for address in target.addresses:
            remaining = deadline.remaining()
            if remaining <= 0:
                raise ConnectTimeoutError(self, "deadline passed")
            timeout = min(self.timeout, remaining) if isinstance(self.timeout, (int, float)) else remaining
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                for option in self.socket_options or ():
                    sock.setsockopt(*option)
                sock.settimeout(timeout)
                sock.connect((address, self.port))
            except TimeoutError:
                sock.close()
                error = ConnectTimeoutError(self, "connect timeout")
            except OSError:
                sock.close()
                error = NewConnectionError(self, "connection failed")
            else:
                if not deadline.watch(sock):
                    sock.close()
                    raise ConnectTimeoutError(self, "deadline passed")
                return sock
        raise error


class PinnedHTTPConnection(_Pinned, HTTPConnection):
    pass


class PinnedHTTPSConnection(_Pinned, HTTPSConnection):
    pass


class PinnedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = PinnedHTTPConnection


class PinnedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = PinnedHTTPSConnection


class PinnedAdapter(HTTPAdapter):
    """A transport adapter for one target: one pool, its connections pinned to the checked addresses."""

    def __init__(self, target: Target, deadline: Deadline):
        self.target = target
        self.deadline = deadline
        self._pool: HTTPConnectionPool | None = None
        super().__init__(pool_connections=1, pool_maxsize=1, max_retries=0)

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        host_params, pool_kwargs = self.build_connection_pool_key_attributes(request, verify, cert)
        scheme, host = host_params["scheme"], (host_params["host"] or "").lower()
        port = host_params["port"] or {"http": 80, "https": 443}.get(scheme)
        if (scheme, host, port) != (self.target.scheme, self.target.host, self.target.port):
            raise requests.exceptions.InvalidURL("not the checked target", request=request)
        if self._pool is None:
            if scheme == "https":
                self._pool = PinnedHTTPSConnectionPool(
                    host, port, maxsize=1, obsrv_target=self.target, obsrv_deadline=self.deadline, **pool_kwargs
                )
            else:
                kwargs = {k: v for k, v in pool_kwargs.items() if k not in SSL_KEYWORDS}
                self._pool = PinnedHTTPConnectionPool(
                    host, port, maxsize=1, obsrv_target=self.target, obsrv_deadline=self.deadline, **kwargs
                )
        return self._pool

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        raise requests.exceptions.InvalidProxyURL("webhooks never go through a proxy")

    def close(self):
        super().close()
        if self._pool is not None:
            self._pool.close()


def send(
    target: Target,
    body: bytes,
    headers: dict,
    *,
    timeout: float,
    deadline: float | None = None,
    verify: bool | str = True,
) -> tuple[int, requests.structures.CaseInsensitiveDict]:
    """POST ``body`` to a checked target within ``timeout`` seconds in all (or by ``deadline``, a monotonic
    time, when that is sooner); returns the status code and headers of the answer (its body is not read), or
    raises requests' exceptions — ``requests.Timeout`` whenever the deadline ended the exchange."""
    at = time.monotonic() + timeout if deadline is None else min(deadline, time.monotonic() + timeout)
    watchdog = Deadline(at)
    try:
        if watchdog.remaining() <= 0:
            raise requests.exceptions.ConnectTimeout("deadline passed before connecting")
        with requests.Session() as session:
            session.trust_env = False
            adapter = PinnedAdapter(target, watchdog)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            response = session.post(
                target.url,
                data=body,
                headers=headers,
                timeout=watchdog.remaining(),
                allow_redirects=False,
                stream=True,
                verify=verify,
            )
            cut = watchdog.passed  # the shutdown may have cut the answer short: its end is not the receiver's
            response.close()
            if cut:
                raise requests.exceptions.ReadTimeout("the answer outlived the deadline")
            return response.status_code, response.headers
    except requests.RequestException as exc:
        if watchdog.passed and not isinstance(exc, requests.Timeout):
            raise requests.exceptions.ReadTimeout("the exchange outlived its deadline") from exc
        raise
    finally:
        watchdog.close()
