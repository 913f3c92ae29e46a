"""URLs: canonical form, a website's domain, and the SSRF check of targets.

Shared by the API (registration), the crawler (every request) and webhook
delivery, so it lives beside the settings every stage may import.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import unicodedata
from dataclasses import dataclass, replace
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import idna
from url_normalize import url_normalize
from w3lib.url import canonicalize_url

#: Query parameters that only track the visitor; everything else (variant=, size=, color=, id=...) is kept.
TRACKING_PARAMS = frozenset(
    {
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "fbclid",
        "msclkid",
        "yclid",
        "twclid",
        "ttclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "_ga",
        "_gl",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "ref",
        "ref_",
        "referrer",
        "srsltid",
        "spm",
        "scid",
        "trk",
        "trkid",
        "cmpid",
        "campaign",
        "affiliate",
        "aff_id",
        "clickid",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_", "oly_")


class TargetRefused(ValueError):
    """A URL that Obsrv will not fetch or post to."""


def _is_tracking(name: str) -> bool:
    low = name.lower()
    return low in TRACKING_PARAMS or low.startswith(TRACKING_PREFIXES)


def canonical_url(url: str) -> str:
    """url-normalize's form, tracking parameters removed, variant parameters kept (sorted), no fragment."""
    normalized = url_normalize(url.strip())
    parts = urlsplit(normalized)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)]
    cleaned = urlunsplit((parts.scheme, parts.netloc, parts.path or "/", urlencode(query), ""))
    return canonicalize_url(cleaned, keep_fragments=False)


def is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and " " not in url.strip()


def domain_of(url: str) -> str:
    """The website's normalized domain: lower-case IDNA host without ``www.``, with a non-default port.

    ValueError when the host is no valid host name (IDNA refuses it: a bidi control, a label over 63)."""
    try:
        parts = urlsplit(url_normalize(url.strip()))
    except UnicodeError as exc:  # url-normalize's IDNA encoding
        raise ValueError(f"not a valid host name: {exc.__class__.__name__}") from None
    host = (parts.hostname or "").rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    default = {"http": 80, "https": 443}.get(parts.scheme)
    if parts.port and parts.port != default:
        return f"{host}:{parts.port}"
    return host


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is not None and not _public(str(embedded)):
            return False
        if ip.ipv4_mapped:
            ip = ip.ipv4_mapped
    return ip.is_global and not (
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast or ip.is_unspecified
    )


def refused_address(address: str) -> str | None:
    """Why an IP address may not be a target, or None if it is public."""
    try:
        return None if _public(address) else f"{address} is a private, loopback or link-local address"
    except ValueError:
        return f"{address!r} is not an IP address"


# --- targets: one parser, one resolution -----------------------------------------------------------------

#: Why a target is refused. A fixed vocabulary: the API shows these and delivery records them, so they never
#: carry what a name resolved to (that would map the deployment's network for whoever asks).
NOT_HTTP = "not an http(s) url"
CONTROL = "control character or whitespace in url"
BACKSLASH = "backslash in url"
USERINFO = "user info in url"
PERCENT_HOST = "percent-encoded host"
INVALID_HOST = "invalid host"
NUMERIC_HOST = "non-canonical numeric host"
INVALID_PORT = "invalid port"
LOOPBACK_HOST = "loopback host"
PRIVATE = "private, loopback or link-local address"
NOT_PUBLIC = "host does not resolve to a public address"
NOT_RESOLVED = "host does not resolve"

_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?", re.ASCII)
_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*", re.ASCII | re.IGNORECASE)
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Target:
    """A URL as Obsrv reads it: one parse, shared by the check and the connection.

    ``url`` is what is requested (ASCII host, no fragment), ``host`` the name (lower-case A-labels, or an IP
    literal without brackets) that goes into the Host header, SNI and certificate check, and ``addresses``
    the resolved addresses that were checked — the only ones a connection may dial.
    """

    url: str
    scheme: str
    host: str
    port: int
    literal: bool
    addresses: tuple[str, ...] = ()


def _refuse_characters(url: str) -> None:
    for char in url:
        if char == "\\":
            raise TargetRefused(BACKSLASH)
        if ord(char) <= 0x20 or ord(char) == 0x7F or unicodedata.category(char) in ("Cc", "Cf", "Zs", "Zl", "Zp"):
            raise TargetRefused(CONTROL)


def _ascii_host(host: str) -> str:
    if not host.isascii():
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError, ValueError):
            raise TargetRefused(INVALID_HOST) from None
    host = host.lower()
    if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in host.split(".")):
        raise TargetRefused(INVALID_HOST)
    return host


