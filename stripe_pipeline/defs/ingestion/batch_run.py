"""The body of the Stripe assets: one run lands a batch of account partitions.

Every run of the Stripe assets, whatever launched it (the nightly schedule, the accounts sensor,
`stripe-pipeline sync`, a sync request, the UI), covers its partition keys in one batch
(`stripe_source.batch.sync_batch`): one dlt load per chunk of accounts, accounts fetched
concurrently. The webhook job first tries its fast path per account (the objects its inbox
events name) and batches the rest.

Per account, the ops store's `connector_sync_state` row (`stripe_sync`) records the sync as it
starts and ends, with the batch id (the run's root run id, or the `stripe_pipeline/batch` tag),
so a re-executed run skips the accounts its killed attempt already landed. A failed account is
recorded there and in the run's metadata (`failed_accounts`); the others land, are
materialized, and the marts build. Only when every account fails does the step fail.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from stripe_pipeline.defs.common import TAG_BATCH, TAG_TRIGGER, OpsStoreResource
from stripe_pipeline.defs.ingestion.sync_record import (
    landed_in_batch,
    record_sync_finished,
    record_sync_started,
    sync_cursors,
)
from stripe_pipeline.settings import Settings

# Pending inbox events a run reads (and marks processed) at most; more wait for the next run.
INBOX_LIMIT = 5000

# Stats the Stripe source keeps per resource, shown per asset in the UI.
STAT_NAMES = ("rows", "slices", "requests", "retries", "http_429", "seconds", "events_replayed")


@dataclass
class AccountResult:
    """One account's part of the run, as the metadata and the ops store show it."""

    status: str  # synced, unchanged, inbox, landed_earlier, failed
    stats: dict[str, dict[str, Any]] = field(default_factory=dict)  # resource -> stats
    error: str | None = None

    @property
    def rows(self) -> dict[str, int]:
        return {name: int(s.get("rows", 0)) for name, s in self.stats.items()}


def run_stripe_batch(
    context: dg.AssetExecutionContext,
    config: Any,
    dlt: Any,
    settings: Settings,
    ops_store: OpsStoreResource,
) -> Iterator[dg.MaterializeResult]:
    from stripe_pipeline.accounts import platform_account_id

    platform_id = platform_account_id(settings)
    run = context.run
    trigger = run.tags.get(TAG_TRIGGER, "ui")
    batch_id = run.tags.get(TAG_BATCH) or run.root_run_id or run.run_id
    selected = [key.path[-1] for key in context.selected_asset_keys]
    keys = list(context.partition_keys)
    results: dict[str, AccountResult] = {}
    started = time.perf_counter()

    with ops_store.open() as store:
        projects = _projects(store, keys, platform_id, settings)
        cursors = sync_cursors(store)
        inbox = _pending_inbox(store, platform_id)
        to_batch: list[str] = []
        for account_id in keys:
            previous = cursors.get((projects[account_id], account_id))
            if landed_in_batch(previous, batch_id):
                results[account_id] = AccountResult("landed_earlier")
                continue
            pending = inbox.get(account_id, [])
            if config.inbox_only and not config.full_refresh and not pending:
                # A webhook run queued while the previous one ran finds its events landed by
                # it: nothing changed, so nothing to rebuild or publish.
                context.log.info(
                    f"{account_id}: no pending inbox events (an earlier run landed them)"
                )
                continue
            record_sync_started(
                store, projects[account_id], account_id, run.run_id, trigger, batch_id, previous
            )
            if config.inbox_only and not config.full_refresh:
                try:
                    landed = _land_inbox(context, dlt, settings, account_id, platform_id, pending)
                except Exception as exc:
                    # The source's errors name the account and endpoint, never the key.
                    landed = AccountResult("failed", error=f"{type(exc).__name__}: {exc}")
                if landed is not None:
                    _finish(context, store, projects, account_id, landed, pending)
                    results[account_id] = landed
                    continue
            to_batch.append(account_id)

        if to_batch:
            from stripe_pipeline.stripe_source.batch import sync_batch

            def on_loaded(outcomes: list[Any]) -> None:
                for outcome in outcomes:
                    result = AccountResult(
                        outcome.status,
                        {
                            n: _stat_subset(s.as_dict())
                            for n, s in outcome.stats.resources.items()
                            if n in selected
                        },  # fmt: skip
                        outcome.error,
                    )
                    results[outcome.account_id] = result
                    _finish(
                        context, store, projects, outcome.account_id, result,
                        inbox.get(outcome.account_id, []),
                    )  # fmt: skip

            batch = sync_batch(
                settings,
                to_batch,
                batch_id=batch_id,
                platform_id=platform_id,
                resources=selected,
                full_refresh=config.full_refresh,
                accounts_per_load=settings.sync_accounts_per_load,
                accounts_at_once=settings.sync_accounts_at_once,
                on_loaded=on_loaded,
            )
            context.log.info(
                f"batch of {len(to_batch)} accounts in {batch.seconds:.1f}s, {batch.loads} loads: "
                f"{batch.count('synced')} synced, {batch.count('unchanged')} unchanged, "
                f"{batch.count('failed')} failed"
            )

    failed = {a: r.error or "failed" for a, r in results.items() if r.status == "failed"}
    counts: dict[str, int] = defaultdict(int)
    for result in results.values():
        counts[result.status] += 1
    # The run's own record of the batch, shown in the runs list and filterable.
    context.instance.add_run_tags(
        run.run_id, {f"stripe_pipeline/accounts_{s}": str(n) for s, n in counts.items()}
    )
    if results and len(failed) == len(results):
        raise dg.Failure(
            description=(
                f"all {len(failed)} Stripe accounts failed to sync: "
                + "; ".join(f"{a}: {e}" for a, e in list(failed.items())[:20])
            ),
            metadata={"failed_accounts": dg.MetadataValue.json(failed)},
        )
    if not results:
        return
    if failed:
        context.log.error(
            f"{len(failed)} of {len(keys)} Stripe accounts failed (recorded in connector_health; "
            "the others landed): " + "; ".join(f"{a}: {e}" for a, e in list(failed.items())[:20])
        )
    yield from _materialize(context, results, failed, time.perf_counter() - started)


