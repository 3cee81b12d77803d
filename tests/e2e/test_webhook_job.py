"""stripe_webhook_job in process (real emulator, warehouse, dbt and publish; the inbox filled as
the listener fills it): what the fast path lands when Stripe's deliveries come out of order, and
that a run whose events an earlier run landed rebuilds nothing, and that the regular sync still
runs over what the fast path wrote."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb
import orjson
import pytest

from stripe_emulator.testing import EmulatorHandle
from stripe_pipeline.defs.common import STRIPE_ACCOUNTS, TAG_TRIGGER
from stripe_pipeline.settings import Settings

# A whole in-process webhook run after a backfill: about a minute and a half on 2 busy cores.
pytestmark = pytest.mark.slow


def _receive(store, event: dict, received_at: datetime) -> None:
    raw = orjson.dumps(event)
    store.record_webhook_event(
        event_id=event["id"],
        type=event["type"],
        payload_hash=hashlib.sha256(raw).hexdigest(),
        payload=raw.decode(),
        account_id=event.get("account"),
        created=event.get("created"),
        received_at=received_at,
    )


def test_webhook_run_lands_current_objects_whatever_order_events_arrived_and_marks_them(
    orchestration_defs: dg.Definitions,
    dagster_instance: dg.DagsterInstance,
    emulator: EmulatorHandle,
    pipeline_settings: Settings,
    ops_store,
) -> None:
    platform = emulator.platform_account_id
    dagster_instance.add_dynamic_partitions(STRIPE_ACCOUNTS.name, [platform])
    backfill = orchestration_defs.resolve_job_def("stripe_sync_job").execute_in_process(
        instance=dagster_instance, partition_key=platform
    )
    assert backfill.success

    client = emulator.client()
    already = {e.id for e in client.v1.events.list({"limit": 100}).data}
    intent = client.v1.payment_intents.create(
        {"amount": 2500, "currency": "usd", "confirm": True, "payment_method": "pm_card_visa"}
    )
    refund = client.v1.refunds.create({"payment_intent": intent.id})
    events = [e.to_dict() for e in client.v1.events.list({"limit": 100}).data]
    new = [e for e in events if e["id"] not in already]  # newest first
    # Delivered newest first: the charge.succeeded snapshot (not yet refunded) arrives after
    # charge.refunded, as Stripe's any-order delivery allows.
    now = datetime.now(UTC)
    for offset, event in enumerate(new):
        _receive(ops_store, event, now + timedelta(milliseconds=offset))
    assert {"charge.succeeded", "charge.refunded", "refund.created"} <= {e["type"] for e in new}

    run = orchestration_defs.resolve_job_def("stripe_webhook_job").execute_in_process(
        instance=dagster_instance, partition_key=platform, tags={TAG_TRIGGER: "webhook"}
    )

    assert run.success
    with duckdb.connect(str(pipeline_settings.warehouse_path), read_only=True) as con:
        charge = con.execute(
            "select refunded, amount_refunded, balance_transaction from stripe.charges "
            "where id = ?",
            [intent.latest_charge],
        ).fetchall()
        refunds = con.execute(
            "select amount from stripe.refunds where id = ?", [refund.id]
        ).fetchall()
    assert charge[0][:2] == (True, 2500) and charge[0][2].startswith("txn_")
    assert refunds == [(2500,)]
    with duckdb.connect(
        str(pipeline_settings.serving_dir / "stripe.duckdb"), read_only=True
    ) as con:
        rows = con.execute(
            "select type, amount from marts.transactions where charge_id = ? order by type",
            [intent.latest_charge],
        ).fetchall()
    assert rows == [("charge", 2500), ("refund", -2500)]
    for event in new:
        stored = ops_store.webhook_event(event["id"])
        assert (stored.status, stored.run_id) == ("processed", run.run_id)

    # A run queued behind that one finds nothing pending: it lands, rebuilds and publishes nothing.
    again = orchestration_defs.resolve_job_def("stripe_webhook_job").execute_in_process(
        instance=dagster_instance, partition_key=platform, tags={TAG_TRIGGER: "webhook"}
    )
    assert again.success
    assert again.get_asset_materialization_events() == []

    # The nightly kind of run (events replay and listing, its own dlt state) over tables the
    # fast path wrote: it succeeds and merges the same objects into the same single rows.
    nightly = orchestration_defs.resolve_job_def("stripe_sync_job").execute_in_process(
        instance=dagster_instance, partition_key=platform
    )
    assert nightly.success
    with duckdb.connect(str(pipeline_settings.warehouse_path), read_only=True) as con:
        for table in ("charges", "refunds", "payment_intents", "balance_transactions", "events"):
            doubled = con.execute(
                f"select id from stripe.{table} group by account_id, id having count(*) > 1"
            ).fetchall()
            assert doubled == [], (table, doubled)
        assert con.execute(
            "select count(*) from marts.transactions where charge_id = ?", [intent.latest_charge]
        ).fetchone() == (2,)