def parse_target(url: str) -> Target:
    """Read a target URL strictly; raise TargetRefused for anything two parsers could read differently.

    Refused: backslashes, whitespace and control characters anywhere (``urlsplit`` drops tabs and newlines;
    urllib3 ends the host at a backslash where ``urlsplit`` reads user info), user info, a percent-encoded
    host, numeric hosts other than four decimal octets (``127.1``, ``2130706433``, ``0x7f.0.0.1``), IPv6 zone
    ids, ports outside 1–65535, and anything but http(s) with a host.
    """
    if not isinstance(url, str) or not url:
        raise TargetRefused(NOT_HTTP)
    _refuse_characters(url)
    try:
        parts = urlsplit(url)
    except ValueError:
        raise TargetRefused(INVALID_HOST) from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not url[len(scheme) + 1 :].startswith("//"):
        raise TargetRefused(NOT_HTTP)
    netloc = parts.netloc
    if "@" in netloc:
        raise TargetRefused(USERINFO)
    if "%" in netloc:
        raise TargetRefused(PERCENT_HOST)
    if netloc.startswith("["):
        inner, bracket, rest = netloc[1:].partition("]")
        if not bracket:
            raise TargetRefused(INVALID_HOST)
        try:
            host = str(ipaddress.IPv6Address(inner))
        except ValueError:
            raise TargetRefused(INVALID_HOST) from None
        literal, host_in_url = True, f"[{host}]"
        if rest and not rest.startswith(":"):
            raise TargetRefused(INVALID_HOST)
        port_text = rest[1:] if rest else None
    else:
        host, colon, port_text = netloc.partition(":")
        port_text = port_text if colon else None
        if not host:
            raise TargetRefused(INVALID_HOST)
        labels = host.split(".")
        last = labels[-1] or (labels[-2] if len(labels) > 1 else "")
        if _NUMERIC_LABEL.fullmatch(last):  # WHATWG reads this as an IPv4 address, in one of its many forms
            try:
                host = str(ipaddress.IPv4Address(host))
            except ValueError:
                raise TargetRefused(NUMERIC_HOST) from None
            literal = True
        else:
            host = _ascii_host(host[:-1] if host.endswith(".") else host)
            literal = False
        host_in_url = host
    if port_text is None:
        port = _DEFAULT_PORTS[scheme]
    elif port_text.isascii() and port_text.isdigit() and len(port_text) <= 5 and 0 < int(port_text) <= 65535:
        port = int(port_text)
        host_in_url = f"{host_in_url}:{port_text}"
    else:
        raise TargetRefused(INVALID_PORT)
    request_url = urlunsplit((scheme, host_in_url, parts.path or "/", parts.query, ""))
    return Target(url=request_url, scheme=scheme, host=host, port=port, literal=literal)


def resolve_host(host: str, port: int) -> tuple[str, ...]:
    """The addresses a name resolves to, in the resolver's order of preference (the one lookup of a target)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return tuple(dict.fromkeys(info[4][0] for info in infos if info[0] in (socket.AF_INET, socket.AF_INET6)))


def check_target(url: str, *, allow_private: bool, resolve: bool = True, require_address: bool = False) -> Target:
    """Parse the URL strictly and refuse it (TargetRefused) when its host is, or resolves to, a non-public
    address. Returns the parsed target with the addresses that were checked: whoever connects dials one of
    those and never resolves the name again (a second lookup could answer differently: DNS rebinding).

    ``require_address`` (webhooks): a name that does not resolve is refused — it could resolve to anything
    later. Without it (seed URLs) it passes: fetching it fails later and is recorded as a DNS error, which
    is what the user needs to see. ``allow_private`` turns off the address checks, never the parsing.
    """
    target = parse_target(url)
    if target.literal:
        if not allow_private and refused_address(target.host):
            raise TargetRefused(PRIVATE)
        return replace(target, addresses=(target.host,))
    if not allow_private and (target.host == "localhost" or target.host.endswith(".localhost")):
        raise TargetRefused(LOOPBACK_HOST)
    if not resolve or (allow_private and not require_address):
        return target
    try:
        addresses = resolve_host(target.host, target.port)
    except (OSError, UnicodeError):  # socket.gaierror is an OSError
        addresses = ()
    if not addresses:
        if require_address:
            raise TargetRefused(NOT_RESOLVED if allow_private else NOT_PUBLIC)
        return target
    if not allow_private and any(refused_address(address) for address in addresses):
        raise TargetRefused(NOT_PUBLIC)
    return replace(target, addresses=addresses)
