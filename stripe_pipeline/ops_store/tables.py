"""The ops store's tables, as SQLAlchemy Core metadata (one definition for SQLite and Postgres).

Ids, account and project ids are `text` and Unix seconds `bigint`: Stripe documents no maximum
id length, and `created` passes 2**31 - 1 on 2038-01-19 (SQLite stores both alike anyway; the
Postgres columns were widened by migration 2). Timestamps are stored as UTC; `UTCDateTime` hands back timezone-aware values on both backends,
because SQLite keeps no zone and a naive datetime compared with an aware one raises.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData()


class UTCDateTime(TypeDecorator[datetime]):
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("ops store timestamps must be timezone-aware (use datetime.now(UTC))")
        value = value.astimezone(UTC)
        # SQLite has no zone type: store naive UTC so string comparisons order correctly.
        return value.replace(tzinfo=None) if getattr(dialect, "name", "") == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


schema_migrations = Table(
    "schema_migrations",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("name", String(200), nullable=False),
    Column("applied_at", UTCDateTime, nullable=False),
)

# One row per `state` handed to Stripe's authorize page. Only the nonce is stored; the
# signature that binds it to the project and expiry is checked before the row is looked up.
oauth_states = Table(
    "oauth_states",
    metadata,
    Column("nonce", String(64), primary_key=True),
    Column("project_id", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("consumed_at", UTCDateTime, nullable=True),
)

# A Stripe account can be connected to one platform once, so its id is the key; reconnecting
# (possibly for another project) updates the row instead of adding one.
stripe_accounts = Table(
    "stripe_accounts",
    metadata,
    Column("stripe_account_id", Text, primary_key=True),
    Column("project_id", Text, nullable=False),
    Column("livemode", Boolean, nullable=False, default=False),
    Column("status", String(20), nullable=False),
    Column("scope", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("status in ('connected', 'disconnected')", name="ck_stripe_accounts_status"),
)
Index("ix_stripe_accounts_project", stripe_accounts.c.project_id)

stripe_webhook_events = Table(
    "stripe_webhook_events",
    metadata,
    Column("id", Text, primary_key=True),
    # The connected account (`event.account`); NULL for the platform's own events.
    Column("account_id", Text, nullable=True),
    Column("type", Text, nullable=False),
    Column("livemode", Boolean, nullable=False, default=False),
    Column("api_version", Text, nullable=True),
    # Stripe's own `created` (Unix seconds), for ordering; deliveries arrive in any order.
    Column("created", BigInteger, nullable=True),
    # sha256 of the raw body as delivered, hex: what idempotency compares.
    Column("payload_hash", String(64), nullable=False),
    # The verified event JSON with card details scrubbed; the pipeline reads objects from it.
    Column("payload", Text, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("processed_at", UTCDateTime, nullable=True),
    Column("status", String(20), nullable=False, default="received"),
    Column("run_id", Text, nullable=True),
    # Why an event was `skipped` (e.g. its account was never connected); NULL otherwise.
    Column("status_reason", Text, nullable=True),
    CheckConstraint(
        "status in ('received', 'processed', 'conflict', 'failed', 'skipped')",
        name="ck_stripe_webhook_events_status",
    ),
)
Index(
    "ix_stripe_webhook_events_status",
    stripe_webhook_events.c.status,
    stripe_webhook_events.c.received_at,
)

# A delivery whose id was seen with a different body: kept for a person to look at, never applied.
stripe_webhook_conflicts = Table(
    "stripe_webhook_conflicts",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("event_id", Text, nullable=False),
    Column("payload_hash", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    UniqueConstraint("event_id", "payload_hash", name="uq_stripe_webhook_conflicts_event_hash"),
)

sync_requests = Table(
    "sync_requests",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("project_id", Text, nullable=True),
    Column("account_id", Text, nullable=True),
    # Unix seconds; NULL means "from the sync cursor".
    Column("since", BigInteger, nullable=True),
    Column("status", String(20), nullable=False, default="pending"),
    Column("run_id", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("kind in ('catalog', 'transactions')", name="ck_sync_requests_kind"),
    CheckConstraint(
        "status in ('pending', 'running', 'succeeded', 'failed')", name="ck_sync_requests_status"
    ),
)
Index("ix_sync_requests_status", sync_requests.c.status, sync_requests.c.created_at)

connector_sync_state = Table(
    "connector_sync_state",
    metadata,
    Column("project_id", Text, nullable=False),
    Column("account_id", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("cursor", Text, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("project_id", "account_id", "source", name="pk_connector_sync_state"),
)
