"""The browser's only way out: a checking forward proxy on 127.0.0.1, inside the crawler process.

Chromium (render_js websites) resolves names, follows redirects and loads subresources (images, scripts,
fetch/XHR, iframes, WebSockets) by itself, out of Scrapy's sight: Playwright's request interception is not
even called for redirect hops, and cannot choose the address Chromium dials. So Chromium is launched with
this proxy as its only route (``--proxy-server``, loopback included with ``<-loopback>``, no QUIC, no
non-proxied WebRTC UDP, and a host resolver that resolves nothing), and every connection it makes is one
request here:

- ``GET http://host:port/path`` (absolute form, plain http) is checked, forwarded to the checked address
  with ``Connection: close`` and the answer relayed (keep-alive with Chromium is kept);
- ``CONNECT host:port`` (https, ws, wss) is checked and tunnelled to the checked address.

The check is the crawl's own (:class:`TargetCheck`): the host parsed strictly as any target URL is
(:func:`core.urls.parse_target`), pinned by ``OBSRV_DNS_OVERRIDES`` or resolved *once*, every address refused
when private, loopback or link-local unless ``OBSRV_ALLOW_PRIVATE_TARGETS`` is on, and the connection made
to exactly an address that passed — never to a second lookup of the name (DNS rebinding). A refused request
is answered 403 with the reason and logged; a name that does not resolve or an address that does not answer
is a 502. The answers carry a marker with this process's random token, so the download handler
(:mod:`crawler.browser`) can tell the proxy's refusal of a crawled page from the page's own 403 and fail
the page as the plain crawl would (``dns``: "…private, loopback or link-local address…").

Written on asyncio (the crawler's reactor runs on the asyncio loop) with h11 for HTTP/1.1 framing, rather
than with proxy.py: proxy.py forks acceptor processes (from a process with threads and a reactor), runs
its plugins there — away from the handler that must learn of refusals — and would be more processes to
stop on Ctrl-C. This one is a listening socket of the crawler process: it goes when the process goes.
Every read, connect and lookup is bounded by the download timeout.
"""

from __future__ import annotations

import asyncio
import html
import ipaddress
import logging
import re
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import urlsplit

import h11

from core.urls import TargetRefused as UrlRefused
from core.urls import parse_target, refused_address, resolve_host
from crawler.dns import pinned_address

log = logging.getLogger("obsrv.crawler.browser")

REFUSED, UNRESOLVED, UNREACHABLE, TIMEOUT = "refused", "unresolved", "unreachable", "timeout"
#: headers that belong to one hop; the proxy sets its own framing with each side
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authorization",
        b"proxy-authenticate",
        b"te",
        b"trailer",
        b"upgrade",
    }
)
MAX_HEAD = 64 * 1024
CHUNK = 64 * 1024
REMEMBERED = 512  # outcomes of CONNECTs kept for the handler (a tunnel's failure reaches it without words)


@dataclass(frozen=True)
class Outcome:
    """Why the proxy did not reach a target: ``kind`` is one of REFUSED, UNRESOLVED, UNREACHABLE, TIMEOUT."""

    kind: str
    message: str


class Blocked(Exception):
    def __init__(self, outcome: Outcome):
        super().__init__(outcome.message)
        self.outcome = outcome


