"""URLs: canonical form, a website's domain, and the SSRF check of targets.

Shared by the API (registration), the crawler (every request) and webhook
delivery, so it lives beside the settings every stage may import.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from url_normalize import url_normalize
from w3lib.url import canonicalize_url

#: Query parameters that only track the visitor; everything else (variant=, size=, color=, id=...) is kept.
TRACKING_PARAMS = frozenset({
    "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "fbclid", "msclkid", "yclid", "twclid", "ttclid", "igshid",
    "mc_cid", "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "ref", "ref_", "referrer", "srsltid",
    "spm", "scid", "trk", "trkid", "cmpid", "campaign", "affiliate", "aff_id", "clickid",
})
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
    """The website's normalized domain: lower-case IDNA host without ``www.``, with a non-default port."""
    parts = urlsplit(url_normalize(url.strip()))
    host = (parts.hostname or "").rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    default = {"http": 80, "https": 443}.get(parts.scheme)
    if parts.port and parts.port != default:
        return f"{host}:{parts.port}"
    return host


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved
                                 or ip.is_multicast or ip.is_unspecified)


def refused_address(address: str) -> str | None:
    """Why an IP address may not be a target, or None if it is public."""
    try:
        return None if _public(address) else f"{address} is a private, loopback or link-local address"
    except ValueError:
        return f"{address!r} is not an IP address"


def check_target(url: str, *, allow_private: bool, resolve: bool = True) -> None:
    """Raise TargetRefused when the URL's host is (or resolves to) a non-public address.

    A host that does not resolve passes here: fetching it fails later and is
    recorded as a DNS error, which is what the user needs to see.
    """
    if allow_private:
        return
    host = urlsplit(url).hostname or ""
    try:
        ipaddress.ip_address(host)
        literal = True
    except ValueError:
        literal = False
    if literal:
        addresses = [host]
    elif host == "localhost" or host.endswith(".localhost"):
        raise TargetRefused(f"{host} is a loopback host")
    elif not resolve:
        return
    else:
        try:
            addresses = sorted({info[4][0] for info in socket.getaddrinfo(host, None)})
        except (socket.gaierror, UnicodeError):
            return
    for address in addresses:
        reason = refused_address(address)
        if reason:
            raise TargetRefused(f"{host}: {reason}")
