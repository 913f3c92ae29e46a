"""Signatures verify, unchanged, with the published libraries of both schemes."""

import json
import time

import pytest
import stripe
from standardwebhooks import Webhook, WebhookVerificationError

from webhooks.signing import SignatureError, new_secret, sign, verify

BODY = json.dumps({"id": "e0b5", "type": "price_changed"}).encode()


def test_secret_shape():
    secret = new_secret()
    assert secret.startswith("whsec_") and len(secret) == 6 + 44


def test_obsrv_signature_verifies_with_stripes_library_and_ours():
    secret = new_secret()
    headers = sign(BODY, [secret], "evt-1")
    assert stripe.WebhookSignature.verify_header(BODY, headers["Obsrv-Signature"], secret, tolerance=300)
    assert verify(BODY, headers["Obsrv-Signature"], secret) == int(headers["webhook-timestamp"])
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(BODY + b" ", headers["Obsrv-Signature"], secret, tolerance=300)
    with pytest.raises(SignatureError):
        verify(BODY, headers["Obsrv-Signature"], new_secret())


def test_standard_webhooks_headers_verify_with_the_standardwebhooks_library():
    secret = new_secret()
    headers = sign(BODY, [secret], "evt-2")
    assert Webhook(secret).verify(BODY, headers) == json.loads(BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, headers)


def test_during_rotation_both_secrets_verify_in_both_schemes():
    old, new = new_secret(), new_secret()
    headers = sign(BODY, [new, old], "evt-3")
    assert headers["Obsrv-Signature"].count("v1=") == 2
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert stripe.WebhookSignature.verify_header(BODY, headers["Obsrv-Signature"], secret, tolerance=300)
        assert Webhook(secret).verify(BODY, headers)


def test_timestamps_older_than_five_minutes_are_rejected():
    secret = new_secret()
    stale = sign(BODY, [secret], "evt-4", timestamp=int(time.time()) - 301)
    with pytest.raises(SignatureError):
        verify(BODY, stale["Obsrv-Signature"], secret)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(BODY, stale["Obsrv-Signature"], secret, tolerance=300)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, stale)