class TargetCheck:
    """The crawl's SSRF check for one host and port: the address to dial, or Blocked."""

    def __init__(self, *, allow_private: bool, overrides: dict[str, str] | None = None, timeout: float = 10.0):
        self.allow_private = allow_private
        self.overrides = overrides or {}
        self.timeout = timeout

    async def addresses(self, host: str, port: int) -> tuple[str, ...]:
        """The checked addresses of ``host:port``, in the order to try them. One lookup, never repeated."""
        authority = f"[{host}]" if ":" in host else host
        try:
            target = parse_target(f"http://{authority}:{port}/")
        except UrlRefused as exc:
            raise Blocked(Outcome(REFUSED, f"{host}: {exc}")) from None
        if target.literal:
            addresses: tuple[str, ...] = (target.host,)
        else:
            if not self.allow_private and (target.host == "localhost" or target.host.endswith(".localhost")):
                raise Blocked(
                    Outcome(REFUSED, f"{target.host} is a loopback host (refused: OBSRV_ALLOW_PRIVATE_TARGETS is off)")
                )
            pinned = pinned_address(self.overrides, target.host)
            if pinned:
                addresses = (pinned,)
            else:
                loop = asyncio.get_running_loop()
                try:
                    addresses = await asyncio.wait_for(
                        loop.run_in_executor(None, resolve_host, target.host, target.port), self.timeout
                    )
                except TimeoutError:
                    raise Blocked(Outcome(UNRESOLVED, f"{target.host}: no answer from DNS in time")) from None
                except (OSError, UnicodeError) as exc:
                    raise Blocked(Outcome(UNRESOLVED, f"{target.host}: {exc}")) from None
                if not addresses:
                    raise Blocked(Outcome(UNRESOLVED, f"{target.host}: no address"))
        if not self.allow_private:
            for address in addresses:
                reason = refused_address(address)
                if reason:
                    raise Blocked(
                        Outcome(REFUSED, f"{target.host}: {reason} (refused: OBSRV_ALLOW_PRIVATE_TARGETS is off)")
                    )
        return addresses


def _key(host: str, port: int) -> tuple[str, int]:
    host = host.strip("[]").lower().rstrip(".")
    try:
        host = str(ipaddress.ip_address(host))
    except ValueError:
        pass
    return host, port


