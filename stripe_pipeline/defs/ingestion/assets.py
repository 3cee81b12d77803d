"""Stripe → warehouse (`stripe/<resource>`, one partition per account) and the host app's and ops
store's tables (`app/*`, `ops/*`), each a warehouse writer in the `warehouse` pool."""

import time
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import dagster as dg
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData
from pydantic import Field

from stripe_pipeline.app_source import APP_TABLES, OPS_TABLES
from stripe_pipeline.defs.common import (
    STRIPE_ACCOUNTS,
    STRIPE_GROUP,
    TAG_TRIGGER,
    WAREHOUSE_POOL,
    OpsStoreResource,
    PipelineSettings,
)
from stripe_pipeline.defs.ingestion.sync_record import record_sync_finished, record_sync_started
from stripe_pipeline.settings import Settings

# Pending inbox events one account's run reads (and marks processed) at most; more wait for the
# next run.
INBOX_LIMIT = 5000

# Stats the Stripe source keeps per resource, shown per asset in the UI (summed over accounts).
STAT_NAMES = ("rows", "slices", "requests", "retries", "http_429", "seconds", "events_replayed")


class StripeTranslator(DagsterDltTranslator):
    """Names each landed table `stripe/<resource>`, the key dbt's `source('stripe', ...)` maps to,
    so Stripe → staging → marts is one graph; no upstream deps (dlt's default would invent a
    phantom `stripe_<resource>` key for every resource)."""

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        spec = super().get_asset_spec(data)
        return spec.replace_attributes(
            key=dg.AssetKey(["stripe", data.resource.name]),
            deps=[],
            # A webhook run whose events an earlier run already landed materializes nothing,
            # and its dbt and publish steps are skipped (see _run_stripe_accounts).
            skippable=True,
            group_name=STRIPE_GROUP,
            kinds={"dlt", "duckdb", "stripe"},
            description=(
                f"Stripe `{data.resource.name}` landed by dlt in the warehouse table "
                f"`stripe.{data.resource.name}`, every row with `account_id`. One partition per "
                "Stripe account."
            ),
        )


class StripeSyncConfig(dg.Config):
    full_refresh: bool = Field(
        default=False,
        description=(
            "Forget this account's cursors and list every object again (the landed rows are "
            "merged, so other accounts' data is untouched)."
        ),
    )
    inbox_only: bool = Field(
        default=False,
        description=(
            "The webhook fast path: land only the objects the account's pending inbox events "
            "name, fetched by id (stripe_pipeline/inbox_source.py), instead of replaying events "
            "and listing every resource. stripe_webhook_job sets it; a burst too large for it "
            "falls back to the regular incremental sync."
        ),
    )


def _definition_source() -> Any:
    """The source the asset specs are built from. Only its resource names matter; runs build the
    real source per account, from settings read at run time."""
    from stripe_pipeline.stripe_source import stripe_source

    return stripe_source(None, Settings())


def _definition_pipeline() -> Any:
    import dlt

    # Not the run's pipeline (that one is per account, from make_pipeline at run time): only
    # the destination type shows in the specs. Creating it touches no warehouse.
    return dlt.pipeline(
        pipeline_name="stripe_definitions", destination="duckdb", dataset_name="stripe"
    )


def _project_for(store: Any, account_id: str, platform_id: str, settings: Settings) -> str:
    if account_id == platform_id:
        return settings.platform_project_id
    account = store.get_account(account_id)
    return account.project_id if account else settings.platform_project_id


def _pending_inbox_events(store: Any, account_id: str, platform_id: str) -> list[Any]:
    """Inbox events this account's sync will cover: every event Stripe sent before the sync
    started is in `/v1/events` by then. The platform's own events carry no account id."""
    if account_id == platform_id:
        return [
            e
            for e in store.pending_webhook_events(limit=INBOX_LIMIT)
            if e.account_id in (None, platform_id)
        ]
    return store.pending_webhook_events(limit=INBOX_LIMIT, account_id=account_id)


