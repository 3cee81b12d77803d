"""The OAuth `state`: signed, expiring, single-use, bound to a project.

    state = <project_id, base64url> . <nonce> . <expires, unix seconds> . <HMAC-SHA256, base64url>

The signature is checked before the ops store is touched, so a forged or expired state stores
nothing; the nonce is then consumed in the store (single use, race-safe). The key is derived
from the platform's secret key, so there is no extra secret to manage, and rotating the key
invalidates the states in flight (they live 10 minutes).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass

STATE_TTL_S = 600
_KEY_CONTEXT = b"stripe-pipeline oauth state v1"


class InvalidState(Exception):
    """`reason`: forged (bad format or signature) or expired."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class StateClaims:
    project_id: str
    nonce: str
    expires: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def state_key(client_secret: str) -> bytes:
    return hmac.new(client_secret.encode(), _KEY_CONTEXT, hashlib.sha256).digest()


def _signature(key: bytes, unsigned: str) -> str:
    return _b64(hmac.new(key, unsigned.encode(), hashlib.sha256).digest())


def sign_state(key: bytes, project_id: str, nonce: str, expires: int) -> str:
    unsigned = f"{_b64(project_id.encode())}.{nonce}.{expires}"
    return f"{unsigned}.{_signature(key, unsigned)}"


def verify_state(key: bytes, state: str, now: float | None = None) -> StateClaims:
    parts = state.split(".")
    if len(parts) != 4:
        raise InvalidState("forged")
    project_b64, nonce, expires_text, signature = parts
    if not hmac.compare_digest(_signature(key, f"{project_b64}.{nonce}.{expires_text}"), signature):
        raise InvalidState("forged")
    try:
        claims = StateClaims(_unb64(project_b64).decode(), nonce, int(expires_text))
    except ValueError:
        raise InvalidState("forged") from None
    if claims.expires <= (time.time() if now is None else now):
        raise InvalidState("expired")
    return claims
