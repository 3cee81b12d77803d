"""Sensors: the ops store drives the runs.

- `stripe_accounts_sensor`: accounts → `stripe_accounts` partitions (added and removed), and a
  first backfill run for each account that appears.
- `webhook_inbox_sensor`: new inbox events → one `stripe_webhook_job` run (the fast path: the
  objects the events name, the money marts, publish) per touched account; events of accounts
  that will not be synced are marked `skipped` (`skip_unsyncable_events`).
- `sync_requests_sensor`: the listener's sync requests → runs; `sync_request_status_sensor`
  marks each request `succeeded` or `failed` when its run ends.

The logic lives in plain functions (`accounts_tick`, `inbox_tick`, `sync_requests_tick`) that
take the store and the known partitions; the sensor bodies only open the store and the instance.
"""

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from stripe_pipeline.defs.automation.jobs import (
    STRIPE_INGEST_JOB,
    STRIPE_SYNC_JOB,
    STRIPE_WEBHOOK_JOB,
)
from stripe_pipeline.defs.automation.schedules import batch_run_requests
from stripe_pipeline.defs.common import (
    CATALOG_RESOURCES,
    STRIPE_ACCOUNTS,
    TAG_INBOX_THROUGH,
    TAG_SYNC_REQUEST_ID,
    TAG_TRIGGER,
    OpsStoreResource,
    PipelineSettings,
)
from stripe_pipeline.settings import Settings

INBOX_BATCH = 5000
_SKIP_ROUNDS = 4
# Runs not yet started pick up every event received before they start, so a new event for an
# account with such a run needs no run of its own.
_WAITING = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED]


# -- accounts ------------------------------------------------------------------------------------


def accounts_tick(
    settings: Settings, store: Any, existing: Sequence[str], platform_id: str | None = None
) -> dg.SensorResult:
    from stripe_pipeline.accounts import accounts_to_sync

    wanted = accounts_to_sync(settings, store, platform_id)
    wanted_ids = [a.account_id for a in wanted]
    added = [a for a in wanted_ids if a not in existing]
    removed = [a for a in existing if a not in wanted_ids]
    requests: list[Any] = []
    if added:
        requests.append(STRIPE_ACCOUNTS.build_add_request(added))
    if removed:
        # Disconnected: no more scheduled or webhook runs. Landed rows stay in the warehouse
        # (the marts show the account as disconnected).
        requests.append(STRIPE_ACCOUNTS.build_delete_request(removed))
    connected_at = (
        {a.stripe_account_id: a.updated_at for a in store.connected_accounts()}
        if settings.connect_enabled
        else {}
    )
    run_requests: list[dg.RunRequest] = []
    if added:
        # One batch run for every account that appeared (added at the end of the partitions in
        # this order, so they are one range), then the marts once (marts_after_batches_sensor).
        # A reconnected account (new updated_at) gets a fresh first backfill: the stamps are in
        # the run key.
        stamps = ",".join(f"{a}:{_stamp(connected_at.get(a))}" for a in added)
        digest = hashlib.sha1(stamps.encode()).hexdigest()[:16]
        run_key = f"first-backfill:{added[0]}:{len(added)}:{digest}"
        run_requests = list(batch_run_requests(added, run_key, trigger="accounts"))
    if not requests:
        return dg.SensorResult(
            skip_reason=f"{len(existing)} Stripe account partitions, none added or removed"
        )
    return dg.SensorResult(dynamic_partitions_requests=requests, run_requests=run_requests)


def _stamp(value: datetime | None) -> str:
    return value.strftime("%Y%m%dT%H%M%S%f") if value else "initial"


# -- webhook inbox -------------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxCursor:
    """The last event seen, in the inbox's own order (received_at, id)."""

    received_at: str = ""
    event_id: str = ""

    @classmethod
    def parse(cls, raw: str | None) -> "InboxCursor":
        if not raw:
            return cls()
        data = json.loads(raw)
        return cls(received_at=data.get("received_at", ""), event_id=data.get("id", ""))

    def dump(self) -> str:
        return json.dumps({"received_at": self.received_at, "id": self.event_id})

    def key(self) -> tuple[str, str]:
        return (self.received_at, self.event_id)


