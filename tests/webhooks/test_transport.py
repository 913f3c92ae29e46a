"""webhooks.transport against real local servers: the connection dials the checked address while TLS (SNI,
certificate verification) and the Host header stay with the name."""

from __future__ import annotations

import datetime as dt
import ssl
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from core.urls import check_target
from tests.support.names import Names
from tests.support.receiver import Receiver
from webhooks import transport


def _cert(subject: str, issuer_key, issuer_name, key, *, ca: bool, names=()):
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A test CA, and leaf certificates it signed for hooks.tls.test and for other.test."""
    base = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Obsrv test CA")])
    ca = _cert("Obsrv test CA", ca_key, ca_name, ca_key, ca=True)
    (base / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    leaves = {}
    for name in ("hooks.tls.test", "other.test"):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _cert(name, ca_key, ca_name, key, ca=False, names=[name])
        path = base / f"{name}.pem"
        path.write_bytes(
            cert.public_bytes(serialization.Encoding.PEM)
            + key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        leaves[name] = str(path)
    return str(base / "ca.pem"), leaves


class TLSReceiver:
    def __init__(self, certfile: str):
        self.sni: list[str | None] = []
        self.hosts: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.hosts.append(self.headers["Host"])
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args):
                pass

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(certfile)
        context.sni_callback = lambda _sock, name, _ctx: self.sni.append(name)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def names(monkeypatch):
    return Names().install(monkeypatch)


def test_tls_verifies_the_name_while_dialling_the_checked_address(pki, names):
    ca, leaves = pki
    receiver = TLSReceiver(leaves["hooks.tls.test"])
    try:
        names.answer("hooks.tls.test", ["127.0.0.1"], ["192.88.99.7"])  # a second lookup would go elsewhere
        target = check_target(f"https://hooks.tls.test:{receiver.port}/hook", allow_private=True, require_address=True)
        status, _headers = transport.send(target, b"{}", {}, timeout=5, verify=ca)
        assert status == 204
        assert receiver.sni == ["hooks.tls.test"] and receiver.hosts == [f"hooks.tls.test:{receiver.port}"]
        assert names.count("hooks.tls.test") == 1
        with pytest.raises(requests.exceptions.SSLError):  # verification is on by default: our CA is not trusted
            transport.send(target, b"{}", {}, timeout=5)
    finally:
        receiver.close()


def test_a_certificate_for_another_name_is_a_tls_error(pki, names):
    ca, leaves = pki
    receiver = TLSReceiver(leaves["other.test"])
    try:
        names.answer("hooks.tls.test", ["127.0.0.1"])
        target = check_target(f"https://hooks.tls.test:{receiver.port}/hook", allow_private=True, require_address=True)
        with pytest.raises(requests.exceptions.SSLError):
            transport.send(target, b"{}", {}, timeout=5, verify=ca)
    finally:
        receiver.close()


def test_a_request_for_another_host_than_the_checked_one_is_refused(names):
    names.answer("hooks.tls.test", ["127.0.0.1"])
    target = check_target("http://hooks.tls.test:9/hook", allow_private=True, require_address=True)
    with pytest.raises(requests.exceptions.InvalidURL):
        transport.send(replace(target, url="http://other.test:9/hook"), b"{}", {}, timeout=1)
    assert names.count("other.test") == 0


@pytest.mark.parametrize("behaviour", ["hangs", "trickles"])
def test_the_timeout_bounds_the_whole_exchange_not_each_read(behaviour):
    """requests' timeout restarts at every byte; a receiver sending one every 0.1 s must still be cut off."""
    release = threading.Event()
    receiver = Receiver(hold=release, trickle=0.1 if behaviour == "trickles" else None).start()
    try:
        target = check_target(receiver.url, allow_private=True, require_address=True)
        started = time.monotonic()
        with pytest.raises(requests.Timeout):
            transport.send(target, b"{}", {}, timeout=0.5)
        # it waited the timeout, and it ended at all: the receiver trickles until released, so a timeout
        # that restarted at every byte would never fire (the suite's pytest-timeout would fail this test)
        assert time.monotonic() - started >= 0.45
        assert receiver.arrived.is_set()
    finally:
        release.set()
        receiver.stop()
