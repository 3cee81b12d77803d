"""Stripe → warehouse (`stripe/<resource>`, one partition per account) and the host app's and ops
store's tables (`app/*`, `ops/*`), each a warehouse writer in the `warehouse` pool."""

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
    WAREHOUSE_POOL,
    OpsStoreResource,
    PipelineSettings,
)
from stripe_pipeline.defs.ingestion.batch_run import run_stripe_batch
from stripe_pipeline.settings import Settings


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
            # and its dbt and publish steps are skipped (see batch_run.py).
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


def build_stripe_assets() -> dg.AssetsDefinition:
    @dlt_assets(
        dlt_source=_definition_source(),
        dlt_pipeline=_definition_pipeline(),
        name="stripe_source",
        dagster_dlt_translator=StripeTranslator(),
        partitions_def=STRIPE_ACCOUNTS,
        # A backfill of many accounts (the nightly reconcile) is one run: the accounts load as
        # one batch in this op (batch_run.py) and dbt builds the marts once at the end.
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
        yield from run_stripe_batch(context, config, dlt, settings.get(), ops_store)

    return stripe_source_assets


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