class GuardProxy:
    """The checking forward proxy. ``await start()`` gives its port; ``await close()`` ends it and its
    connections."""

    def __init__(self, check: TargetCheck, *, timeout: float):
        self.check = check
        self.timeout = timeout
        self.token = secrets.token_hex(16)
        self.port: int | None = None
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self._outcomes: OrderedDict[tuple[str, int], Outcome] = OrderedDict()
        self._marker = re.compile(
            rb"<!-- obsrv-proxy " + self.token.encode() + rb" (\w+) -->(.*?)<!-- /obsrv-proxy -->", re.S
        )
        self.counts = {"requests": 0, "tunnels": 0, REFUSED: 0, UNRESOLVED: 0, UNREACHABLE: 0, TIMEOUT: 0}

    # -- life ----------------------------------------------------------------------------------------------
    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=256)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("browser proxy listening", extra={"port": self.port})
        return self.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=self.timeout)

    # -- what the download handler asks --------------------------------------------------------------------
    def outcome_in(self, body: bytes) -> Outcome | None:
        """The proxy's answer, when a page's body is one (its marker carries this process's token)."""
        match = self._marker.search(body or b"")
        if not match:
            return None
        return Outcome(match.group(1).decode(), html.unescape(match.group(2).decode("utf-8", "replace")))

    def outcome_for(self, url: str) -> Outcome | None:
        """Why the last tunnel to this URL's host and port failed, if it did (a failed CONNECT reaches the
        page as a bare network error)."""
        try:
            parts = urlsplit(url)
            port = parts.port or {"https": 443, "wss": 443, "http": 80, "ws": 80}.get(parts.scheme)
        except ValueError:
            return None
        if not parts.hostname or not port:
            return None
        return self._outcomes.get(_key(parts.hostname, port))

    def _remember(self, host: str, port: int, outcome: Outcome | None) -> None:
        key = _key(host, port)
        if outcome is None:
            self._outcomes.pop(key, None)
            return
        self._outcomes[key] = outcome
        self._outcomes.move_to_end(key)
        while len(self._outcomes) > REMEMBERED:
            self._outcomes.popitem(last=False)

    # -- one client connection -----------------------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._tasks.add(task)
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
        try:
            while True:
                event = await self._next(conn, reader)
                if not isinstance(event, h11.Request):
                    return
                if event.method == b"CONNECT":
                    await self._tunnel(conn, event, reader, writer)
                    return
                if not await self._forward(conn, event, reader, writer):
                    return
                if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    return
                conn.start_next_cycle()
        except h11.RemoteProtocolError:
            if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                await self._answer(conn, writer, 400, Outcome(REFUSED, "not a proxy request"))
        except (TimeoutError, ConnectionError, OSError, h11.LocalProtocolError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _next(self, conn: h11.Connection, reader: asyncio.StreamReader):
        while True:
            event = conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            data = await asyncio.wait_for(reader.read(CHUNK), self.timeout)
            conn.receive_data(data)

    async def _answer(self, conn: h11.Connection, writer: asyncio.StreamWriter, status: int, outcome: Outcome) -> None:
        """The proxy's own answer: a small page with the reason, marked with this process's token."""
        body = (
            f"<html><head><title>{status}</title></head><body><p>Obsrv's crawler did not fetch this: "
            f"<!-- obsrv-proxy {self.token} {outcome.kind} -->{html.escape(outcome.message)}"
            f"<!-- /obsrv-proxy --></p></body></html>"
        ).encode()
        headers = [
            (b"content-type", b"text/html; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
            (b"cache-control", b"no-store"),
        ]
        try:
            writer.write(conn.send(h11.Response(status_code=status, headers=headers)))
            writer.write(conn.send(h11.Data(data=body)))
            writer.write(conn.send(h11.EndOfMessage()))
            await asyncio.wait_for(writer.drain(), self.timeout)
        except (TimeoutError, h11.LocalProtocolError, ConnectionError, OSError):
            pass

    def _blocked(self, host: str, port: int, outcome: Outcome, what: str) -> int:
        self.counts[outcome.kind] += 1
        if outcome.kind == REFUSED:
            log.warning(
                "browser request refused: %s", outcome.message, extra={"target": f"{host}:{port}", "request": what}
            )
            return 403
        log.debug("browser request failed: %s", outcome.message, extra={"target": f"{host}:{port}", "request": what})
        return 504 if outcome.kind == TIMEOUT else 502

    async def _dial(self, host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A connection to a checked address of host:port (Blocked otherwise)."""
        addresses = await self.check.addresses(host, port)
        last: Exception | None = None
        for address in addresses:
            try:
                return await asyncio.wait_for(asyncio.open_connection(address, port), self.timeout)
            except TimeoutError as exc:
                last = exc
            except OSError as exc:
                last = exc
        if isinstance(last, asyncio.TimeoutError):
            raise Blocked(Outcome(TIMEOUT, f"{host}:{port}: no connection in time"))
        raise Blocked(Outcome(UNREACHABLE, f"{host}:{port}: connection failed: {last}"))

    # -- CONNECT: https, ws, wss ---------------------------------------------------------------------------
    async def _tunnel(self, conn: h11.Connection, request: h11.Request, reader, writer) -> None:
        self.counts["tunnels"] += 1
        event = await self._next(conn, reader)  # the CONNECT's (empty) end of message
        if not isinstance(event, h11.EndOfMessage):
            return
        authority = request.target.decode("ascii", "replace")
        host, _, port_text = authority.rpartition(":")
        host = host.strip("[]")
        if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
            await self._answer(conn, writer, 400, Outcome(REFUSED, f"not a host:port: {authority!r}"))
            return
        port = int(port_text)
        try:
            up_reader, up_writer = await self._dial(host, port)
        except Blocked as exc:
            self._remember(host, port, exc.outcome)
            await self._answer(conn, writer, self._blocked(host, port, exc.outcome, "CONNECT"), exc.outcome)
            return
        self._remember(host, port, None)
        try:
            writer.write(conn.send(h11.Response(status_code=200, reason=b"Connection established", headers=[])))
            trailing, _closed = conn.trailing_data
            if trailing:
                up_writer.write(trailing)
            await self._pipe(reader, writer, up_reader, up_writer)
        finally:
            up_writer.close()

    async def _pipe(self, reader, writer, up_reader, up_writer) -> None:
        async def copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while True:
                    data = await asyncio.wait_for(source.read(CHUNK), self.timeout)
                    if not data:
                        break
                    sink.write(data)
                    await asyncio.wait_for(sink.drain(), self.timeout)
            finally:
                if sink.can_write_eof():
                    try:
                        sink.write_eof()
                    except OSError:
                        pass

        tasks = [asyncio.ensure_future(copy(reader, up_writer)), asyncio.ensure_future(copy(up_reader, writer))]
        try:
            # done when both directions ended, or one failed (a timeout: idle past the download timeout)
            await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    # -- absolute-form requests: plain http ----------------------------------------------------------------
    async def _forward(self, conn: h11.Connection, request: h11.Request, reader, writer) -> bool:
        """Relay one request and its answer; True when the client connection may carry another."""
        self.counts["requests"] += 1
        url = request.target.decode("ascii", "replace")
        try:
            parts = urlsplit(url)
            host, port = parts.hostname, parts.port or 80
        except ValueError:
            host = None
        if not host or parts.scheme != "http":
            await self._answer(conn, writer, 400, Outcome(REFUSED, "only absolute http:// requests and CONNECT"))
            return False
        try:
            up_reader, up_writer = await self._dial(host, port)
        except Blocked as exc:
            await self._answer(
                conn, writer, self._blocked(host, port, exc.outcome, request.method.decode()), exc.outcome
            )
            return False
        try:
            upstream = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            headers = [(k, v) for k, v in request.headers if k not in HOP_BY_HOP]
            if not any(k == b"host" for k, _v in headers):
                headers.insert(0, (b"host", parts.netloc.encode()))
            headers.append((b"connection", b"close"))
            up_writer.write(upstream.send(h11.Request(method=request.method, target=target.encode(), headers=headers)))
            while True:  # the request's body
                event = await self._next(conn, reader)
                if isinstance(event, h11.Data):
                    up_writer.write(upstream.send(h11.Data(data=event.data)))
                    await asyncio.wait_for(up_writer.drain(), self.timeout)
                elif isinstance(event, h11.EndOfMessage):
                    up_writer.write(upstream.send(h11.EndOfMessage()))
                    break
                else:
                    return False
            await asyncio.wait_for(up_writer.drain(), self.timeout)
            sent_head = False
            try:
                while True:  # the answer
                    event = await self._next(upstream, up_reader)
                    if isinstance(event, h11.InformationalResponse):
                        continue
                    if isinstance(event, h11.Response):
                        head = [(k, v) for k, v in event.headers if k not in HOP_BY_HOP]
                        writer.write(
                            conn.send(h11.Response(status_code=event.status_code, reason=event.reason, headers=head))
                        )
                        sent_head = True
                    elif isinstance(event, h11.Data):
                        writer.write(conn.send(h11.Data(data=event.data)))
                        await asyncio.wait_for(writer.drain(), self.timeout)
                    elif isinstance(event, h11.EndOfMessage):
                        writer.write(conn.send(h11.EndOfMessage()))
                        await asyncio.wait_for(writer.drain(), self.timeout)
                        return True
                    else:  # closed before the end of its answer
                        return False
            except (TimeoutError, h11.RemoteProtocolError) as exc:
                if not sent_head:
                    outcome = Outcome(
                        TIMEOUT if isinstance(exc, asyncio.TimeoutError) else UNREACHABLE,
                        f"{host}:{port}: "
                        + ("no answer in time" if isinstance(exc, asyncio.TimeoutError) else f"invalid answer: {exc}"),
                    )
                    await self._answer(
                        conn, writer, self._blocked(host, port, outcome, request.method.decode()), outcome
                    )
                return False
        finally:
            up_writer.close()
