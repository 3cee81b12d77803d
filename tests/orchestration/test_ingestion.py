"""Materializing Stripe account partitions lands rows and records what happened."""

from __future__ import annotations

import dagster as dg
import duckdb

from stripe_emulator.testing import EmulatorHandle
from stripe_pipeline.defs.common import STRIPE_ACCOUNTS
from stripe_pipeline.defs.ingestion.sync_record import SYNC_STATE_SOURCE
from stripe_pipeline.settings import Settings


def test_one_account_partition_lands_rows_and_records_metadata(
    orchestration_defs: dg.Definitions,
    dagster_instance: dg.DagsterInstance,
    emulator: EmulatorHandle,
    pipeline_settings: Settings,
    ops_store,
) -> None:
    account = emulator.connected_account_ids[0]
    ops_store.upsert_account(
        project_id="proj_a", stripe_account_id=account, livemode=False, scope="read_only"
    )
    dagster_instance.add_dynamic_partitions(STRIPE_ACCOUNTS.name, [account])
    job = orchestration_defs.resolve_job_def("stripe_sync_job")
    stripe_keys = [k for k in orchestration_defs.resolve_all_asset_keys() if k.path[0] == "stripe"]

    result = job.execute_in_process(
        instance=dagster_instance, partition_key=account, asset_selection=stripe_keys
    )

    assert result.success
    with duckdb.connect(str(pipeline_settings.warehouse_path), read_only=True) as con:
        landed = dict(
            con.execute("select account_id, count(*) from stripe.charges group by 1").fetchall()
        )
    assert set(landed) == {account} and landed[account] > 0

    charges = dagster_instance.get_latest_materialization_event(dg.AssetKey(["stripe", "charges"]))
    assert charges is not None and charges.asset_materialization.partition == account
    metadata = charges.asset_materialization.metadata
    assert metadata["rows_loaded"].value == landed[account]
    for stat in ("requests", "slices", "retries", "http_429", "seconds"):
        assert stat in metadata, f"run metadata lacks {stat}"
    assert metadata["requests"].value >= 1

    state = ops_store.sync_state("proj_a", account, SYNC_STATE_SOURCE)
    assert state is not None
    assert state.cursor["status"] == "succeeded"
    assert state.cursor["run_id"] == result.run_id
    assert state.cursor["rows"]["charges"] == landed[account]
    assert state.cursor["history"][0]["run_id"] == result.run_id  # the stripe.sync.started event


def test_full_refresh_lists_one_account_again_without_duplicating_or_touching_others(
    orchestration_defs: dg.Definitions,
    dagster_instance: dg.DagsterInstance,
    emulator: EmulatorHandle,
    pipeline_settings: Settings,
) -> None:
    first, second = emulator.connected_account_ids
    dagster_instance.add_dynamic_partitions(STRIPE_ACCOUNTS.name, [first, second])
    job = orchestration_defs.resolve_job_def("stripe_ingest_job")

    def charges_landed(account: str, full_refresh: bool) -> int:
        config = {"ops": {"stripe_source": {"config": {"full_refresh": full_refresh}}}}
        result = job.execute_in_process(
            instance=dagster_instance, partition_key=account, run_config=config
        )
        (charges,) = [
            e.event_specific_data.materialization
            for e in result.get_asset_materialization_events()
            if e.event_specific_data.materialization.asset_key.path == ["stripe", "charges"]
        ]
        return charges.metadata["rows_loaded"].value

    backfilled = charges_landed(first, full_refresh=False)
    charges_landed(second, full_refresh=False)
    assert charges_landed(first, full_refresh=False) == 0  # incremental: nothing new
    assert charges_landed(first, full_refresh=True) == backfilled

    with duckdb.connect(str(pipeline_settings.warehouse_path), read_only=True) as con:
        counts = con.execute(
            "select account_id, count(*), count(distinct id) from stripe.charges group by 1 order by 1"
        ).fetchall()
    assert {a for a, _, _ in counts} == {first, second}
    assert all(rows == distinct for _, rows, distinct in counts)
