"""The ops store drives the runs: accounts → partitions, webhook inbox → incremental runs,
sync requests → runs; the nightly schedule covers every account in one run."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from stripe_emulator.testing import EmulatorHandle
from stripe_pipeline.defs.common import STRIPE_ACCOUNTS, TAG_INBOX_THROUGH, TAG_TRIGGER


def _tick(
    defs: dg.Definitions,
    name: str,
    instance: dg.DagsterInstance,
    resources: dict[str, object],
    cursor: str | None = None,
) -> dg.SensorResult:
    sensor = defs.resolve_sensor_def(name)
    with dg.build_sensor_context(instance=instance, resources=resources, cursor=cursor) as context:
        return sensor(context)


def _apply_partition_requests(instance: dg.DagsterInstance, result: dg.SensorResult) -> None:
    """What the sensor daemon does with a tick's dynamic partition requests."""
    for request in result.dynamic_partitions_requests or []:
        if isinstance(request, dg.AddDynamicPartitionsRequest):
            instance.add_dynamic_partitions(
                request.partitions_def_name, list(request.partition_keys)
            )
        else:
            for key in request.partition_keys:
                instance.delete_dynamic_partition(request.partitions_def_name, key)


def _partitions(instance: dg.DagsterInstance) -> set[str]:
    return set(instance.get_dynamic_partitions(STRIPE_ACCOUNTS.name))


def test_accounts_sensor_adds_connected_accounts_and_the_platform_then_removes_disconnected(
    orchestration_defs: dg.Definitions,
    orchestration_resources: dict[str, object],
    dagster_instance: dg.DagsterInstance,
    emulator: EmulatorHandle,
    ops_store,
) -> None:
    first, second = emulator.connected_account_ids
    for account in (first, second):
        ops_store.upsert_account(
            project_id="proj_a", stripe_account_id=account, livemode=False, scope="read_only"
        )

    result = _tick(
        orchestration_defs, "stripe_accounts_sensor", dagster_instance, orchestration_resources
    )
    _apply_partition_requests(dagster_instance, result)

    assert _partitions(dagster_instance) == {emulator.platform_account_id, first, second}
    # One first-backfill run for the accounts that appeared: their partitions as one range.
    (backfill,) = result.run_requests
    added = dagster_instance.get_dynamic_partitions(STRIPE_ACCOUNTS.name)
    assert backfill.job_name == "stripe_ingest_job" and backfill.tags[TAG_TRIGGER] == "accounts"
    # The marts follow once it has ended (marts_after_batches_sensor), as for the nightly run.
    assert backfill.tags["stripe_pipeline/batch_group"] == backfill.run_key
    assert backfill.tags["dagster/asset_partition_range_start"] == added[0]
    assert backfill.tags["dagster/asset_partition_range_end"] == added[-1]

    # Nothing changed: no requests, no runs.
    again = _tick(
        orchestration_defs, "stripe_accounts_sensor", dagster_instance, orchestration_resources
    )
    assert not again.run_requests and not again.dynamic_partitions_requests

    ops_store.set_account_status(second, "disconnected")
    result = _tick(
        orchestration_defs, "stripe_accounts_sensor", dagster_instance, orchestration_resources
    )
    _apply_partition_requests(dagster_instance, result)
    assert _partitions(dagster_instance) == {emulator.platform_account_id, first}
    assert not result.run_requests

    # Reconnected later: a fresh first backfill (a new run key), not a deduplicated one.
    ops_store.upsert_account(
        project_id="proj_a", stripe_account_id=second, livemode=False, scope="read_only"
    )
    result = _tick(
        orchestration_defs, "stripe_accounts_sensor", dagster_instance, orchestration_resources
    )
    (again,) = result.run_requests
    assert again.tags["dagster/asset_partition_range_start"] == second
    assert again.tags["dagster/asset_partition_range_end"] == second
    assert again.run_key != backfill.run_key


def test_accounts_sensor_with_connect_off_keeps_only_the_platform_account(
    orchestration_defs: dg.Definitions,
    orchestration_resources: dict[str, object],
    pipeline_env: dict[str, str],
    dagster_instance: dg.DagsterInstance,
    emulator: EmulatorHandle,
    ops_store,
    tmp_path,
) -> None:
    from stripe_pipeline.defs.common import OpsStoreResource, PipelineSettings

    ops_store.upsert_account(
        project_id="proj_a",
        stripe_account_id=emulator.connected_account_ids[0],
        livemode=False,
        scope="read_only",
    )
    off = PipelineSettings(
        env_overrides={**pipeline_env, "STRIPE_CONNECT_ENABLED": "false"},
        dotenv_path=str(tmp_path / "x"),
    )
    resources = {"settings": off, "ops_store": OpsStoreResource(settings=off)}

    result = _tick(orchestration_defs, "stripe_accounts_sensor", dagster_instance, resources)
    _apply_partition_requests(dagster_instance, result)

    assert _partitions(dagster_instance) == {emulator.platform_account_id}