def build_stripe_assets() -> dg.AssetsDefinition:
    @dlt_assets(
        dlt_source=_definition_source(),
        dlt_pipeline=_definition_pipeline(),
        name="stripe_source",
        dagster_dlt_translator=StripeTranslator(),
        partitions_def=STRIPE_ACCOUNTS,
        # A backfill of many accounts (the nightly reconcile) is one run: accounts load one
        # after another in this op and dbt builds the marts once at the end.
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=WAREHOUSE_POOL,
    )
    def stripe_source_assets(
        context: dg.AssetExecutionContext,
        config: StripeSyncConfig,
        dlt: DagsterDltResource,
        settings: PipelineSettings,
        ops_store: OpsStoreResource,
    ) -> Iterator[Any]:
        yield from _run_stripe_accounts(context, config, dlt, settings.get(), ops_store)

    return stripe_source_assets


def _run_stripe_accounts(
    context: dg.AssetExecutionContext,
    config: StripeSyncConfig,
    dlt: DagsterDltResource,
    settings: Settings,
    ops_store: OpsStoreResource,
) -> Iterator[Any]:
    from stripe_pipeline.accounts import platform_account_id

    platform_id = platform_account_id(settings)
    trigger = context.run.tags.get(TAG_TRIGGER, "ui")
    # asset key -> account -> dagster-dlt's metadata and the source's stats for that account
    landed: dict[dg.AssetKey, dict[str, dict[str, Any]]] = defaultdict(dict)
    failures: dict[str, str] = {}

    with ops_store.open() as store:
        for account_id in context.partition_keys:
            project_id = _project_for(store, account_id, platform_id, settings)
            pending = _pending_inbox_events(store, account_id, platform_id)
            inbox_ids = [e.id for e in pending]
            if config.inbox_only and not pending and not config.full_refresh:
                # A webhook run queued while the previous one was running finds its events
                # landed by it: nothing changed, so nothing to rebuild or publish.
                context.log.info(
                    f"{account_id}: no pending inbox events (an earlier run landed them)"
                )
                continue
            record_sync_started(store, project_id, account_id, context.run.run_id, trigger)
            context.log.info(f"stripe.sync.started account={account_id} trigger={trigger}")
            started = time.perf_counter()
            try:
                by_key = None
                if config.inbox_only and not config.full_refresh:
                    by_key = _land_inbox_one_account(
                        context, dlt, settings, account_id, account_id == platform_id, pending
                    )
                if by_key is None:
                    by_key = _sync_one_account(
                        context, dlt, settings, account_id, config.full_refresh
                    )
            except Exception as exc:
                # The source's errors name the account and endpoint and never the key; keep
                # going so one broken account does not hold back the others' data.
                failures[account_id] = f"{type(exc).__name__}: {exc}"
                record_sync_finished(
                    store, project_id, account_id, context.run.run_id, {}, failures[account_id]
                )
                context.log.error(f"sync of {account_id} failed: {failures[account_id]}")
                continue
            rows = {
                key.path[-1]: int(entry["stats"].get("rows", 0)) for key, entry in by_key.items()
            }
            for key, entry in by_key.items():
                landed[key][account_id] = entry
            record_sync_finished(store, project_id, account_id, context.run.run_id, rows)
            marked = store.mark_events_processed(inbox_ids, run_id=context.run.run_id)
            context.log.info(
                f"synced {account_id}: {sum(rows.values())} rows in "
                f"{time.perf_counter() - started:.1f}s; {marked} webhook events processed"
            )

    if failures and landed:
        # Materialize only the partitions that landed, then fail the step so the marts are not
        # rebuilt on a partial load and the failed accounts show in the UI.
        for asset_key, by_account in landed.items():
            for account_id, entry in by_account.items():
                context.log_event(
                    dg.AssetMaterialization(
                        asset_key=asset_key,
                        partition=account_id,
                        metadata=_metadata({account_id: entry}),
                    )
                )
    if failures:
        raise dg.Failure(
            description=(
                f"{len(failures)} of {len(context.partition_keys)} Stripe accounts failed to sync: "
                + "; ".join(f"{a}: {e}" for a, e in failures.items())
            ),
            metadata={"failed_accounts": dg.MetadataValue.json(failures)},
        )
    for asset_key, by_account in landed.items():
        yield dg.MaterializeResult(asset_key=asset_key, metadata=_metadata(by_account))


