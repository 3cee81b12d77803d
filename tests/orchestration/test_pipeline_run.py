"""Whole runs of stripe_sync_job against the emulator, a real warehouse, real dbt and publish."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import dagster as dg
import duckdb
import pytest

from stripe_emulator.testing import EmulatorHandle
from stripe_pipeline.defs.automation.schedules import nightly_run_request
from stripe_pipeline.defs.common import STRIPE_ACCOUNTS
from stripe_pipeline.defs.ingestion.sync_record import SYNC_STATE_SOURCE
from stripe_pipeline.settings import Settings


def _run_nightly(
    defs: dg.Definitions, instance: dg.DagsterInstance, accounts: list[str]
) -> dg.ExecuteInProcessResult:
    """Execute what the nightly schedule asks for: one run over the whole partition range."""
    instance.add_dynamic_partitions(STRIPE_ACCOUNTS.name, accounts)
    request = nightly_run_request(accounts, run_key="nightly:test")
    return defs.resolve_job_def("stripe_sync_job").execute_in_process(
        instance=instance, tags=request.tags, run_config=request.run_config, raise_on_error=False
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

    result = _run_nightly(orchestration_defs, dagster_instance, accounts)

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
    assert set(sync_started) == {(a, result.run_id) for a in accounts}
    # One materialization per account partition, from the single run.
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
    assert ops_store.webhook_event("evt_x").run_id == result.run_id
    for account in emulator.connected_account_ids:
        assert (
            ops_store.sync_state("proj_a", account, SYNC_STATE_SOURCE).cursor["status"]
            == "succeeded"
        )


def test_a_failing_account_fails_the_run_but_the_others_land(
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

    result = _run_nightly(orchestration_defs, dagster_instance, [good, "acct_revoked"])

    assert not result.success
    failed = ops_store.sync_state("proj_a", "acct_revoked", SYNC_STATE_SOURCE).cursor
    assert failed["status"] == "failed" and "acct_revoked" in failed["error"]
    assert pipeline_settings.stripe_client_secret not in failed["error"]
    assert ops_store.sync_state("proj_a", good, SYNC_STATE_SOURCE).cursor["status"] == "succeeded"
    charges = dagster_instance.fetch_materializations(
        dg.AssetKey(["stripe", "charges"]), limit=10
    ).records
    assert {r.partition_key for r in charges} == {good}
    # The marts were not rebuilt on a partial load.
    assert not dagster_instance.fetch_materializations(
        dg.AssetKey(["marts", "transactions"]), limit=1
    ).records
