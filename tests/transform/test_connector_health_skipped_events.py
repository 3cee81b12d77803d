"""`marts.connector_health` counts, per account, the webhook events the inbox sensor skipped
(the account was disconnected), beside the pending and failed ones."""

from __future__ import annotations

from tests.fixtures.transform import DuckdbWarehouse


def test_connector_health_counts_the_skipped_webhook_events_of_a_disconnected_account(
    duckdb_warehouse: DuckdbWarehouse,
) -> None:
    for event_id in ("evt_skipped_1", "evt_skipped_2"):
        duckdb_warehouse.execute(
            "insert into ops.stripe_webhook_events (id, account_id, type, livemode, created, "
            "payload_hash, received_at, processed_at, status) values "
            f"('{event_id}', 'acct_gone', 'charge.succeeded', false, 1767225600, "
            "'c', now(), now(), 'skipped')"
        )
    built = duckdb_warehouse.dbt("run", "--select", "+connector_health +stripe_webhook_events")
    assert built.ok, built.output[-4000:]
    # the marts' own tests (accepted statuses, not-null counts) hold with skipped events
    tested = duckdb_warehouse.dbt("test", "--select", "connector_health stripe_webhook_events")
    assert tested.ok, tested.output[-4000:]
    health = dict(
        duckdb_warehouse.query(
            "select stripe_account_id, skipped_webhook_events from marts.connector_health"
        )
    )
    assert health["acct_gone"] == 2
    assert health["acct_jp"] == 0  # its event waits (pending), it was not skipped
