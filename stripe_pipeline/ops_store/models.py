"""The typed records the ops store hands out (never raw rows or dicts)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

AccountStatus = Literal["connected", "disconnected"]
WebhookEventStatus = Literal["received", "processed", "conflict", "failed", "skipped"]
SyncKind = Literal["catalog", "transactions"]
SyncStatus = Literal["pending", "running", "succeeded", "failed"]

SYNC_KINDS: tuple[str, ...] = ("catalog", "transactions")
SYNC_STATUSES: tuple[str, ...] = ("pending", "running", "succeeded", "failed")


class Outcome(enum.StrEnum):
    """What `record_webhook_event` did with a delivery."""

    STORED = "stored"  # first delivery of this event id: in the inbox, status `received`
    DUPLICATE = "duplicate"  # same id and same payload hash: nothing new stored
    CONFLICT = (
        "conflict"  # same id, different payload: kept in stripe_webhook_conflicts, not applied
    )


@dataclass(frozen=True)
class WebhookEvent:
    id: str
    account_id: str | None
    type: str
    livemode: bool
    api_version: str | None
    created: int | None
    payload_hash: str
    payload: str
    received_at: datetime
    processed_at: datetime | None
    status: str
    run_id: str | None
    status_reason: str | None = None  # why it was skipped

    def payload_json(self) -> dict[str, Any]:
        import orjson

        return orjson.loads(self.payload)

    def data_object(self) -> dict[str, Any]:
        """The Stripe object the event carries (`data.object`), card details already scrubbed."""
        return self.payload_json().get("data", {}).get("object", {})


@dataclass(frozen=True)
class WebhookConflict:
    event_id: str
    payload_hash: str
    payload: str
    received_at: datetime


@dataclass(frozen=True)
class StripeAccount:
    stripe_account_id: str
    project_id: str
    livemode: bool
    status: str
    scope: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def is_connected(self) -> bool:
        return self.status == "connected"


@dataclass(frozen=True)
class SyncRequest:
    id: str
    kind: str
    project_id: str | None
    account_id: str | None
    since: int | None
    status: str
    run_id: str | None
    error: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class OAuthStateRecord:
    nonce: str
    project_id: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class SyncState:
    project_id: str
    account_id: str
    source: str
    cursor: dict[str, Any]
    updated_at: datetime


class OAuthStateError(Exception):
    """A `state` that may not be consumed. `reason` is one of: unknown, expired, used."""

    def __init__(self, reason: Literal["unknown", "expired", "used"]):
        self.reason = reason
        super().__init__(
            {
                "unknown": "this OAuth state was never issued here",
                "expired": "this OAuth state has expired; start the connection again",
                "used": "this OAuth state was already used; start the connection again",
            }[reason]
        )