def _webhook(store, event_id: str, account_id: str | None, received_at: datetime) -> None:
    payload = json.dumps(
        {"id": event_id, "type": "charge.succeeded", "account": account_id, "data": {"object": {}}}
    )
    store.record_webhook_event(
        event_id=event_id,
        type="charge.succeeded",
        payload_hash=hashlib.sha256(payload.encode()).hexdigest(),
        payload=payload,
        account_id=account_id,
        received_at=received_at,
    )


def test_inbox_sensor_requests_one_run_per_touched_account_with_stable_run_keys(
    orchestration_defs: dg.Definitions,
    orchestration_resources: dict[str, object],
    dagster_instance: dg.DagsterInstance,
    emulator: EmulatorHandle,
    ops_store,
) -> None:
    first, second = emulator.connected_account_ids
    platform = emulator.platform_account_id
    dagster_instance.add_dynamic_partitions(STRIPE_ACCOUNTS.name, [platform, first, second])
    now = datetime.now(UTC)
    _webhook(ops_store, "evt_1", first, now)
    _webhook(ops_store, "evt_2", None, now + timedelta(seconds=1))  # the platform's own
    _webhook(ops_store, "evt_3", first, now + timedelta(seconds=2))
    _webhook(ops_store, "evt_4", "acct_unknown", now + timedelta(seconds=3))

    result = _tick(
        orchestration_defs, "webhook_inbox_sensor", dagster_instance, orchestration_resources
    )

    runs = {r.partition_key: r for r in result.run_requests}
    assert set(runs) == {first, platform}  # batched per account; unknown accounts wait
    assert runs[first].run_key == f"webhook:{first}:evt_3"
    assert runs[first].tags[TAG_INBOX_THROUGH] == "evt_3"
    assert runs[platform].run_key == f"webhook:{platform}:evt_2"

    # The same tick evaluated again (e.g. after a crash) asks for the same runs: deduplicated.
    replay = _tick(
        orchestration_defs, "webhook_inbox_sensor", dagster_instance, orchestration_resources
    )
    assert sorted(r.run_key for r in replay.run_requests) == sorted(
        r.run_key for r in result.run_requests
    )

    # From the returned cursor on, old events are not requested again; a new one is.
    quiet = _tick(
        orchestration_defs,
        "webhook_inbox_sensor",
        dagster_instance,
        orchestration_resources,
        result.cursor,
    )
    assert not quiet.run_requests
    _webhook(ops_store, "evt_5", second, now + timedelta(seconds=4))
    later = _tick(
        orchestration_defs,
        "webhook_inbox_sensor",
        dagster_instance,
        orchestration_resources,
        result.cursor,
    )
    assert [(r.partition_key, r.run_key) for r in later.run_requests] == [
        (second, f"webhook:{second}:evt_5")
    ]


def test_sync_request_becomes_a_catalog_run_and_is_marked_running(
    orchestration_defs: dg.Definitions,
    orchestration_resources: dict[str, object],
    dagster_instance: dg.DagsterInstance,
    emulator: EmulatorHandle,
    ops_store,
) -> None:
    account = emulator.connected_account_ids[0]
    dagster_instance.add_dynamic_partitions(STRIPE_ACCOUNTS.name, [account])
    request_id = ops_store.enqueue_sync_request("catalog", account_id=account)
    missing_id = ops_store.enqueue_sync_request("transactions", account_id="acct_nobody")

    result = _tick(
        orchestration_defs, "sync_requests_sensor", dagster_instance, orchestration_resources
    )

    (run,) = result.run_requests
    assert run.partition_key == account and run.run_key == f"sync-request:{request_id}:{account}"
    stripe_selected = {k.path[1] for k in run.asset_selection if k.path[0] == "stripe"}
    assert stripe_selected == {"products", "prices"}
    assert dg.AssetKey(["marts", "stripe_product_map"]) in run.asset_selection
    assert ops_store.get_sync_request(request_id).status == "running"
    failed = ops_store.get_sync_request(missing_id)
    assert failed.status == "failed" and "connect" in failed.error
    # The job accepts the selection (a catalog run is a valid subset of stripe_sync_job).
    orchestration_defs.resolve_job_def("stripe_sync_job").get_subset(
        asset_selection=set(run.asset_selection)
    )


