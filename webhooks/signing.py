"""Signing webhooks so that receivers verify them with published libraries, unchanged.

Two schemes on every delivery:

- ``Obsrv-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`` over ``"<t>.<raw body>"``, keyed with the
  whole secret string's UTF-8 bytes — Stripe's scheme, so ``stripe.WebhookSignature.verify_header`` works.
- Standard Webhooks: ``webhook-id``, ``webhook-timestamp``, ``webhook-signature: v1,<base64 HMAC-SHA256>``
  over ``"<id>.<t>.<raw body>"``, keyed with the base64-decoded bytes after ``whsec_`` — so
  ``standardwebhooks.Webhook(secret).verify`` works.

During a secret rotation both secrets sign: two ``v1`` values in each header.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

PREFIX = "whsec_"
TOLERANCE_SECONDS = 300


class SignatureError(ValueError):
    pass


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _secret_bytes(secret: str) -> bytes:
    if not secret.startswith(PREFIX):
        raise ValueError("a signing secret starts with whsec_")
    return base64.b64decode(secret[len(PREFIX) :])


def obsrv_signature(body: bytes, secrets_: list[str], timestamp: int) -> str:
    signed = f"{timestamp}.".encode() + body
    parts = [f"t={timestamp}"]
    parts += [f"v1={hmac.new(s.encode(), signed, hashlib.sha256).hexdigest()}" for s in secrets_]
    return ",".join(parts)


def standard_signature(body: bytes, secrets_: list[str], msg_id: str, timestamp: int) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(_secret_bytes(s), signed, hashlib.sha256).digest()).decode() for s in secrets_
    )


def sign(body: bytes, secrets_: list[str], msg_id: str, timestamp: int | None = None) -> dict[str, str]:
    """The signature headers of one delivery (current secret first)."""
    if not secrets_:
        raise ValueError("no signing secret")
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    return {
        "Obsrv-Signature": obsrv_signature(body, secrets_, timestamp),
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_signature(body, secrets_, msg_id, timestamp),
    }


def verify(body: bytes, header: str, secret: str, tolerance: int = TOLERANCE_SECONDS, now: float | None = None) -> int:
    """Check an ``Obsrv-Signature`` header; returns its timestamp or raises SignatureError.

    What a receiver does (the README shows it); also what Stripe's library does.
    """
    try:
        items = [part.split("=", 1) for part in header.split(",")]
        timestamp = int(next(v for k, v in items if k.strip() == "t"))
    except (ValueError, StopIteration):
        raise SignatureError("malformed Obsrv-Signature header") from None
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        raise SignatureError("timestamp outside the tolerance: replayed or clock skew")
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    if not any(k.strip() == "v1" and hmac.compare_digest(v.strip(), expected) for k, v in items):
        raise SignatureError("no v1 signature matches")
    return timestamp
