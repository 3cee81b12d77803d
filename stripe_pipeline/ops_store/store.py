"""`OpsStore`: the one SQL layer over the ops store, for the listener and the Dagster sensors."""

from __future__ import annotations

import contextlib
import random
import secrets
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, delete, event, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, IntegrityError

from stripe_pipeline.ops_store import migrations
from stripe_pipeline.ops_store.models import (
    SYNC_KINDS,
    SYNC_STATUSES,
    OAuthStateError,
    OAuthStateRecord,
    Outcome,
    StripeAccount,
    SyncRequest,
    SyncState,
    WebhookConflict,
    WebhookEvent,
)
from stripe_pipeline.ops_store.tables import (
    connector_sync_state,
    oauth_states,
    stripe_accounts,
    stripe_webhook_conflicts,
    stripe_webhook_events,
    sync_requests,
)
from stripe_pipeline.ops_store.urls import resolve_ops_url

DEAUTHORIZED_EVENT = "account.application.deauthorized"
# Seconds a SQLite writer waits for another process's write lock before giving up.
SQLITE_BUSY_TIMEOUT_S = 30


def _now() -> datetime:
    return datetime.now(UTC)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" hook below issue BEGIN itself: pysqlite's own implicit
        # transactions skip DDL and cannot take the write lock up front.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        # WAL: readers (the sensors) never block the listener's writes, and the reverse.
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        # FULL: a commit is on disk before the listener answers Stripe 2xx, even on power loss.
        cur.execute("PRAGMA synchronous=FULL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the lock at BEGIN (IMMEDIATE): a deferred transaction that upgrades to a
        # writer later fails at once with "database is locked", whatever the busy timeout.
        if conn.get_execution_options().get("sqlite_begin") != "IMMEDIATE":
            conn.exec_driver_sql("BEGIN")
            return
        _begin_immediate(conn.connection.dbapi_connection)


def _begin_immediate(dbapi_conn: Any) -> None:
    """BEGIN IMMEDIATE, waiting for another process's writer in sub-millisecond steps. SQLite's
    own busy handler sleeps 1, 2, 5, 10, 15, 20, 25... ms between tries, which under a steady
    webhook load put the listener's p99 at hundreds of milliseconds for locks held ~1 ms."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=0")
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    try:
        while True:
            try:
                cur.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if time.monotonic() > deadline:
                    raise
                time.sleep(random.uniform(0.0001, 0.0008))
    finally:
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        cur.close()


class OpsStore:
    """Typed access to the ops store. Open with `OpsStore.open(url)`; safe to share across threads
    and to use from several processes at once (every insert that can race is an upsert)."""

    # Engines are made with hide_parameters=True: a database error's message would otherwise
    # quote the statement's parameters (a webhook payload, an OAuth nonce) into logs.
    def __init__(self, engine: Engine):
        self.engine = engine
        self.dialect = engine.dialect.name
        # SQLite has one writer at a time: threads of this process queue here, without the
        # polling that waiting on the file lock costs (other processes still poll, see above).
        self._sqlite_writer = (
            threading.Lock() if self.dialect == "sqlite" else contextlib.nullcontext()
        )
        # (monotonic time, error type) of the last failed write, None after a success.
        self._last_write_failure: tuple[float, str] | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> OpsStore:
        """Connect to `url` (SQLAlchemy URL: sqlite:///path or postgresql://...), creating a
        SQLite file's parent folders, and apply pending migrations."""
        parsed = resolve_ops_url(url)
        if parsed.get_backend_name() == "sqlite":
            database = parsed.database or ""
            if database in ("", ":memory:"):
                raise ValueError(
                    "the ops store needs a file or a server: an in-memory SQLite database is not "
                    "shared between connections; use sqlite:///path/to/ops.sqlite"
                )
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(
                parsed,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
                hide_parameters=True,
            )
            _configure_sqlite(engine)
        else:  # postgresql: resolve_ops_url lets nothing else through
            engine = create_engine(
                parsed, pool_pre_ping=True, pool_size=5, max_overflow=10, hide_parameters=True
            )
        store = cls(engine)
        if migrate:
            store.migrate()
        return store

    @classmethod
    def from_settings(cls, settings: Any) -> OpsStore:
        return cls.open(settings.ops_database_url)

    def migrate(self) -> list[int]:
        with self._write() as conn:
            return migrations.migrate(conn)

    def schema_version(self) -> int:
        from stripe_pipeline.ops_store.tables import schema_migrations

        with self.engine.connect() as conn:
            return int(conn.execute(select(func.max(schema_migrations.c.version))).scalar() or 0)

    def ping(self) -> None:
        """Raises if the store cannot answer a query (for health checks)."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def check_writable(self) -> None:
        """Raises if the store cannot take a write (a read-only database or volume, a standby):
        one write statement inside a transaction that is rolled back, so nothing changes."""
        from stripe_pipeline.ops_store.tables import schema_migrations

        with self._sqlite_writer, self.engine.connect() as conn:
            conn.execution_options(sqlite_begin="IMMEDIATE")
            with conn.begin() as transaction:
                conn.execute(
                    update(schema_migrations)
                    .where(schema_migrations.c.version == -1)
                    .values(name=schema_migrations.c.name)
                )
                transaction.rollback()

    def recent_write_failure(self, within_s: float) -> str | None:
        """The error type of the last write, if it failed less than `within_s` seconds ago and
        no write has succeeded since (a full disk fails only real writes, not a probe)."""
        failure = self._last_write_failure
        if failure is None or time.monotonic() - failure[0] > within_s:
            return None
        return failure[1]

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> OpsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        try:
            with self._sqlite_writer, self.engine.connect() as conn:
                conn.execution_options(sqlite_begin="IMMEDIATE")
                with conn.begin():
                    yield conn
        except DBAPIError as exc:
            if not isinstance(exc, IntegrityError):  # a refused row is not a failing store
                self._last_write_failure = (time.monotonic(), type(exc.orig).__name__)
            raise
        self._last_write_failure = None

    def _insert(self, table: Any) -> Any:
        return pg_insert(table) if self.dialect == "postgresql" else sqlite_insert(table)

    # -- webhook inbox -----------------------------------------------------------------------

    def record_webhook_event(
        self,
        *,
        event_id: str,
        type: str,
        payload_hash: str,
        payload: str,
        account_id: str | None = None,
        livemode: bool = False,
        api_version: str | None = None,
        created: int | None = None,
        received_at: datetime | None = None,
    ) -> Outcome:
        """Store a verified event once. The same id with the same payload hash is a duplicate
        (nothing written); with a different hash it is a conflict, recorded apart and not applied.
        A first `account.application.deauthorized` for a connected account disconnects it in the
        same transaction, unless the account was (re)connected after the event was created."""
        received_at = received_at or _now()
        with self._write() as conn:
            inserted = conn.execute(
                self._insert(stripe_webhook_events)
                .values(
                    id=event_id,
                    account_id=account_id,
                    type=type,
                    livemode=livemode,
                    api_version=api_version,
                    created=created,
                    payload_hash=payload_hash,
                    payload=payload,
                    received_at=received_at,
                    status="received",
                )
                .on_conflict_do_nothing(index_elements=["id"])
            ).rowcount
            if inserted == 1:
                if type == DEAUTHORIZED_EVENT and account_id:
                    self._disconnect_for_event(conn, account_id, created)
                return Outcome.STORED
            existing_hash = conn.execute(
                select(stripe_webhook_events.c.payload_hash).where(
                    stripe_webhook_events.c.id == event_id
                )
            ).scalar_one()
            if existing_hash == payload_hash:
                return Outcome.DUPLICATE
            conn.execute(
                self._insert(stripe_webhook_conflicts)
                .values(
                    event_id=event_id,
                    payload_hash=payload_hash,
                    payload=payload,
                    received_at=received_at,
                )
                .on_conflict_do_nothing(index_elements=["event_id", "payload_hash"])
            )
            return Outcome.CONFLICT

    def _disconnect_for_event(self, conn: Connection, account_id: str, created: int | None) -> None:
        condition = stripe_accounts.c.stripe_account_id == account_id
        if created is not None:
            # Deliveries arrive in any order: an old deauthorization must not undo a reconnect.
            # Stripe's `created` has whole seconds, so the same second still counts.
            condition &= stripe_accounts.c.updated_at < datetime.fromtimestamp(created + 1, UTC)
        conn.execute(
            update(stripe_accounts)
            .where(condition)
            .values(status="disconnected", updated_at=_now())
        )

    def pending_webhook_events(
        self, limit: int = 500, *, account_id: str | None = None
    ) -> list[WebhookEvent]:
        """Events not yet processed, oldest delivery first."""
        query = (
            select(stripe_webhook_events)
            .where(stripe_webhook_events.c.status == "received")
            .order_by(stripe_webhook_events.c.received_at, stripe_webhook_events.c.id)
            .limit(limit)
        )
        if account_id is not None:
            query = query.where(stripe_webhook_events.c.account_id == account_id)
        with self.engine.connect() as conn:
            return [WebhookEvent(**row._mapping) for row in conn.execute(query)]

    def mark_events_processed(self, ids: Iterable[str], run_id: str | None = None) -> int:
        """Mark events processed by a run; returns how many changed (already processed: skipped)."""
        return self._set_event_status(ids, "processed", run_id)

    def mark_events_failed(self, ids: Iterable[str], run_id: str | None = None) -> int:
        return self._set_event_status(ids, "failed", run_id)

    def mark_events_skipped(self, ids: Iterable[str], reason: str) -> int:
        """Mark still-received events `skipped` with `reason` (their account will not be synced):
        they leave `pending_webhook_events`, so they never fill its batch again. Returns how
        many changed."""
        return self._set_event_status(
            ids, "skipped", None, only_from="received", status_reason=reason
        )

    def _set_event_status(
        self,
        ids: Iterable[str],
        status: str,
        run_id: str | None,
        *,
        only_from: str | None = None,
        status_reason: str | None = None,
    ) -> int:
        ids = list(ids)
        if not ids:
            return 0
        # Without `only_from`, any status but processed may change (a failed event processed later).
        condition = (
            stripe_webhook_events.c.status == only_from
            if only_from
            else stripe_webhook_events.c.status != "processed"
        )
        with self._write() as conn:
            return conn.execute(
                update(stripe_webhook_events)
                .where(stripe_webhook_events.c.id.in_(ids), condition)
                .values(
                    status=status, processed_at=_now(), run_id=run_id, status_reason=status_reason
                )
            ).rowcount

    def webhook_event(self, event_id: str) -> WebhookEvent | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(stripe_webhook_events).where(stripe_webhook_events.c.id == event_id)
            ).first()
        return WebhookEvent(**row._mapping) if row else None

    def webhook_event_ids(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(stripe_webhook_events.c.id)).scalars())

    def count_webhook_events(self) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(select(func.count()).select_from(stripe_webhook_events)).scalar()
            )

    def webhook_conflicts(self, event_id: str | None = None) -> list[WebhookConflict]:
        query = select(
            stripe_webhook_conflicts.c.event_id,
            stripe_webhook_conflicts.c.payload_hash,
            stripe_webhook_conflicts.c.payload,
            stripe_webhook_conflicts.c.received_at,
        ).order_by(stripe_webhook_conflicts.c.seq)
        if event_id is not None:
            query = query.where(stripe_webhook_conflicts.c.event_id == event_id)
        with self.engine.connect() as conn:
            return [WebhookConflict(**row._mapping) for row in conn.execute(query)]

    # -- connected accounts ------------------------------------------------------------------

    def upsert_account(
        self,
        *,
        project_id: str,
        stripe_account_id: str,
        livemode: bool,
        scope: str | None,
        status: str = "connected",
    ) -> StripeAccount:
        """Insert or update (reconnect: status back to `connected`, project and scope refreshed).

        An account connected to another project is left as it is, in the same statement (two
        callbacks racing cannot move it either): the returned account then names the project
        that owns it, and the caller refuses. Disconnect it first to move it."""
        now = _now()
        stmt = self._insert(stripe_accounts).values(
            stripe_account_id=stripe_account_id,
            project_id=project_id,
            livemode=livemode,
            status=status,
            scope=scope,
            created_at=now,
            updated_at=now,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["stripe_account_id"],
            set_={
                "project_id": stmt.excluded.project_id,
                "livemode": stmt.excluded.livemode,
                "status": stmt.excluded.status,
                "scope": stmt.excluded.scope,
                "updated_at": stmt.excluded.updated_at,
            },
            where=(stripe_accounts.c.status == "disconnected")
            | (stripe_accounts.c.project_id == stmt.excluded.project_id),
        )
        with self._write() as conn:
            conn.execute(stmt)
            row = conn.execute(
                select(stripe_accounts).where(
                    stripe_accounts.c.stripe_account_id == stripe_account_id
                )
            ).one()
        return StripeAccount(**row._mapping)

    def set_account_status(self, stripe_account_id: str, status: str) -> bool:
        """Returns False when the account is unknown."""
        if status not in ("connected", "disconnected"):
            raise ValueError(f"account status must be connected or disconnected, got {status!r}")
        with self._write() as conn:
            return (
                conn.execute(
                    update(stripe_accounts)
                    .where(stripe_accounts.c.stripe_account_id == stripe_account_id)
                    .values(status=status, updated_at=_now())
                ).rowcount
                == 1
            )

    def get_account(self, stripe_account_id: str) -> StripeAccount | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(stripe_accounts).where(
                    stripe_accounts.c.stripe_account_id == stripe_account_id
                )
            ).first()
        return StripeAccount(**row._mapping) if row else None

    def connected_accounts(
        self, include_disconnected: bool = False, *, project_id: str | None = None
    ) -> list[StripeAccount]:
        query = select(stripe_accounts).order_by(
            stripe_accounts.c.created_at, stripe_accounts.c.stripe_account_id
        )
        if not include_disconnected:
            query = query.where(stripe_accounts.c.status == "connected")
        if project_id is not None:
            query = query.where(stripe_accounts.c.project_id == project_id)
        with self.engine.connect() as conn:
            return [StripeAccount(**row._mapping) for row in conn.execute(query)]

    # -- sync requests -----------------------------------------------------------------------

    def enqueue_sync_request(
        self,
        kind: str,
        *,
        project_id: str | None = None,
        account_id: str | None = None,
        since: int | None = None,
    ) -> str:
        """Queue a sync for the sensors; returns its id (`sync_...`)."""
        if kind not in SYNC_KINDS:
            raise ValueError(f"sync kind must be one of {', '.join(SYNC_KINDS)}, got {kind!r}")
        request_id = f"sync_{uuid.uuid4().hex}"
        now = _now()
        with self._write() as conn:
            conn.execute(
                sync_requests.insert().values(
                    id=request_id,
                    kind=kind,
                    project_id=project_id,
                    account_id=account_id,
                    since=since,
                    status="pending",
                    created_at=now,
                    updated_at=now,
                )
            )
        return request_id

    def pending_sync_requests(self, limit: int = 100) -> list[SyncRequest]:
        query = (
            select(sync_requests)
            .where(sync_requests.c.status == "pending")
            .order_by(sync_requests.c.created_at, sync_requests.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [SyncRequest(**row._mapping) for row in conn.execute(query)]

    def get_sync_request(self, request_id: str) -> SyncRequest | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(sync_requests).where(sync_requests.c.id == request_id)
            ).first()
        return SyncRequest(**row._mapping) if row else None

    def mark_sync_request(
        self, request_id: str, status: str, run_id: str | None = None, error: str | None = None
    ) -> bool:
        """Returns False when the request is unknown."""
        if status not in SYNC_STATUSES:
            raise ValueError(
                f"sync status must be one of {', '.join(SYNC_STATUSES)}, got {status!r}"
            )
        values: dict[str, Any] = {"status": status, "updated_at": _now()}
        if run_id is not None:
            values["run_id"] = run_id
        if error is not None:
            values["error"] = error
        with self._write() as conn:
            return (
                conn.execute(
                    update(sync_requests).where(sync_requests.c.id == request_id).values(**values)
                ).rowcount
                == 1
            )

    # -- OAuth states ------------------------------------------------------------------------

    def create_oauth_state(
        self, project_id: str, ttl: timedelta = timedelta(minutes=10)
    ) -> OAuthStateRecord:
        """A fresh single-use nonce bound to `project_id`. (The listener signs it; see
        webhook_listener/oauth_state.py.) States expired for a day are swept here."""
        now = _now()
        record = OAuthStateRecord(
            nonce=secrets.token_urlsafe(24),
            project_id=project_id,
            created_at=now,
            expires_at=now + ttl,
        )
        with self._write() as conn:
            conn.execute(
                delete(oauth_states).where(oauth_states.c.expires_at < now - timedelta(days=1))
            )
            conn.execute(
                oauth_states.insert().values(
                    nonce=record.nonce,
                    project_id=project_id,
                    created_at=record.created_at,
                    expires_at=record.expires_at,
                )
            )
        return record

    def consume_oauth_state(self, nonce: str, now: datetime | None = None) -> str:
        """Use a state once: returns its project id, or raises OAuthStateError (unknown, expired,
        used). Two concurrent callbacks with the same state: exactly one wins."""
        now = now or _now()
        with self._write() as conn:
            won = conn.execute(
                update(oauth_states)
                .where(
                    oauth_states.c.nonce == nonce,
                    oauth_states.c.consumed_at.is_(None),
                    oauth_states.c.expires_at > now,
                )
                .values(consumed_at=now)
            ).rowcount
            row = conn.execute(
                select(oauth_states.c.project_id, oauth_states.c.consumed_at).where(
                    oauth_states.c.nonce == nonce
                )
            ).first()
        if row is None:
            raise OAuthStateError("unknown")
        if won == 1:
            return row.project_id
        raise OAuthStateError("used" if row.consumed_at is not None else "expired")

    # -- connector sync state ----------------------------------------------------------------

    def record_sync_state(
        self, project_id: str, account_id: str, source: str, cursor: dict[str, Any]
    ) -> None:
        stmt = self._insert(connector_sync_state).values(
            project_id=project_id,
            account_id=account_id,
            source=source,
            cursor=orjson.dumps(cursor).decode(),
            updated_at=_now(),
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["project_id", "account_id", "source"],
            set_={"cursor": stmt.excluded.cursor, "updated_at": stmt.excluded.updated_at},
        )
        with self._write() as conn:
            conn.execute(stmt)

    def sync_state(self, project_id: str, account_id: str, source: str) -> SyncState | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(connector_sync_state).where(
                    connector_sync_state.c.project_id == project_id,
                    connector_sync_state.c.account_id == account_id,
                    connector_sync_state.c.source == source,
                )
            ).first()
        return _sync_state(row) if row else None

    def sync_states(self, project_id: str | None = None) -> list[SyncState]:
        query = select(connector_sync_state).order_by(
            connector_sync_state.c.project_id,
            connector_sync_state.c.account_id,
            connector_sync_state.c.source,
        )
        if project_id is not None:
            query = query.where(connector_sync_state.c.project_id == project_id)
        with self.engine.connect() as conn:
            return [_sync_state(row) for row in conn.execute(query)]


def _sync_state(row: Any) -> SyncState:
    values = dict(row._mapping)
    values["cursor"] = orjson.loads(values["cursor"])
    return SyncState(**values)


__all__ = ["OpsStore"]