def _sync_one_account(
    context: dg.AssetExecutionContext,
    dlt: DagsterDltResource,
    settings: Settings,
    account_id: str,
    full_refresh: bool,
) -> dict[dg.AssetKey, dict[str, Any]]:
    """Land one account, in chunks of pages so a killed run loses at most one chunk; returns
    per asset dagster-dlt's metadata (last chunk) and the source's stats (all chunks)."""
    from stripe_pipeline.stripe_source import (
        DEFAULT_PAGES_PER_RUN,
        SyncStats,
        finish_pending,
        make_pipeline,
        stripe_source,
    )

    pipeline = make_pipeline(settings, account_id)
    # dagster-dlt drops the pipeline's local state before it runs (state comes back from the
    # warehouse), so packages a killed run left behind must be loaded first.
    if finish_pending(pipeline):
        context.log.info(f"{account_id}: loaded the packages an interrupted run left behind")
    if full_refresh:
        _reset_cursors(pipeline)
    total = SyncStats(account_id=account_id)
    metadata: dict[dg.AssetKey, dict[str, Any]] = {}
    selected: list[str] | None = None
    while True:
        chunk = SyncStats(account_id=account_id)
        source = stripe_source(
            account_id, settings, max_pages_per_run=DEFAULT_PAGES_PER_RUN, stats=chunk
        )
        if selected is not None:
            source = source.with_resources(*selected)
        for result in dlt.run(context=context, dlt_source=source, dlt_pipeline=pipeline):
            metadata[result.asset_key] = dict(result.metadata or {})
        total.merge(chunk)
        names = [key.path[-1] for key in metadata]
        selected = [n for n in (selected or names) if not chunk.resource(n).complete]
        if not selected:
            break
        context.log.info(f"{account_id}: backfill continues for {', '.join(selected)}")
    stats = total.as_dict()
    return {
        key: {
            "dlt": meta,
            "stats": {k: v for k, v in stats.get(key.path[-1], {}).items() if k in STAT_NAMES},
        }
        for key, meta in metadata.items()
    }


def _land_inbox_one_account(
    context: dg.AssetExecutionContext,
    dlt: DagsterDltResource,
    settings: Settings,
    account_id: str,
    is_platform: bool,
    pending: list[Any],
) -> dict[dg.AssetKey, dict[str, Any]] | None:
    """The webhook fast path for one account: fetch and merge the objects its pending inbox
    events name (stripe_pipeline/inbox_source.py). None when the burst is too large for it, so
    the caller runs the regular incremental sync instead."""
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
    tables = collect_tables(settings, account_id, is_platform, plan, stats)
    metadata: dict[dg.AssetKey, dict[str, Any]] = {}
    for result in dlt.run(
        context=context,
        dlt_source=inbox_source(tables),
        dlt_pipeline=make_inbox_pipeline(settings, account_id),
    ):
        metadata[result.asset_key] = dict(result.metadata or {})
    by_resource = stats.as_dict()
    return {
        key: {
            "dlt": meta,
            "stats": {
                k: v for k, v in by_resource.get(key.path[-1], {}).items() if k in STAT_NAMES
            },
        }
        for key, meta in metadata.items()
    }


def _reset_cursors(pipeline: Any) -> None:
    """Forget this account's cursors and resume points so every object is listed again. Only
    state: the landed tables hold every account's rows, so dlt's table-dropping refresh modes
    would wipe the other accounts."""
    from dlt.pipeline.helpers import pipeline_drop

    from stripe_pipeline.stripe_source import RESOURCE_NAMES

    pipeline.sync_destination()
    if pipeline.default_schema_name:
        pipeline_drop(pipeline, resources=list(RESOURCE_NAMES), state_only=True)()


