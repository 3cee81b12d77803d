"""Numbered schema migrations, applied in order when the store opens.

Each migration runs once, inside one transaction that holds a lock (Postgres: an advisory
lock; SQLite: BEGIN IMMEDIATE), so several listener workers opening a fresh store at the same
moment apply it exactly once. A migration is a function of the connection; later ones must be
explicit DDL, never `metadata.create_all`, because the metadata always describes the newest schema.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, select, text

from stripe_pipeline.ops_store import tables

# Any constant works; it only has to be the same for every process that migrates this store.
_PG_ADVISORY_LOCK_KEY = 0x5_7219_0095


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[Connection], None]


def _initial_schema(conn: Connection) -> None:
    to_create = [t for t in tables.metadata.sorted_tables if t.name != "schema_migrations"]
    tables.metadata.create_all(conn, tables=to_create)


# Postgres sized the first schema's columns (int4 `created`, varchar ids): an event created after
# 2038-01-19 or an id longer than the limit failed on every retry while SQLite stored it.
# SQLite ignores lengths and its INTEGER is 64-bit, so it has nothing to change. On a store made
# after this migration, the types are already these: ALTER ... TYPE to the same type is a no-op.
_WIDENED = {
    "oauth_states": {"project_id": "text"},
    "stripe_accounts": {"stripe_account_id": "text", "project_id": "text", "scope": "text"},
    "stripe_webhook_events": {
        "id": "text",
        "account_id": "text",
        "type": "text",
        "api_version": "text",
        "created": "bigint",
        "run_id": "text",
    },
    "stripe_webhook_conflicts": {"event_id": "text"},
    "sync_requests": {
        "project_id": "text",
        "account_id": "text",
        "since": "bigint",
        "run_id": "text",
    },
    "connector_sync_state": {"project_id": "text", "account_id": "text", "source": "text"},
}


def _widen_postgres_columns(conn: Connection) -> None:
    if conn.dialect.name != "postgresql":
        return
    for table, columns in _WIDENED.items():
        changes = ", ".join(f"ALTER COLUMN {c} TYPE {t}" for c, t in columns.items())
        conn.execute(text(f"ALTER TABLE {table} {changes}"))


_WEBHOOK_STATUSES = "'received', 'processed', 'conflict', 'failed', 'skipped'"
# The inbox table as migration 3 leaves it on SQLite, which cannot alter a CHECK constraint: the
# table is rebuilt (SQLite's documented procedure: new table, copy, drop, rename).
_SQLITE_WEBHOOK_EVENTS_V3 = f"""
CREATE TABLE stripe_webhook_events_v3 (
    id TEXT NOT NULL,
    account_id TEXT,
    type TEXT NOT NULL,
    livemode BOOLEAN NOT NULL,
    api_version TEXT,
    created BIGINT,
    payload_hash VARCHAR(64) NOT NULL,
    payload TEXT NOT NULL,
    received_at DATETIME NOT NULL,
    processed_at DATETIME,
    status VARCHAR(20) NOT NULL,
    run_id TEXT,
    status_reason TEXT,
    PRIMARY KEY (id),
    CONSTRAINT ck_stripe_webhook_events_status CHECK (status in ({_WEBHOOK_STATUSES}))
)"""
_V1_WEBHOOK_COLUMNS = (
    "id, account_id, type, livemode, api_version, created, payload_hash, payload, received_at, "
    "processed_at, status, run_id"
)


def _skipped_webhook_status(conn: Connection) -> None:
    """Inbox events the pipeline will never sync (their account was never connected, or is
    disconnected) become `skipped`, with the reason, so they stop filling the sensor's batch."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            text("ALTER TABLE stripe_webhook_events ADD COLUMN IF NOT EXISTS status_reason text")
        )
        conn.execute(
            text(
                "ALTER TABLE stripe_webhook_events "
                "DROP CONSTRAINT IF EXISTS ck_stripe_webhook_events_status, "
                "ADD CONSTRAINT ck_stripe_webhook_events_status "
                f"CHECK (status in ({_WEBHOOK_STATUSES}))"
            )
        )
        return
    conn.execute(text(_SQLITE_WEBHOOK_EVENTS_V3))
    conn.execute(
        text(
            f"INSERT INTO stripe_webhook_events_v3 ({_V1_WEBHOOK_COLUMNS}) "
            f"SELECT {_V1_WEBHOOK_COLUMNS} FROM stripe_webhook_events"
        )
    )
    conn.execute(text("DROP TABLE stripe_webhook_events"))
    conn.execute(text("ALTER TABLE stripe_webhook_events_v3 RENAME TO stripe_webhook_events"))
    conn.execute(
        text(
            "CREATE INDEX ix_stripe_webhook_events_status "
            "ON stripe_webhook_events (status, received_at)"
        )
    )


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", _initial_schema),
    Migration(2, "text ids and bigint Unix seconds on Postgres", _widen_postgres_columns),
    Migration(3, "skipped webhook events, with a reason", _skipped_webhook_status),
)


def migrate(conn: Connection) -> list[int]:
    """Apply the pending migrations on `conn` (already inside a locked transaction for SQLite);
    returns the versions applied."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_ADVISORY_LOCK_KEY})
    tables.schema_migrations.create(conn, checkfirst=True)
    done = set(conn.execute(select(tables.schema_migrations.c.version)).scalars())
    applied = []
    for migration in MIGRATIONS:
        if migration.version in done:
            continue
        migration.apply(conn)
        conn.execute(
            tables.schema_migrations.insert().values(
                version=migration.version, name=migration.name, applied_at=datetime.now(UTC)
            )
        )
        applied.append(migration.version)
    return applied


def latest_version() -> int:
    return max(m.version for m in MIGRATIONS)
