"""The SSRF check of targets: one strict parser, ambiguous URLs refused, names resolved once."""

from __future__ import annotations

import pytest

from core.urls import TargetRefused, check_target
from tests.support.names import Names

AMBIGUOUS = [
    "https://127.0.0.1:8999\\@evil.example/x",  # urlsplit: host evil.example; urllib3: 127.0.0.1
    "https://evil.example\\@127.0.0.1/x",
    "https://evil.example\\.127.0.0.1/",
    "https://%31%32%37.0.0.1:8999/",  # percent-encoded host
    "https://127.0.0.1%2f@evil.example/",
    "https://user:pass@evil.example/",  # user info
    "https://@evil.example/",
    "https://evil.example@127.0.0.1/",
    "https://evil.example\t/x",  # urlsplit drops tabs and newlines silently
    "https://evil.\nexample/x",
    "https://evil.example/x\r\nHost: 127.0.0.1",
    "https://evil.example/\x00",
    "https://evil.example/\x7f",
    "https://evil example/",
    " https://evil.example/",
    "https://127.1/",  # numeric hosts other than the four-decimal form
    "https://2130706433/",
    "https://0x7f.0.0.1/",
    "https://0177.0.0.1/",
    "https://127.0.0.1./",
    "https://1.2.3.4.5/",
    "https://[::1%25lo]/",  # zone id
    "https://evil.example:99999/",
    "https://evil.example:0/",
    "https://evil.example:/",
    "https://evil.example:8x/",
    "https:///x",
    "https:evil.example/",
    "ftp://evil.example/",
    "//evil.example/",
    "https://evil!.example/",
    "https://ex_ample.com$/",
]


@pytest.mark.parametrize("url", AMBIGUOUS)
@pytest.mark.parametrize("allow_private", [False, True])
def test_ambiguous_urls_are_refused_whatever_the_deployment_allows(url, allow_private):
    with pytest.raises(TargetRefused):
        check_target(url, allow_private=allow_private)


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/",
        "https://10.1.2.3/",
        "https://169.254.169.254/latest",
        "https://[::1]/",
        "https://[::ffff:127.0.0.1]/",
        "https://0.0.0.0/",
        "https://localhost/",
        "https://a.localhost/",
        "https://LOCALHOST./",
    ],
)
def test_private_loopback_and_link_local_literals_are_refused(url):
    with pytest.raises(TargetRefused) as refused:
        check_target(url, allow_private=False)
    assert str(refused.value) in ("loopback host", "private, loopback or link-local address")


def test_a_name_that_does_not_resolve_is_refused_for_webhooks_but_not_for_seeds():
    with pytest.raises(TargetRefused) as refused:
        check_target("https://nowhere.invalid/hook", allow_private=False, require_address=True)
    assert str(refused.value) == "host does not resolve to a public address"
    with pytest.raises(TargetRefused) as refused:
        check_target("https://nowhere.invalid/hook", allow_private=True, require_address=True)
    assert str(refused.value) == "host does not resolve"
    # a seed: fetching it fails later, recorded as the crawl's DNS error
    assert check_target("https://nowhere.invalid/", allow_private=False).addresses == ()


@pytest.fixture
def names(monkeypatch):
    return Names().install(monkeypatch)


def test_names_resolving_to_private_addresses_are_refused_without_saying_where(names):
    names.answer("internal.test", ["192.88.99.7", "10.0.0.5"])  # one private address is enough
    with pytest.raises(TargetRefused) as refused:
        check_target("https://internal.test/", allow_private=False, require_address=True)
    assert str(refused.value) == "host does not resolve to a public address"
    assert "10.0.0.5" not in str(refused.value)


def test_a_checked_target_carries_what_to_connect_to(names):
    names.answer("hooks.test", ["192.88.99.7", "2001:4860:4860::8888"])
    target = check_target("https://Hooks.TEST:8443/obsrv?x=%2F#frag", allow_private=False, require_address=True)
    assert (target.scheme, target.host, target.port) == ("https", "hooks.test", 8443)
    assert target.addresses == ("192.88.99.7", "2001:4860:4860::8888")
    assert target.url == "https://hooks.test:8443/obsrv?x=%2F"
    assert names.lookups == ["hooks.test"]  # resolved once
    assert check_target("http://[2001:db8::1]/", allow_private=True).url == "http://[2001:db8::1]/"
    assert check_target("https://93.184.215.14", allow_private=False).addresses == ("93.184.215.14",)
    assert check_target("https://93.184.215.14", allow_private=False).url == "https://93.184.215.14/"


def test_international_names_are_checked_as_their_ascii_form(names):
    names.answer("xn--bcher-kva.test", ["192.88.99.7"])
    target = check_target("https://bücher.test/ä", allow_private=False, require_address=True)
    assert target.host == "xn--bcher-kva.test" and names.lookups == ["xn--bcher-kva.test"]
    assert target.url.startswith("https://xn--bcher-kva.test/")
