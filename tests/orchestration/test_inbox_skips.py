"""The inbox sensor never starves: events of accounts that will never be synced (never connected,
disconnected) are marked `skipped` with the reason, so they stop filling its batch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg

from stripe_emulator.testing import EmulatorHandle
from stripe_pipeline.defs.automation.sensors import INBOX_BATCH
from stripe_pipeline.defs.common import STRIPE_ACCOUNTS
from stripe_pipeline.ops_store.tables import stripe_webhook_events
from tests.orchestration.test_sensors import _tick, _webhook


def _orphan_events(store, count: int, account_id: str, since: datetime) -> None:
    """`count` received events of `account_id`, inserted in one statement (the listener would
    take minutes to store this many one by one)."""
    rows = [
        {
            "id": f"evt_orphan_{account_id}_{i:06d}",
            "account_id": account_id,
            "type": "charge.succeeded",
            "livemode": False,
            "payload_hash": "0" * 64,
            "payload": "{}",
            "received_at": since + timedelta(microseconds=i),
            "status": "received",
        }
        for i in range(count)
    ]
    with store.engine.begin() as conn:
        conn.execute(stripe_webhook_events.insert(), rows)


def test_more_orphan_events_than_a_batch_do_not_hide_a_connected_accounts_new_event(
    orchestration_defs: dg.Definitions,
    orchestration_resources: dict[str, object],
    dagster_instance: dg.DagsterInstance,
    emulator: EmulatorHandle,
    ops_store,
) -> None:
    first = emulator.connected_account_ids[0]
    ops_store.upsert_account(
        project_id="proj_a", stripe_account_id=first, livemode=False, scope="read_only"
    )
    ops_store.upsert_account(
        project_id="proj_a", stripe_account_id="acct_gone", livemode=False, scope="read_only"
    )
    ops_store.set_account_status("acct_gone", "disconnected")
    dagster_instance.add_dynamic_partitions(STRIPE_ACCOUNTS.name, [first])
    start = datetime.now(UTC) - timedelta(hours=1)
    _orphan_events(ops_store, INBOX_BATCH, "acct_never", start)
    _orphan_events(ops_store, 2, "acct_gone", start + timedelta(minutes=1))
    _webhook(ops_store, "evt_connected", first, datetime.now(UTC))

    result = _tick(
        orchestration_defs, "webhook_inbox_sensor", dagster_instance, orchestration_resources
    )

    assert [(r.partition_key, r.run_key) for r in result.run_requests] == [
        (first, f"webhook:{first}:evt_connected")
    ]
    never = ops_store.webhook_event("evt_orphan_acct_never_000000")
    assert (never.status, never.status_reason) == (
        "skipped",
        "Stripe account acct_never was never connected",
    )
    gone = ops_store.webhook_event("evt_orphan_acct_gone_000001")
    assert (gone.status, gone.status_reason) == (
        "skipped",
        "Stripe account acct_gone is disconnected",
    )
    assert [e.id for e in ops_store.pending_webhook_events()] == ["evt_connected"]


def test_events_of_a_connected_account_whose_partition_is_not_added_yet_keep_waiting(
    orchestration_defs: dg.Definitions,
    orchestration_resources: dict[str, object],
    dagster_instance: dg.DagsterInstance,
    ops_store,
) -> None:
    # Connected a moment ago: the accounts sensor (every 60 s) has not added its partition, and
    # its first backfill will land these events.
    ops_store.upsert_account(
        project_id="proj_a", stripe_account_id="acct_new", livemode=False, scope="read_only"
    )
    _webhook(ops_store, "evt_new_account", "acct_new", datetime.now(UTC))

    result = _tick(
        orchestration_defs, "webhook_inbox_sensor", dagster_instance, orchestration_resources
    )

    assert not result.run_requests
    assert ops_store.webhook_event("evt_new_account").status == "received"