@pytest.mark.parametrize("accounts", [[], ["acct_a", "acct_b", "acct_c"]])
def test_nightly_schedule_runs_every_account_in_one_run(
    orchestration_defs: dg.Definitions,
    orchestration_resources: dict[str, object],
    dagster_instance: dg.DagsterInstance,
    accounts: list[str],
) -> None:
    dagster_instance.add_dynamic_partitions(STRIPE_ACCOUNTS.name, accounts)
    schedule = orchestration_defs.resolve_schedule_def("stripe_nightly_schedule")
    with dg.build_schedule_context(
        instance=dagster_instance,
        scheduled_execution_time=datetime(2026, 11, 27, 2, tzinfo=UTC),
        resources=orchestration_resources,
    ) as context:
        result = schedule.evaluate_tick(context)

    if not accounts:
        assert not result.run_requests and "no Stripe accounts" in result.skip_message
        return
    (run,) = result.run_requests
    assert run.job_name == "stripe_ingest_job"
    assert run.tags["dagster/asset_partition_range_start"] == "acct_a"
    assert run.tags["dagster/asset_partition_range_end"] == "acct_c"
    assert run.run_key == "nightly:2026-11-27"
    assert run.tags["stripe_pipeline/batch_group"] == "nightly:2026-11-27"


def test_marts_follow_the_last_batch_run_of_a_group_in_full_once(
    dagster_instance: dg.DagsterInstance,
) -> None:
    from stripe_pipeline.defs.automation.batch_sensors import marts_request
    from stripe_pipeline.defs.automation.schedules import batch_run_requests

    keys = [f"acct_{n}" for n in range(5)]
    requests = batch_run_requests(keys, "nightly:2026-11-27", runs=2)
    assert [(r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"])
            for r in requests] == [("acct_0", "acct_2"), ("acct_3", "acct_4")]  # fmt: skip
    runs = [
        dagster_instance.create_run_for_job(
            dg.GraphDefinition(name="g").to_job(name="stripe_ingest_job"), tags=r.tags
        )
        for r in requests
    ]
    dagster_instance.report_run_failed(runs[0])
    # One batch run still going: no marts yet.
    assert isinstance(marts_request(dagster_instance, runs[0]), dg.SkipReason)
    dagster_instance.report_run_failed(runs[1])
    marts = marts_request(dagster_instance, runs[1])
    assert isinstance(marts, dg.RunRequest) and marts.job_name == "marts_job"
    assert marts.run_key == "marts:nightly:2026-11-27"
    assert marts.run_config["ops"]["dbt_models"]["config"]["full_refresh"] is True


def test_sync_request_is_marked_succeeded_with_its_run_when_the_run_succeeds(
    orchestration_defs: dg.Definitions,
    orchestration_resources: dict[str, object],
    dagster_instance: dg.DagsterInstance,
    emulator: EmulatorHandle,
    ops_store,
) -> None:
    from stripe_pipeline.defs.common import TAG_SYNC_REQUEST_ID

    account = emulator.connected_account_ids[0]
    dagster_instance.add_dynamic_partitions(STRIPE_ACCOUNTS.name, [account])
    request_id = ops_store.enqueue_sync_request("catalog", account_id=account)
    ops_store.mark_sync_request(request_id, "running")
    result = orchestration_defs.resolve_job_def("stripe_ingest_job").execute_in_process(
        instance=dagster_instance,
        partition_key=account,
        tags={TAG_SYNC_REQUEST_ID: request_id},
        asset_selection=[dg.AssetKey(["stripe", "products"])],
    )
    (success,) = [e for e in result.all_events if e.event_type_value == "PIPELINE_SUCCESS"]

    sensor = orchestration_defs.resolve_sensor_def("sync_request_status_sensor")
    with dg.build_run_status_sensor_context(
        sensor_name=sensor.name,
        dagster_event=success,
        dagster_instance=dagster_instance,
        dagster_run=result.dagster_run,
        resources=orchestration_resources,
    ) as context:
        sensor(context)

    marked = ops_store.get_sync_request(request_id)
    assert (marked.status, marked.run_id) == ("succeeded", result.run_id)
