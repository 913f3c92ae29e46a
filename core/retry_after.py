"""Retry-After (RFC 9110 §10.2.3): the one reading of it, for every stage that honours it.

The crawler's retries and webhook delivery both wait at least what a server asks, so they share this parser
(like ``core.urls``, it lives beside the settings every stage may import; the crawler never imports
``webhooks`` nor the other way round). The value is either delay-seconds (``1*DIGIT``) or an HTTP-date in
any of the three forms a recipient must accept (IMF-fixdate, RFC 850, asctime). A date in the past means
"now" (0); anything else — negative, fractional, signed, a broken date — is no value at all (``None``), and
the caller falls back to its own delay.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

#: Longest wait a header can ask for (ten years); bigger numbers are read as this, never as an overflow.
MAX_SECONDS = 10 * 365 * 86400.0
_DIGITS = re.compile(r"[0-9]+", re.ASCII)
_HTTP_DATE = re.compile(r"[A-Za-z]{3,9},? [0-9A-Za-z :+-]+", re.ASCII)


def retry_after_seconds(value: str | bytes | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from ``now`` (default: the clock, UTC), or None if the header says nothing usable."""
    if value is None:
        return None
    text = (value.decode("latin-1") if isinstance(value, (bytes, bytearray)) else str(value)).strip()
    if not text:
        return None
    if _DIGITS.fullmatch(text):
        return min(float(int(text[:12])), MAX_SECONDS)
    if not _HTTP_DATE.fullmatch(text):
        return None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # asctime carries no zone; HTTP dates are always GMT
        when = when.replace(tzinfo=UTC)
    now = datetime.now(UTC) if now is None else now
    return min(max(0.0, (when - now).total_seconds()), MAX_SECONDS)
