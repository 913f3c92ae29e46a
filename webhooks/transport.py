"""Outgoing HTTP of the webhooks stage: every connection dials an address the SSRF check approved.

``db.urls.check_target`` parses a URL once and resolves its host once; the :class:`~db.urls.Target` it
returns carries the addresses it checked. Here a requests transport adapter hands requests a connection
pool whose connections dial one of those addresses instead of resolving the name again (a second lookup
could answer 127.0.0.1: DNS rebinding), while the Host header, TLS SNI and certificate verification still
use the name. The connection refuses a host or port other than the target's (the two parsers disagreeing).

No proxy, ``.netrc`` or environment setting takes part (``trust_env`` off): a proxy would resolve the name
itself, and credentials from the environment must never reach a receiver. Redirects are not followed.
"""

from __future__ import annotations

import socket

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.poolmanager import SSL_KEYWORDS

from db.urls import Target


class _Pinned:
    """A urllib3 connection that connects to the target's checked addresses, never to a fresh lookup."""

    def __init__(self, *args, obsrv_target: Target, **kwargs):
        super().__init__(*args, **kwargs)
        self._obsrv_target = obsrv_target

    def _new_conn(self) -> socket.socket:
        target = self._obsrv_target
        if self.host.strip("[]").lower() != target.host or self.port != target.port:
            raise NewConnectionError(self, "not the checked target")
        timeout = self.timeout if isinstance(self.timeout, (int, float)) else None
        error: Exception = NewConnectionError(self, "no checked address")
        for address in target.addresses:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                for option in self.socket_options or ():
                    sock.setsockopt(*option)
                sock.settimeout(timeout)
                sock.connect((address, self.port))
            except socket.timeout:
                sock.close()
                error = ConnectTimeoutError(self, "connect timeout")
            except OSError:
                sock.close()
                error = NewConnectionError(self, "connection failed")
            else:
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

    def __init__(self, target: Target):
        self.target = target
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
                self._pool = PinnedHTTPSConnectionPool(host, port, maxsize=1, obsrv_target=self.target, **pool_kwargs)
            else:
                kwargs = {k: v for k, v in pool_kwargs.items() if k not in SSL_KEYWORDS}
                self._pool = PinnedHTTPConnectionPool(host, port, maxsize=1, obsrv_target=self.target, **kwargs)
        return self._pool

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        raise requests.exceptions.InvalidProxyURL("webhooks never go through a proxy")

    def close(self):
        super().close()
        if self._pool is not None:
            self._pool.close()


def send(target: Target, body: bytes, headers: dict, *, timeout: float,
         verify: bool | str = True) -> tuple[int, requests.structures.CaseInsensitiveDict]:
    """POST ``body`` to a checked target; returns the status code and headers of the answer (its body is not
    read), or raises requests' exceptions."""
    with requests.Session() as session:
        session.trust_env = False
        adapter = PinnedAdapter(target)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        response = session.post(target.url, data=body, headers=headers, timeout=timeout, allow_redirects=False,
                                stream=True, verify=verify)
        response.close()
        return response.status_code, response.headers
