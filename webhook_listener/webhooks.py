"""POST /api/integrations/stripe/webhook: verify, dedupe, store, then answer.

The event is committed to the ops store before the 2xx goes out, so an answered event is never
lost; anything refused gets a 4xx and nothing is stored, so Stripe retries it (for 3 days).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from stripe import SignatureVerificationError, WebhookSignature

from stripe_pipeline.ops_store import Outcome
from webhook_listener.payload_scrub import MAX_DEPTH, scrub_card_data, too_deep
from webhook_listener.responses import error

log = logging.getLogger("webhook_listener.webhooks")

# Stripe's documented tolerance for the signed timestamp.
TOLERANCE_S = 300


class Refused(Exception):
    """A delivery refused with 400; `reason` is short and safe to show and log."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class VerifiedEvent:
    id: str
    type: str
    account_id: str | None
    livemode: bool
    api_version: str | None
    created: int | None
    payload_hash: str
    stored_payload: str  # card details scrubbed


class TooSlow(Exception):
    """The body did not arrive in time (answered 408; Stripe retries)."""


async def read_body(request: Request, limit: int, timeout_s: float) -> bytes:
    """The raw body, refusing early on Content-Length and again while streaming (a sender may
    lie about or omit the length), within `timeout_s` (a sender trickling bytes would otherwise
    hold the connection open indefinitely)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise Refused(f"body larger than {limit} bytes")
        except ValueError:
            raise Refused("malformed Content-Length") from None
    body = bytearray()
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    raise Refused(f"body larger than {limit} bytes")
    except TimeoutError:
        raise TooSlow(f"body not received within {timeout_s:.0f} s") from None
    return bytes(body)


def verify(body: bytes, header: str | None, secrets: tuple[str, ...]) -> None:
    """Accept the body if any configured secret signed it (several during a rotation)."""
    if not header:
        raise Refused("missing Stripe-Signature header")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused("body is not UTF-8") from None
    stale = False
    for secret in secrets:
        try:
            WebhookSignature.verify_header(body, header, secret, tolerance=TOLERANCE_S)
            return
        except SignatureVerificationError as exc:
            message = str(exc)
            # The SDK checks the signature before the timestamp: this message means the
            # signature matched this secret but the delivery is too old (or a replay).
            if "tolerance" in message:
                stale = True
            elif "Unable to extract" in message or "with expected scheme" in message:
                raise Refused("malformed Stripe-Signature header") from None
    if stale:
        raise Refused(f"timestamp outside the {TOLERANCE_S} s tolerance")
    raise Refused("no valid signature for this endpoint's signing secret(s)")


def parse(body: bytes) -> VerifiedEvent:
    try:
        event = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise Refused("body is not valid JSON") from None
    if not isinstance(event, dict) or event.get("object") != "event":
        raise Refused("body is not a Stripe event")
    if too_deep(event):
        # Checked before the scrubber walks it: a signed but absurd body gets a short 400, not a
        # RecursionError's 500 and traceback on every Stripe retry.
        raise Refused(f"body nested deeper than {MAX_DEPTH} levels")
    event_id, event_type = event.get("id"), event.get("type")
    if (
        not isinstance(event_id, str)
        or not event_id
        or not isinstance(event_type, str)
        or not event_type
    ):
        raise Refused("event without id or type")
    account = event.get("account")
    created = event.get("created")
    return VerifiedEvent(
        id=event_id,
        type=event_type,
        account_id=account if isinstance(account, str) and account else None,
        livemode=bool(event.get("livemode", False)),
        api_version=event.get("api_version") if isinstance(event.get("api_version"), str) else None,
        # Outside a signed 64-bit integer no column stores it, and Stripe would retry for 3 days;
        # `created` only orders events, so an absurd one is dropped, not the event.
        created=created
        if isinstance(created, int) and not isinstance(created, bool) and abs(created) < 2**63
        else None,
        # The hash is of the raw body as signed, so a redelivery of the same bytes matches even
        # though what is stored is the scrubbed copy.
        payload_hash=hashlib.sha256(body).hexdigest(),
        stored_payload=orjson.dumps(scrub_card_data(event)).decode(),
    )


async def receive_webhook(request: Request) -> Response:
    settings = request.app.state.settings
    if not settings.stripe_webhook_secrets:
        # 503, not 400: Stripe retries, so events wait at Stripe instead of being lost.
        return error(
            503,
            "STRIPE_WEBHOOK_SECRET is not set on the listener; set the endpoint's whsec_ secret",
        )
    try:
        body = await read_body(
            request, settings.webhook_max_body_bytes, settings.webhook_body_timeout_s
        )
        verify(body, request.headers.get("stripe-signature"), settings.stripe_webhook_secrets)
        event = parse(body)
    except Refused as refused:
        log.warning("webhook refused: %s", refused.reason)
        return error(400, refused.reason)
    except TooSlow as slow:
        log.warning("webhook refused: %s", slow)
        # Close the connection: the rest of the body may still be trickling in.
        return error(408, str(slow), headers={"Connection": "close"})
    outcome = await run_in_threadpool(
        request.app.state.store.record_webhook_event,
        event_id=event.id,
        type=event.type,
        payload_hash=event.payload_hash,
        payload=event.stored_payload,
        account_id=event.account_id,
        livemode=event.livemode,
        api_version=event.api_version,
        created=event.created,
    )
    log.log(
        logging.WARNING if outcome is Outcome.CONFLICT else logging.INFO,
        "webhook %s type=%s account=%s outcome=%s",
        event.id,
        event.type,
        event.account_id or "platform",
        outcome.value,
    )
    return JSONResponse({"received": True, "id": event.id, "outcome": outcome.value})
