"""Whole runs of stripe_sync_job against the emulator, a real warehouse, real dbt and publish."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import dagster as dg
import duckdb
import pytest

from stripe_emulator.testing import EmulatorHandle
from stripe_pipeline.defs.automation.batch_sensors import marts_request
from stripe_pipeline.defs.automation.schedules import batch_run_requests
from stripe_pipeline.defs.common import STRIPE_ACCOUNTS
from stripe_pipeline.defs.ingestion.sync_record import SYNC_STATE_SOURCE
from stripe_pipeline.settings import Settings


def _run_nightly(
    defs: dg.Definitions, instance: dg.DagsterInstance, accounts: list[str]
) -> tuple[dg.ExecuteInProcessResult, dg.ExecuteInProcessResult]:
    """Execute what the nightly schedule asks for (one batch run over the whole partition range)
    and then what marts_after_batches_sensor asks for when it has ended (one marts run)."""
    instance.add_dynamic_partitions(STRIPE_ACCOUNTS.name, accounts)
    (request,) = batch_run_requests(accounts, run_key="nightly:test")
    ingest = defs.resolve_job_def(request.job_name).execute_in_process(
        instance=instance, tags=request.tags, raise_on_error=False
    )
    assert ingest.success
    (run,) = instance.get_runs(filters=dg.RunsFilter(run_ids=[ingest.run_id]))
    marts = marts_request(instance, run)
    return ingest, defs.resolve_job_def(marts.job_name).execute_in_process(
        instance=instance, tags=marts.tags, run_config=marts.run_config, raise_on_error=False
    )


# A whole nightly run (every account, the full dbt build, publish): two minutes on 2 busy cores.
@pytest.mark.slow
def test_nightly_run_lands_every_account_builds_reconciled_marts_and_publishes(
    orchestration_defs: dg.Definitions,
    dagster_instance: dg.DagsterInstance,
    emulator: EmulatorHandle,
    pipeline_settings: Settings,
    ops_store,
) -> None:
    accounts = [emulator.platform_account_id, *emulator.connected_account_ids]
    for account in emulator.connected_account_ids:
        ops_store.upsert_account(
            project_id="proj_a", stripe_account_id=account, livemode=False, scope="read_only"
        )
    payload = json.dumps({"id": "evt_x", "type": "charge.succeeded", "data": {"object": {}}})
    ops_store.record_webhook_event(
        event_id="evt_x",
        type="charge.succeeded",
        payload_hash=hashlib.sha256(payload.encode()).hexdigest(),
        payload=payload,
        account_id=emulator.connected_account_ids[0],
        received_at=datetime.now(UTC),
    )

    ingest, result = _run_nightly(orchestration_defs, dagster_instance, accounts)

    assert result.success
    with duckdb.connect(str(pipeline_settings.warehouse_path), read_only=True) as con:
        landed = {
            a for (a,) in con.execute("select distinct account_id from stripe.charges").fetchall()
        }
        in_marts = {
            a
            for (a,) in con.execute(
                "select distinct stripe_account_id from marts.transactions"
            ).fetchall()
        }
        # Each account's sync start of this run reaches the app's event stream.
        sync_started = con.execute(
            "select stripe_account_id, subject_id from marts.events "
            "where event_name = 'stripe.sync.started'"
        ).fetchall()
    assert landed == set(accounts)
    assert in_marts == set(accounts)
    assert set(sync_started) == {(a, ingest.run_id) for a in accounts}
    # One materialization per account partition, from the single batch run.
    charges = dagster_instance.fetch_materializations(
        dg.AssetKey(["stripe", "charges"]), limit=10
    ).records
    assert {r.partition_key for r in charges} == set(accounts)

    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["assert_transactions_net_reconciles_with_balance_transactions"] is True

    serving = pipeline_settings.serving_dir / "stripe.duckdb"
    with duckdb.connect(str(serving), read_only=True) as con:
        assert con.execute("select count(*) from marts.transactions").fetchone()[0] > 0
    assert (pipeline_settings.serving_dir / "parquet" / "transactions.parquet").is_file()

    assert ops_store.webhook_event("evt_x").status == "processed"
    assert ops_store.webhook_event("evt_x").run_id == ingest.run_id
    for account in emulator.connected_account_ids:
        assert (
            ops_store.sync_state("proj_a", account, SYNC_STATE_SOURCE).cursor["status"]
            == "succeeded"
        )


def test_an_account_stripe_refuses_is_recorded_and_the_others_land_and_publish(
    orchestration_defs: dg.Definitions,
    dagster_instance: dg.DagsterInstance,
    emulator: EmulatorHandle,
    pipeline_settings: Settings,
    ops_store,
) -> None:
    good = emulator.connected_account_ids[0]
    ops_store.upsert_account(
        project_id="proj_a", stripe_account_id=good, livemode=False, scope="read_only"
    )
    ops_store.upsert_account(
        project_id="proj_a", stripe_account_id="acct_revoked", livemode=False, scope="read_only"
    )

    ingest, result = _run_nightly(orchestration_defs, dagster_instance, [good, "acct_revoked"])

    # The runs succeed: one account Stripe refuses (403 here) must not hold back the others.
    assert ingest.success and result.success
    failed = ops_store.sync_state("proj_a", "acct_revoked", SYNC_STATE_SOURCE).cursor
    assert failed["status"] == "failed" and "acct_revoked" in failed["error"]
    assert "403" in failed["error"]
    assert pipeline_settings.stripe_client_secret not in failed["error"]
    assert ops_store.sync_state("proj_a", good, SYNC_STATE_SOURCE).cursor["status"] == "succeeded"
    # The run's metadata names the failed account and what went wrong: the materializations of
    # the accounts that landed carry it, and the run's tags count the accounts by outcome.
    charges = dagster_instance.fetch_materializations(
        dg.AssetKey(["stripe", "charges"]), limit=10
    ).records
    by_partition = {r.partition_key: r.asset_materialization.metadata for r in charges}
    assert set(by_partition) == {good}  # nothing landed for the refused account
    assert by_partition[good]["sync_status"].value == "synced"
    assert by_partition[good]["rows_loaded"].value > 0
    assert "acct_revoked" in by_partition[good]["failed_accounts"].value
    (run,) = dagster_instance.get_runs(filters=dg.RunsFilter(run_ids=[ingest.run_id]))
    assert run.tags["stripe_pipeline/accounts_failed"] == "1"
    assert run.tags["stripe_pipeline/accounts_synced"] == "1"
    # The marts were built from the accounts that landed, and connector_health shows the failure.
    with duckdb.connect(str(pipeline_settings.warehouse_path), read_only=True) as con:
        health = dict(
            con.execute("select stripe_account_id, status from marts.connector_health").fetchall()
        )
        in_marts = {
            a for (a,) in con.execute("select distinct stripe_account_id from marts.transactions")
            .fetchall()
        }  # fmt: skip
    assert in_marts == {good}
    assert health["acct_revoked"] == "failing" and health[good] == "connected"
    assert (pipeline_settings.serving_dir / "stripe.duckdb").is_file()