def _projects(store: Any, keys: list[str], platform_id: str, settings: Settings) -> dict[str, str]:
    by_account = {a.stripe_account_id: a.project_id for a in store.connected_accounts(True)}
    return {
        a: settings.platform_project_id
        if a == platform_id
        else by_account.get(a, settings.platform_project_id)
        for a in keys
    }


def _pending_inbox(store: Any, platform_id: str) -> dict[str, list[Any]]:
    """Pending inbox events by account. Every event Stripe sent before an account's sync
    started is in `/v1/events` by then, so its sync covers them; the platform's own events
    carry no account id."""
    by_account: dict[str, list[Any]] = defaultdict(list)
    for event in store.pending_webhook_events(limit=INBOX_LIMIT):
        by_account[event.account_id or platform_id].append(event)
    return by_account


def _finish(
    context: dg.AssetExecutionContext,
    store: Any,
    projects: dict[str, str],
    account_id: str,
    result: AccountResult,
    pending: list[Any],
) -> None:
    run_id = context.run.run_id
    if result.status == "failed":
        record_sync_finished(store, projects[account_id], account_id, run_id, {}, result.error)
        context.log.warning(f"sync of {account_id} failed: {result.error}")
        return
    outcome = "unchanged" if result.status == "unchanged" else None
    record_sync_finished(
        store, projects[account_id], account_id, run_id, result.rows, None, outcome
    )
    store.mark_events_processed([e.id for e in pending], run_id=run_id)