def inbox_tick(
    store: Any,
    existing: Sequence[str],
    cursor: str | None,
    platform_id: Callable[[], str],
    waiting_accounts: Callable[[], set[str]] = set,
    connect_enabled: bool = True,
) -> dg.SensorResult:
    """One run per account touched by events after the cursor; the run key names the newest of
    those events, so a re-evaluated tick never launches twice."""
    seen = InboxCursor.parse(cursor)
    batch = store.pending_webhook_events(limit=INBOX_BATCH)
    # What was skipped no longer fills the batch: read it again so newer events count in this
    # tick. Bounded: a backlog larger than this is worked off over the next ticks.
    for _ in range(_SKIP_ROUNDS):
        if not skip_unsyncable_events(store, batch, existing, connect_enabled):
            break
        batch = store.pending_webhook_events(limit=INBOX_BATCH)
    events = [e for e in batch if (e.received_at.isoformat(), e.id) > seen.key()]
    if not events:
        return dg.SensorResult(skip_reason="no new webhook events", cursor=seen.dump())
    latest: dict[str, str] = {}
    platform = None
    for event in events:
        account_id = event.account_id
        if account_id is None:
            platform = platform or platform_id()
            account_id = platform
        latest[account_id] = event.id  # events come oldest first: the last one wins
    last = events[-1]
    new_cursor = InboxCursor(last.received_at.isoformat(), last.id).dump()
    waiting = waiting_accounts() if latest else set()
    run_requests = [
        dg.RunRequest(
            job_name=STRIPE_WEBHOOK_JOB,
            partition_key=account_id,
            run_key=f"webhook:{account_id}:{event_id}",
            tags={TAG_TRIGGER: "webhook", TAG_INBOX_THROUGH: event_id},
        )
        for account_id, event_id in sorted(latest.items())
        # Events of accounts without a partition (unknown, or disconnected) wait for the
        # accounts sensor; a queued run of the account will cover them when it starts.
        if account_id in existing and account_id not in waiting
    ]
    if not run_requests:
        return dg.SensorResult(
            skip_reason=f"{len(events)} new events, all covered by queued runs or for accounts without a partition",
            cursor=new_cursor,
        )
    return dg.SensorResult(run_requests=run_requests, cursor=new_cursor)


def skip_unsyncable_events(
    store: Any, events: Sequence[Any], existing: Sequence[str], connect_enabled: bool
) -> int:
    """Mark `skipped` the events of accounts that will not be synced: never connected,
    disconnected, or connected while Connect is off. Left `received`, they would fill the
    oldest-first batch forever and hide every newer event. A connected account whose partition
    is not added yet keeps its events: its first backfill lands them. Returns how many."""
    known = set(existing)
    reasons: dict[str, str | None] = {}
    skipped = 0
    for account_id in {e.account_id for e in events if e.account_id and e.account_id not in known}:
        account = store.get_account(account_id)
        if account is None:
            reasons[account_id] = f"Stripe account {account_id} was never connected"
        elif not account.is_connected:
            reasons[account_id] = f"Stripe account {account_id} is disconnected"
        elif not connect_enabled:
            reasons[account_id] = f"Stripe Connect is off; account {account_id} is not synced"
    for account_id, reason in reasons.items():
        ids = [e.id for e in events if e.account_id == account_id]
        skipped += store.mark_events_skipped(ids, reason)
    return skipped


# -- sync requests -------------------------------------------------------------------------------


def sync_requests_tick(
    store: Any,
    existing: Sequence[str],
    platform_id: Callable[[], str],
    platform_project_id: str,
    stripe_keys: Sequence[dg.AssetKey],
    downstream_keys: Sequence[dg.AssetKey],
) -> dg.SensorResult:
    """One run per requested account; `catalog` syncs products and prices only."""
    pending = store.pending_sync_requests()
    if not pending:
        return dg.SensorResult(skip_reason="no pending sync requests")
    run_requests: list[dg.RunRequest] = []
    for request in pending:
        if request.account_id:
            accounts = [request.account_id]
        elif request.project_id:
            accounts = [
                a.stripe_account_id for a in store.connected_accounts(project_id=request.project_id)
            ]
            if request.project_id == platform_project_id:
                accounts.append(platform_id())
        else:
            accounts = list(existing)
        accounts = [a for a in dict.fromkeys(accounts) if a in existing]
        if not accounts:
            store.mark_sync_request(
                request.id,
                "failed",
                error="no connected Stripe account matches this request; connect one first",
            )
            continue
        selection = None
        if request.kind == "catalog":
            catalog = [k for k in stripe_keys if k.path[-1] in CATALOG_RESOURCES]
            selection = [*catalog, *downstream_keys]
        for account_id in accounts:
            run_requests.append(
                dg.RunRequest(
                    job_name=STRIPE_SYNC_JOB,
                    partition_key=account_id,
                    run_key=f"sync-request:{request.id}:{account_id}",
                    asset_selection=selection,
                    tags={TAG_TRIGGER: "sync_request", TAG_SYNC_REQUEST_ID: request.id},
                )
            )
        store.mark_sync_request(request.id, "running")
    return dg.SensorResult(run_requests=run_requests)


# -- sensor definitions --------------------------------------------------------------------------


