"""A name resolver for tests: answers for names under ``.test``, the system's resolver for everything else;
and :class:`Offline`, a machine with no network beyond loopback (for a fuzzer's URLs).

It stands where the system resolver stands (``socket.getaddrinfo``), so it sees every lookup a component makes
— the SSRF check's and any connection's. ``answer(name, first, then...)`` scripts the answers of successive
lookups (the last one repeats): a name that answers a public address to the first lookup and 127.0.0.1
afterwards is DNS rebinding. Crawls pin names with ``OBSRV_DNS_OVERRIDES`` instead (crawler.dns).
"""

from __future__ import annotations

import ipaddress
import socket
import threading


class Names:
    def __init__(self):
        self.answers: dict[str, list[list[str]]] = {}
        self.lookups: list[str] = []
        self.lock = threading.Lock()
        self._real = socket.getaddrinfo

    def answer(self, name: str, *answers: list[str]) -> None:
        with self.lock:
            self.answers[name.lower()] = [list(a) for a in answers]

    def count(self, name: str) -> int:
        with self.lock:
            return self.lookups.count(name.lower())

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
        if not (isinstance(host, str) and host.lower().rstrip(".").endswith(".test")):
            return self._real(host, port, family, type, proto, flags)
        name = host.lower().rstrip(".")
        with self.lock:
            self.lookups.append(name)
            scripted = self.answers.get(name)
            addresses = (scripted.pop(0) if len(scripted) > 1 else scripted[0]) if scripted else None
        if not addresses:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        port = int(port or 0)
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (a, port, 0, 0))
            if ":" in a
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in addresses
        ]

    def gethostbyname(self, host):
        """What Twisted's resolver (and so Scrapy's) calls: the first IPv4 answer of :meth:`getaddrinfo`."""
        for family, _type, _proto, _name, address in self.getaddrinfo(host, 0):
            if family == socket.AF_INET:
                return address[0]
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    def install(self, monkeypatch) -> Names:
        monkeypatch.setattr(socket, "getaddrinfo", self.getaddrinfo)
        return self

    def install_in_process(self) -> Names:
        """For a process of its own (tests.support.outside): every lookup of the process, Twisted's too."""
        socket.getaddrinfo = self.getaddrinfo
        socket.gethostbyname = self.gethostbyname
        return self


class Offline:
    """The machine with no network beyond loopback, for code that may be handed any address (a fuzzer's).

    Names do not resolve (only IP literals and ``localhost`` do, without asking a server), and a connection
    to an address that is not loopback is refused as a firewall would refuse it. Unix sockets are untouched.
    """

    def __init__(self):
        self.refused: list[tuple[str, int]] = []
        self._getaddrinfo = socket.getaddrinfo
        self._connect = socket.socket.connect
        self._connect_ex = socket.socket.connect_ex

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
        if isinstance(host, bytes):
            host = host.decode("ascii", "replace")
        if host is None or host.lower().rstrip(".") == "localhost":
            return self._getaddrinfo(host, port, family, type, proto, flags)
        return self._getaddrinfo(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)

    def _allowed(self, sock, address) -> bool:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return True
        try:
            return ipaddress.ip_address(address[0].split("%")[0]).is_loopback
        except ValueError:
            return False

    def install(self, monkeypatch) -> Offline:
        offline = self

        def connect(sock, address):
            if not offline._allowed(sock, address):
                offline.refused.append(tuple(address[:2]))
                raise ConnectionRefusedError(111, "Connection refused (no network beyond loopback in tests)")
            return offline._connect(sock, address)

        def connect_ex(sock, address):
            if not offline._allowed(sock, address):
                offline.refused.append(tuple(address[:2]))
                return 111
            return offline._connect_ex(sock, address)

        monkeypatch.setattr(socket, "getaddrinfo", self.getaddrinfo)
        monkeypatch.setattr(socket.socket, "connect", connect)
        monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
        return self
