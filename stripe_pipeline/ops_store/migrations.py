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


MIGRATIONS: tuple[Migration, ...] = (Migration(1, "initial schema", _initial_schema),)


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
