"""Stripe's webhook signature: `Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256("<t>.<body>")>`.

The HMAC key is the endpoint secret string as given (`whsec_...`, prefix included), which is
what `stripe.Webhook.construct_event` checks against.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time


def compute_signature(payload: bytes, secret: str, timestamp: int) -> str:
    signed = f"{timestamp}.".encode() + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    ts = int(time.time()) if timestamp is None else timestamp
    return f"t={ts},v1={compute_signature(payload, secret, ts)}"


def new_webhook_secret() -> str:
    # Stripe's secrets are whsec_ followed by 32 base62-ish characters; hex is close enough
    # for anything that checks the prefix or the length.
    return "whsec_" + secrets.token_hex(16)


def redact(secret: str) -> str:
    """A secret as it may appear in logs and errors: its prefix and last four characters."""
    if len(secret) <= 12:
        return "*" * len(secret)
    prefix = secret.split("_", 1)[0] + "_" if "_" in secret[:8] else ""
    return f"{prefix}...{secret[-4:]}"
