"""The ops store's contract, on SQLite and on Postgres (the same tests, parametrized)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect

from stripe_pipeline.ops_store import OAuthStateError, OpsStore, Outcome
from stripe_pipeline.ops_store.migrations import latest_version


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'nested' / 'dir' / 'ops.sqlite'}"
    return request.getfixturevalue("fresh_postgres_url")


@pytest.fixture
def store(store_url: str):
    with OpsStore.open(store_url) as opened:
        yield opened


def _event(store: OpsStore, event_id: str, payload_hash: str = "h1", **kw) -> Outcome:
    return store.record_webhook_event(
        event_id=event_id,
        type=kw.pop("type", "charge.succeeded"),
        payload_hash=payload_hash,
        payload=kw.pop("payload", f'{{"id": "{event_id}"}}'),
        **kw,
    )


def test_open_creates_the_sqlite_folder_and_applies_every_migration_once(store_url: str) -> None:
    first = OpsStore.open(store_url)
    second = OpsStore.open(store_url)  # a second worker opening the same store
    assert first.schema_version() == latest_version()
    assert second.migrate() == []
    tables = set(inspect(first.engine).get_table_names())
    assert {
        "oauth_states",
        "stripe_accounts",
        "stripe_webhook_events",
        "stripe_webhook_conflicts",
        "sync_requests",
        "connector_sync_state",
        "schema_migrations",
    } <= tables
    first.close()
    second.close()


def test_concurrent_opens_of_a_fresh_store_migrate_exactly_once(store_url: str) -> None:
    with ThreadPoolExecutor(6) as pool:
        stores = list(pool.map(lambda _: OpsStore.open(store_url), range(6)))
    from sqlalchemy import func, select

    from stripe_pipeline.ops_store.tables import schema_migrations

    with stores[0].engine.connect() as conn:
        assert (
            conn.execute(select(func.count()).select_from(schema_migrations)).scalar()
            == latest_version()
        )
    for s in stores:
        s.close()


def test_an_unknown_url_scheme_is_refused_with_what_to_use() -> None:
    with pytest.raises(ValueError, match="sqlite:/// or postgresql://"):
        OpsStore.open("mysql://root@localhost/ops")


def test_a_webhook_event_is_stored_once_then_reported_as_duplicate(store: OpsStore) -> None:
    assert _event(store, "evt_1", account_id="acct_1", created=1700000000) is Outcome.STORED
    assert _event(store, "evt_1") is Outcome.DUPLICATE
    assert store.count_webhook_events() == 1
    stored = store.webhook_event("evt_1")
    assert stored is not None
    assert (stored.account_id, stored.status, stored.created) == ("acct_1", "received", 1700000000)
    assert stored.received_at.tzinfo is not None


def test_same_id_with_another_payload_is_a_conflict_kept_apart_and_not_applied(
    store: OpsStore,
) -> None:
    _event(store, "evt_1", "h1", payload='{"v": 1}')
    assert _event(store, "evt_1", "h2", payload='{"v": 2}') is Outcome.CONFLICT
    assert _event(store, "evt_1", "h2", payload='{"v": 2}') is Outcome.CONFLICT
    assert store.webhook_event("evt_1").payload == '{"v": 1}'
    conflicts = store.webhook_conflicts("evt_1")
    assert [(c.payload_hash, c.payload) for c in conflicts] == [("h2", '{"v": 2}')]


def test_concurrent_deliveries_of_one_event_store_it_once(store: OpsStore) -> None:
    barrier = threading.Barrier(8)

    def deliver(_: int) -> Outcome:
        barrier.wait()
        return _event(store, "evt_race")

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(deliver, range(8)))
    assert outcomes.count(Outcome.STORED) == 1
    assert outcomes.count(Outcome.DUPLICATE) == 7
    assert store.count_webhook_events() == 1


def test_pending_events_come_oldest_first_and_leave_once_processed(store: OpsStore) -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    for i, event_id in enumerate(["evt_b", "evt_a", "evt_c"]):
        _event(store, event_id, received_at=base + timedelta(seconds=i))
    assert [e.id for e in store.pending_webhook_events()] == ["evt_b", "evt_a", "evt_c"]
    assert [e.id for e in store.pending_webhook_events(limit=1)] == ["evt_b"]
    assert store.mark_events_processed(["evt_b", "evt_a"], run_id="run_1") == 2
    assert store.mark_events_processed(["evt_b"], run_id="run_2") == 0  # already processed
    assert [e.id for e in store.pending_webhook_events()] == ["evt_c"]
    done = store.webhook_event("evt_b")
    assert (done.status, done.run_id) == ("processed", "run_1")
    assert done.processed_at is not None


def test_deauthorization_event_disconnects_the_account_but_not_after_a_reconnect(
    store: OpsStore,
) -> None:
    store.upsert_account(
        project_id="p1", stripe_account_id="acct_1", livemode=False, scope="read_only"
    )
    now = int(datetime.now(UTC).timestamp())
    _event(
        store,
        "evt_old",
        type="account.application.deauthorized",
        account_id="acct_1",
        created=now - 3600,
    )
    assert store.get_account("acct_1").status == "connected"  # older than the connection
    _event(
        store, "evt_new", type="account.application.deauthorized", account_id="acct_1", created=now
    )
    assert store.get_account("acct_1").status == "disconnected"


def test_accounts_upsert_reconnect_and_list(store: OpsStore) -> None:
    first = store.upsert_account(
        project_id="p1", stripe_account_id="acct_1", livemode=False, scope="read_only"
    )
    store.upsert_account(
        project_id="p2", stripe_account_id="acct_2", livemode=True, scope="read_write"
    )
    assert store.set_account_status("acct_1", "disconnected")
    assert not store.set_account_status("acct_nope", "disconnected")
    assert [a.stripe_account_id for a in store.connected_accounts()] == ["acct_2"]
    assert {a.stripe_account_id for a in store.connected_accounts(include_disconnected=True)} == {
        "acct_1",
        "acct_2",
    }
    again = store.upsert_account(
        project_id="p1", stripe_account_id="acct_1", livemode=False, scope="read_write"
    )
    assert (again.status, again.scope, again.created_at) == (
        "connected",
        "read_write",
        first.created_at,
    )
    assert [a.stripe_account_id for a in store.connected_accounts(project_id="p1")] == ["acct_1"]
    with pytest.raises(ValueError, match="connected or disconnected"):
        store.set_account_status("acct_1", "paused")


def test_sync_requests_queue_and_move_through_statuses(store: OpsStore) -> None:
    first = store.enqueue_sync_request("catalog", project_id="p1")
    second = store.enqueue_sync_request("transactions", account_id="acct_1", since=1700000000)
    assert first != second and first.startswith("sync_")
    assert [r.id for r in store.pending_sync_requests()] == [first, second]
    assert store.mark_sync_request(first, "running", run_id="run_9")
    assert [r.id for r in store.pending_sync_requests()] == [second]
    assert store.get_sync_request(first).run_id == "run_9"
    assert store.mark_sync_request(first, "failed", error="429 from Stripe")
    assert store.get_sync_request(first).error == "429 from Stripe"
    assert not store.mark_sync_request("sync_unknown", "running")
    with pytest.raises(ValueError, match="catalog, transactions"):
        store.enqueue_sync_request("everything")


def test_an_oauth_state_is_single_use_and_expires(store: OpsStore) -> None:
    record = store.create_oauth_state("p1")
    assert store.consume_oauth_state(record.nonce) == "p1"
    with pytest.raises(OAuthStateError) as used:
        store.consume_oauth_state(record.nonce)
    assert used.value.reason == "used"

    short = store.create_oauth_state("p1", ttl=timedelta(minutes=10))
    with pytest.raises(OAuthStateError) as expired:
        store.consume_oauth_state(short.nonce, now=datetime.now(UTC) + timedelta(minutes=11))
    assert expired.value.reason == "expired"
    with pytest.raises(OAuthStateError) as unknown:
        store.consume_oauth_state("never-issued")
    assert unknown.value.reason == "unknown"


def test_concurrent_callbacks_with_one_state_let_exactly_one_through(store: OpsStore) -> None:
    record = store.create_oauth_state("p1")
    barrier = threading.Barrier(6)

    def consume(_: int) -> str:
        barrier.wait()
        try:
            return store.consume_oauth_state(record.nonce)
        except OAuthStateError as exc:
            return exc.reason

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(consume, range(6)))
    assert sorted(results) == ["p1"] + ["used"] * 5


def test_sync_state_cursor_round_trips_and_updates(store: OpsStore) -> None:
    store.record_sync_state("p1", "acct_1", "charges", {"created_gte": 1, "events_after": "evt_1"})
    store.record_sync_state("p1", "acct_1", "charges", {"created_gte": 2})
    state = store.sync_state("p1", "acct_1", "charges")
    assert state.cursor == {"created_gte": 2}
    assert store.sync_state("p1", "acct_1", "refunds") is None
    assert [s.source for s in store.sync_states("p1")] == ["charges"]


@pytest.mark.postgres
def test_a_psycopg3_style_postgres_url_opens_the_store_with_the_installed_driver(
    fresh_postgres_url: str,
) -> None:
    url = fresh_postgres_url.replace("postgresql://", "postgresql+psycopg://", 1)
    with OpsStore.open(url) as store:
        assert _event(store, "evt_psycopg3") is Outcome.STORED
    # settings hand every consumer (the listener, the sensors, the ops copy) the same usable URL
    from stripe_pipeline.settings import load_settings

    settings = load_settings({"OPS_DATABASE_URL": url}, dotenv_path="/nonexistent")
    with OpsStore.from_settings(settings) as store:
        assert store.webhook_event("evt_psycopg3") is not None


def test_an_unsupported_database_driver_is_refused_saying_which_url_to_use() -> None:
    with pytest.raises(ValueError, match=r"asyncpg.*postgresql://"):
        OpsStore.open("postgresql+asyncpg://postgres@127.0.0.1/ops")


# Edge values both back ends must store alike: Stripe's ids have no documented maximum length,
# and `created` is Unix seconds, past 2**31 - 1 after 2038-01-19.
LONG_EVENT_ID = "evt_" + "L" * 296
LONG_ACCOUNT_ID = "acct_" + "A" * 95
AFTER_2038 = 2**31 + 86_400  # 2038-01-20


def test_an_event_created_after_2038_with_long_ids_is_stored_and_read_back(
    store: OpsStore,
) -> None:
    assert (
        _event(store, LONG_EVENT_ID, account_id=LONG_ACCOUNT_ID, created=AFTER_2038)
        is Outcome.STORED
    )
    stored = store.webhook_event(LONG_EVENT_ID)
    assert (stored.account_id, stored.created) == (LONG_ACCOUNT_ID, AFTER_2038)
    assert _event(store, LONG_EVENT_ID, "h2") is Outcome.CONFLICT  # the conflicts table too
    store.upsert_account(
        project_id="p_" + "P" * 250,
        stripe_account_id=LONG_ACCOUNT_ID,
        livemode=False,
        scope="read_only",
    )
    assert store.get_account(LONG_ACCOUNT_ID).project_id == "p_" + "P" * 250
    request = store.enqueue_sync_request(
        "transactions", account_id=LONG_ACCOUNT_ID, since=AFTER_2038
    )
    assert store.get_sync_request(request).since == AFTER_2038
    store.record_sync_state("p1", LONG_ACCOUNT_ID, "stripe_sync", {"run_id": "r" * 100})
    assert store.sync_state("p1", LONG_ACCOUNT_ID, "stripe_sync").cursor == {"run_id": "r" * 100}


def _as_before_migration_2(url: str, *statements: str) -> None:
    """Make `url` look like a store of the first schema: run `statements` (DDL restoring the old
    shape), and forget every migration after the first, so the next open applies them again."""
    from sqlalchemy import text

    with OpsStore.open(url) as store, store.engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
        conn.execute(text("DELETE FROM schema_migrations WHERE version > 1"))


@pytest.mark.postgres
def test_a_postgres_store_made_before_the_bigint_migration_is_widened_on_open(
    fresh_postgres_url: str,
) -> None:
    # The first schema's column types, as Postgres stores created before the migration have them.
    _as_before_migration_2(
        fresh_postgres_url,
        "ALTER TABLE stripe_webhook_events ALTER COLUMN created TYPE integer, "
        "ALTER COLUMN id TYPE varchar(255), ALTER COLUMN account_id TYPE varchar(64)",
        "ALTER TABLE stripe_accounts ALTER COLUMN stripe_account_id TYPE varchar(64)",
    )
    with OpsStore.open(fresh_postgres_url) as store:
        assert store.schema_version() == latest_version()
        assert (
            _event(store, LONG_EVENT_ID, account_id=LONG_ACCOUNT_ID, created=AFTER_2038)
            is Outcome.STORED
        )
        assert store.webhook_event(LONG_EVENT_ID).created == AFTER_2038


def test_skipped_events_leave_the_pending_list_with_their_reason(store: OpsStore) -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    for i, event_id in enumerate(["evt_orphan", "evt_kept"]):
        _event(store, event_id, received_at=base + timedelta(seconds=i))
    assert store.mark_events_skipped(["evt_orphan"], "account acct_x was never connected") == 1
    assert store.mark_events_skipped(["evt_orphan"], "again") == 0  # only received events
    assert [e.id for e in store.pending_webhook_events()] == ["evt_kept"]
    skipped = store.webhook_event("evt_orphan")
    assert (skipped.status, skipped.status_reason) == (
        "skipped",
        "account acct_x was never connected",
    )
    assert skipped.processed_at is not None


def test_a_sqlite_store_made_before_the_skipped_status_is_rebuilt_on_open_keeping_its_events(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'ops.sqlite'}"
    # The inbox as the first schema made it: no status_reason, no `skipped` in the CHECK.
    _as_before_migration_2(
        url,
        "DROP TABLE stripe_webhook_events",
        "CREATE TABLE stripe_webhook_events (id VARCHAR(255) NOT NULL PRIMARY KEY, "
        "account_id VARCHAR(64), type VARCHAR(120) NOT NULL, livemode BOOLEAN NOT NULL, "
        "api_version VARCHAR(40), created INTEGER, payload_hash VARCHAR(64) NOT NULL, "
        "payload TEXT NOT NULL, received_at DATETIME NOT NULL, processed_at DATETIME, "
        "status VARCHAR(20) NOT NULL, run_id VARCHAR(64), CONSTRAINT "
        "ck_stripe_webhook_events_status CHECK (status in ('received', 'processed', "
        "'conflict', 'failed')))",
        "CREATE INDEX ix_stripe_webhook_events_status ON stripe_webhook_events "
        "(status, received_at)",
        "INSERT INTO stripe_webhook_events VALUES ('evt_old', 'acct_gone', 'charge.succeeded', "
        "0, NULL, 1700000000, 'h1', '{}', '2026-01-01 00:00:00', NULL, 'received', NULL)",
    )
    with OpsStore.open(url) as store:
        assert store.schema_version() == latest_version()
        kept = store.webhook_event("evt_old")
        assert (kept.account_id, kept.created, kept.status) == ("acct_gone", 1700000000, "received")
        assert store.mark_events_skipped(["evt_old"], "account acct_gone was never connected") == 1
        assert store.pending_webhook_events() == []