def _land_inbox(
    context: dg.AssetExecutionContext,
    dlt: Any,
    settings: Settings,
    account_id: str,
    platform_id: str,
    pending: list[Any],
) -> AccountResult | None:
    """The webhook fast path for one account: fetch and merge the objects its pending inbox
    events name (stripe_pipeline/inbox_source.py). None when the burst is too large for it, or
    the account failed, so it joins the batch's regular incremental sync instead."""
    from stripe_pipeline.inbox_source import (
        collect_tables,
        inbox_source,
        make_inbox_pipeline,
        plan_inbox,
    )
    from stripe_pipeline.stripe_source import SyncStats

    plan = plan_inbox(pending)
    if plan.too_large:
        context.log.info(
            f"{account_id}: {plan.fetch_count} objects named by {len(pending)} inbox events, too "
            "many to fetch one by one; running the regular incremental sync instead"
        )
        return None
    stats = SyncStats(account_id=account_id)
    tables = collect_tables(settings, account_id, account_id == platform_id, plan, stats)
    for _ in dlt.run(
        context=context,
        dlt_source=inbox_source(tables),
        dlt_pipeline=make_inbox_pipeline(settings, account_id),
    ):
        pass
    return AccountResult(
        "inbox", {n: _stat_subset(s) for n, s in stats.as_dict().items() if n != "account"}
    )


def _stat_subset(stats: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in stats.items() if k in STAT_NAMES}


def _partition_metadata(result: AccountResult, name: str) -> dict[str, Any]:
    stats = result.stats.get(name, {})
    metadata: dict[str, Any] = {"sync_status": result.status}
    for stat in STAT_NAMES:
        value = stats.get(stat, 0)
        key = "rows_loaded" if stat == "rows" else stat
        metadata[key] = (
            dg.MetadataValue.float(round(float(value), 3))
            if stat == "seconds"
            else dg.MetadataValue.int(int(value))
        )
    if result.error:
        metadata["error"] = result.error
    return metadata


def _summary(
    results: dict[str, AccountResult], failed: dict[str, str], seconds: float, name: str
) -> dict[str, Any]:
    counts: dict[str, int] = defaultdict(int)
    totals: dict[str, float] = defaultdict(float)
    for result in results.values():
        counts[result.status] += 1
        for stat, value in result.stats.get(name, {}).items():
            totals[stat] += value
    metadata: dict[str, Any] = {
        "dagster/table_name": f"stripe.{name}",
        "batch_rows_loaded": dg.MetadataValue.int(int(totals.get("rows", 0))),
        "batch_requests": dg.MetadataValue.int(int(totals.get("requests", 0))),
        "batch_accounts": dg.MetadataValue.json(dict(counts)),
        "batch_seconds": dg.MetadataValue.float(round(seconds, 1)),
    }
    if failed:
        metadata["failed_accounts"] = dg.MetadataValue.json(failed)
    return metadata


def _materialize(
    context: dg.AssetExecutionContext,
    results: dict[str, AccountResult],
    failed: dict[str, str],
    seconds: float,
) -> Iterator[dg.MaterializeResult]:
    """Per-account materializations with that account's figures.

    A run of one partition (the webhook job, a sync request) yields its assets' outputs, so
    the marts in the same run build on them. A run over many partitions materializes only the
    (asset, account) pairs that landed rows, and yields no output: an output would materialize
    every asset for every partition of the run, and each of those events costs Dagster's event
    log ~10-70 ms (10,000 for a nightly of a thousand accounts). Such runs are ingest runs; the
    marts are built by a `marts_job` run after them (the schedule's, the accounts sensor's and
    `stripe-pipeline sync`'s batches)."""
    keys = list(context.selected_asset_keys)
    if len(context.partition_keys) == 1:
        for asset_key in keys:
            name = asset_key.path[-1]
            for account_id, result in results.items():
                context.add_asset_metadata(
                    _partition_metadata(result, name), asset_key=asset_key, partition_key=account_id
                )
            yield dg.MaterializeResult(
                asset_key=asset_key, metadata=_summary(results, failed, seconds, name)
            )
        return
    for asset_key in keys:
        name = asset_key.path[-1]
        for account_id, result in results.items():
            if result.rows.get(name, 0) <= 0:
                continue
            context.log_event(
                dg.AssetMaterialization(
                    asset_key=asset_key,
                    partition=account_id,
                    metadata={
                        **_partition_metadata(result, name),
                        **({"failed_accounts": dg.MetadataValue.json(failed)} if failed else {}),
                    },
                )
            )
    summary = _summary(results, failed, seconds, "events")
    context.log.info(
        "batch: " + json.dumps({k: getattr(v, "value", v) for k, v in summary.items()}, default=str)
    )