def _metadata(by_account: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """dagster-dlt's table metadata (of the last account) plus the source's stats, summed over
    the accounts of this run and, for a multi-account run, per account."""
    last = next(reversed(by_account.values()))
    metadata = {k: v for k, v in last["dlt"].items() if k not in ("rows_loaded", "jobs")}
    totals: dict[str, float] = defaultdict(float)
    for entry in by_account.values():
        for name, value in entry["stats"].items():
            totals[name] += value
    for name in STAT_NAMES:
        if name in totals:
            value = totals[name]
            key = "rows_loaded" if name == "rows" else name
            metadata[key] = (
                dg.MetadataValue.float(round(value, 3))
                if name == "seconds"
                else dg.MetadataValue.int(int(value))
            )
    metadata["accounts"] = dg.MetadataValue.int(len(by_account))
    if len(by_account) > 1:
        metadata["per_account"] = dg.MetadataValue.json(
            {a: e["stats"] for a, e in by_account.items()}
        )
    return metadata


# -- the host app's and the ops store's tables -------------------------------------------------


def _loader_specs(
    dataset: str, tables: tuple[str, ...], what: str, deps: list[dg.AssetKey] | None = None
) -> list[dg.AssetSpec]:
    return [
        dg.AssetSpec(
            key=[dataset, table],
            deps=deps or [],
            group_name=dataset,
            kinds={"dlt", "duckdb", "sqlalchemy"},
            description=f"{what} table `{table}`, copied by dlt to the warehouse table `{dataset}.{table}`.",
        )
        for table in tables
    ]


def _copied(summary: Any, dataset: str, tables: tuple[str, ...]) -> Iterator[dg.MaterializeResult]:
    loaded = set(getattr(summary, "loaded_tables", ()) or ())
    for table in tables:
        yield dg.MaterializeResult(
            asset_key=[dataset, table],
            metadata={
                "dagster/table_name": f"{dataset}.{table}",
                # A table the source database lacks stays absent; dbt reads it as empty.
                "copied": table in loaded,
            },
        )


@dg.multi_asset(
    name="app_tables",
    specs=_loader_specs("app", APP_TABLES, "The host app's"),
    pool=WAREHOUSE_POOL,
    description="The host app's projects, products, prices, SKUs and non-Stripe transactions (APP_DATABASE_URL).",
)
def app_tables(
    context: dg.AssetExecutionContext, settings: PipelineSettings
) -> Iterator[dg.MaterializeResult]:
    from stripe_pipeline.app_source import load_app_data

    run_settings = settings.get()
    if not run_settings.app_database_url:
        # Without the host app the marts still build (nothing maps to internal products); the
        # run goes on rather than failing every sync of a pipeline used for Stripe data alone.
        context.log.warning(
            "APP_DATABASE_URL is not set: the app tables stay empty and no Stripe product maps to "
            "an internal one; set it to the host app's database URL to map them"
        )
        yield from _copied(None, "app", APP_TABLES)
        return
    yield from _copied(load_app_data(run_settings), "app", APP_TABLES)


def build_ops_tables(stripe_keys: list[dg.AssetKey]) -> dg.AssetsDefinition:
    # After the Stripe assets: a sync writes its state and marks inbox events processed in the
    # ops store, and the copy should carry that run's outcome into the marts.
    @dg.multi_asset(
        name="ops_tables",
        specs=_loader_specs("ops", OPS_TABLES, "The ops store's", deps=stripe_keys),
        pool=WAREHOUSE_POOL,
        description="Connected accounts, the webhook inbox, sync requests and sync states (OPS_DATABASE_URL).",
    )
    def ops_tables(
        context: dg.AssetExecutionContext, settings: PipelineSettings
    ) -> Iterator[dg.MaterializeResult]:
        from stripe_pipeline.app_source import load_ops_data

        yield from _copied(load_ops_data(settings.get()), "ops", OPS_TABLES)

    return ops_tables
