"""The browser's checking proxy (crawler.browser_proxy) on its own: real sockets on loopback, no browser.

127.0.0.1 plays a public address (``core.urls._public`` says so for it), 127.0.0.2 the deployment's own network.
"""

from __future__ import annotations

import asyncio

import pytest

import core.urls
from crawler.browser_proxy import REFUSED, UNRESOLVED, GuardProxy, TargetCheck
from tests.support.names import Names

PRIVATE = "127.0.0.2"


@pytest.fixture
def public_loopback(monkeypatch):
    real = core.urls._public
    monkeypatch.setattr(core.urls, "_public", lambda address: address == "127.0.0.1" or real(address))


class Upstream:
    """A small HTTP/1.1 server that keeps every request head it gets (and may ignore Connection: close)."""

    def __init__(self, host: str):
        self.host = host
        self.heads: list[bytes] = []
        self.connections = 0

    async def start(self, port: int = 0) -> Upstream:
        self.server = await asyncio.start_server(self._serve, self.host, port)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, reader, writer):
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.heads.append(head)
                body = f"hello from {self.host} #{len(self.heads)}".encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nKeep-Alive: timeout=5\r\n"
                    b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def close(self):
        self.server.close()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    body = await asyncio.wait_for(reader.readexactly(length), 10) if length else b""
    return status, head, body


def proxy_for() -> GuardProxy:
    return GuardProxy(TargetCheck(allow_private=False), timeout=5)


def test_plain_http_is_relayed_to_an_allowed_address_with_keep_alive(public_loopback):
    async def main():
        upstream = await Upstream("127.0.0.1").start()
        proxy = proxy_for()
        await proxy.start()
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        try:
            for n in (1, 2):  # two requests on one connection to the proxy
                writer.write(
                    f"GET http://127.0.0.1:{upstream.port}/page?n={n} HTTP/1.1\r\n"
                    f"Host: 127.0.0.1:{upstream.port}\r\nProxy-Connection: keep-alive\r\n"
                    f"Proxy-Authorization: Basic c2VjcmV0\r\n\r\n".encode()
                )
                status, _head, body = await read_response(reader)
                assert (status, body) == (200, f"hello from 127.0.0.1 #{n}".encode())
        finally:
            writer.close()
            await proxy.close()
            await upstream.close()
        first = upstream.heads[0].decode().lower()
        assert first.startswith("get /page?n=1 http/1.1")  # origin form upstream
        assert "connection: close" in first  # one request per upstream connection
        assert "proxy-" not in first  # the proxy's own headers stay with it
        assert upstream.connections == 2

    asyncio.run(main())


def test_private_targets_are_refused_with_the_reason_and_never_dialled(public_loopback):
    async def main():
        internal = await Upstream(PRIVATE).start()
        proxy = proxy_for()
        await proxy.start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
            writer.write(f"GET http://{PRIVATE}:{internal.port}/admin HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            status, _head, body = await read_response(reader)
            writer.close()
            assert status == 403
            outcome = proxy.outcome_in(body)
            assert (
                outcome.kind == REFUSED and f"{PRIVATE} is a private, loopback or link-local address" in outcome.message
            )

            reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
            writer.write(
                f"CONNECT {PRIVATE}:{internal.port} HTTP/1.1\r\nHost: {PRIVATE}:{internal.port}\r\n\r\n".encode()
            )
            status, _head, _body = await read_response(reader)
            writer.close()
            assert status == 403
            assert proxy.outcome_for(f"https://{PRIVATE}:{internal.port}/x").kind == REFUSED

            for url in ("http://localhost:1/", "http://2130706433/", "http://[::1]:1/"):
                reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
                writer.write(f"GET {url} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                status, _head, body = await read_response(reader)
                writer.close()
                assert status == 403 and proxy.outcome_in(body).kind == REFUSED, url
        finally:
            await proxy.close()
            await internal.close()
        assert internal.connections == 0

    asyncio.run(main())


def test_connect_tunnels_to_an_allowed_address_and_close_ends_it(public_loopback):
    async def main():
        upstream = await Upstream("127.0.0.1").start()
        proxy = proxy_for()
        await proxy.start()
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(
            f"CONNECT 127.0.0.1:{upstream.port} HTTP/1.1\r\nHost: 127.0.0.1:{upstream.port}\r\n\r\n"
            f"GET /tunnelled HTTP/1.1\r\nHost: a\r\n\r\n".encode()
        )  # bytes right behind the CONNECT
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 200")
        status, _h, body = await read_response(reader)
        assert (status, body) == (200, b"hello from 127.0.0.1 #1")
        assert upstream.heads[0].startswith(b"GET /tunnelled ")
        await proxy.close()  # the crawler closing: the open tunnel ends with it
        assert await asyncio.wait_for(reader.read(), 10) == b""
        writer.close()
        await upstream.close()

    asyncio.run(main())


def test_a_rebinding_name_is_resolved_once_and_dialled_at_the_checked_address(public_loopback, monkeypatch):
    """The first lookup answers the public address, every later one the private: the request goes to the
    address that was checked (one lookup, no second one to connect), and the next request is refused."""
    names = Names().install(monkeypatch)
    names.answer("rebind.test", ["127.0.0.1"], [PRIVATE])

    async def main():
        upstream = await Upstream("127.0.0.1").start()
        internal = await Upstream(PRIVATE).start(upstream.port)  # same port, the private address
        proxy = proxy_for()
        await proxy.start()
        try:
            statuses = []
            for _ in range(2):
                reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
                writer.write(
                    f"GET http://rebind.test:{upstream.port}/ HTTP/1.1\r\n"
                    f"Host: rebind.test:{upstream.port}\r\n\r\n".encode()
                )
                statuses.append((await read_response(reader))[0])
                writer.close()
                if len(statuses) == 1:
                    assert names.count("rebind.test") == 1
        finally:
            await proxy.close()
            await upstream.close()
            await internal.close()
        assert statuses == [200, 403]
        assert upstream.connections == 1 and internal.connections == 0

    asyncio.run(main())


def test_pinned_names_unresolvable_names_and_slow_clients(public_loopback):
    async def main():
        upstream = await Upstream("127.0.0.1").start()
        proxy = GuardProxy(TargetCheck(allow_private=False, overrides={"*.shops.test": "127.0.0.1"}), timeout=0.5)
        await proxy.start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
            writer.write(f"GET http://a.shops.test:{upstream.port}/ HTTP/1.1\r\nHost: a\r\n\r\n".encode())
            assert (await read_response(reader))[0] == 200  # OBSRV_DNS_OVERRIDES, as the plain crawl
            writer.close()

            reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
            writer.write(b"GET http://no-such-shop.invalid/ HTTP/1.1\r\nHost: a\r\n\r\n")
            status, _h, body = await read_response(reader)
            assert status == 502 and proxy.outcome_in(body).kind == UNRESOLVED
            writer.close()

            reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
            writer.write(b"GET http://a.shops.test/ HTTP/1.1\r\nHo")  # and then nothing
            assert await asyncio.wait_for(reader.read(), 10) == b""  # closed after the timeout, not held
            writer.close()
        finally:
            await proxy.close()
            await upstream.close()

    asyncio.run(main())