def _waiting_accounts(instance: dg.DagsterInstance) -> set[str]:
    # Either job lands every event pending when its Stripe step starts: a full sync replays
    # /v1/events, the webhook job fetches what the inbox names.
    accounts: set[str] = set()
    for job_name in (STRIPE_WEBHOOK_JOB, STRIPE_SYNC_JOB):
        runs = instance.get_runs(
            filters=dg.RunsFilter(job_name=job_name, statuses=_WAITING), limit=1000
        )
        accounts |= {r.tags["dagster/partition"] for r in runs if "dagster/partition" in r.tags}
    return accounts


def build_sensors(
    stripe_keys: Sequence[dg.AssetKey],
    downstream_keys: Sequence[dg.AssetKey],
    stripe_sync_job: UnresolvedAssetJobDefinition,
) -> list[dg.SensorDefinition]:
    @dg.sensor(
        name="stripe_accounts_sensor",
        job_name=STRIPE_INGEST_JOB,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Keeps one stripe_accounts partition per account to sync; backfills new ones.",
    )
    def stripe_accounts_sensor(
        context: dg.SensorEvaluationContext, settings: PipelineSettings, ops_store: OpsStoreResource
    ) -> dg.SensorResult:
        existing = context.instance.get_dynamic_partitions(STRIPE_ACCOUNTS.name)
        with ops_store.open() as store:
            return accounts_tick(settings.get(), store, existing)

    @dg.sensor(
        name="webhook_inbox_sensor",
        job_name=STRIPE_WEBHOOK_JOB,
        # Webhook-to-mart latency is this interval plus one webhook run (benchmarks/
        # webhook_to_mart.py). 5 s is also the sensor daemon's own loop period; a tick that
        # finds nothing costs one indexed query on the ops store.
        minimum_interval_seconds=5,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="New webhook events → a stripe_webhook_job run per account they touch.",
    )
    def webhook_inbox_sensor(
        context: dg.SensorEvaluationContext, settings: PipelineSettings, ops_store: OpsStoreResource
    ) -> dg.SensorResult:
        from stripe_pipeline.accounts import platform_account_id

        existing = context.instance.get_dynamic_partitions(STRIPE_ACCOUNTS.name)
        with ops_store.open() as store:
            return inbox_tick(
                store,
                existing,
                context.cursor,
                platform_id=lambda: platform_account_id(settings.get()),
                waiting_accounts=lambda: _waiting_accounts(context.instance),
                connect_enabled=settings.get().connect_enabled,
            )

    @dg.sensor(
        name="sync_requests_sensor",
        job_name=STRIPE_SYNC_JOB,
        minimum_interval_seconds=15,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Sync requests from the listener's API → runs (catalog: products and prices).",
    )
    def sync_requests_sensor(
        context: dg.SensorEvaluationContext, settings: PipelineSettings, ops_store: OpsStoreResource
    ) -> dg.SensorResult:
        from stripe_pipeline.accounts import platform_account_id

        existing = context.instance.get_dynamic_partitions(STRIPE_ACCOUNTS.name)
        run_settings = settings.get()
        with ops_store.open() as store:
            return sync_requests_tick(
                store,
                existing,
                lambda: platform_account_id(run_settings),
                run_settings.platform_project_id,
                stripe_keys,
                downstream_keys,
            )

    @dg.run_status_sensor(
        name="sync_request_status_sensor",
        run_status=dg.DagsterRunStatus.SUCCESS,
        monitored_jobs=[stripe_sync_job],
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Marks a sync request succeeded when its run succeeds.",
    )
    def sync_request_succeeded(
        context: dg.RunStatusSensorContext, ops_store: OpsStoreResource
    ) -> None:
        _mark_request(context.dagster_run, ops_store, "succeeded")

    @dg.run_failure_sensor(
        name="sync_request_failure_sensor",
        monitored_jobs=[stripe_sync_job],
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Marks a sync request failed when its run fails.",
    )
    def sync_request_failed(
        context: dg.RunFailureSensorContext, ops_store: OpsStoreResource
    ) -> None:
        _mark_request(context.dagster_run, ops_store, "failed", context.failure_event.message)

    return [
        stripe_accounts_sensor,
        webhook_inbox_sensor,
        sync_requests_sensor,
        sync_request_succeeded,
        sync_request_failed,
    ]


def _mark_request(
    run: dg.DagsterRun, ops_store: OpsStoreResource, status: str, error: str | None = None
) -> None:
    request_id = run.tags.get(TAG_SYNC_REQUEST_ID)
    if not request_id:
        return
    with ops_store.open() as store:
        current = store.get_sync_request(request_id)
        # Several account runs may share a request: one failure keeps it failed.
        if current is not None and current.status != "failed":
            store.mark_sync_request(
                request_id,
                status,
                run_id=run.run_id,
                error=(f"Dagster run {run.run_id} failed: see its logs" if error else None),
            )
