"""A name resolver for tests: answers for names under ``.test``, the system's resolver for everything else.

It stands where the system resolver stands (``socket.getaddrinfo``), so it sees every lookup a component makes
— the SSRF check's and any connection's. ``answer(name, first, then...)`` scripts the answers of successive
lookups (the last one repeats): a name that answers a public address to the first lookup and 127.0.0.1
afterwards is DNS rebinding. Crawls pin names with ``OBSRV_DNS_OVERRIDES`` instead (crawler.dns).
"""

from __future__ import annotations

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
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (a, port, 0, 0)) if ":" in a
                else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]

    def gethostbyname(self, host):
        """What Twisted's resolver (and so Scrapy's) calls: the first IPv4 answer of :meth:`getaddrinfo`."""
        for family, _type, _proto, _name, address in self.getaddrinfo(host, 0):
            if family == socket.AF_INET:
                return address[0]
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    def install(self, monkeypatch) -> "Names":
        monkeypatch.setattr(socket, "getaddrinfo", self.getaddrinfo)
        return self

    def install_in_process(self) -> "Names":
        """For a process of its own (tests.support.outside): every lookup of the process, Twisted's too."""
        socket.getaddrinfo = self.getaddrinfo
        socket.gethostbyname = self.gethostbyname
        return self
