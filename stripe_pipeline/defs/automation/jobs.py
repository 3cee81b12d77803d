"""The jobs sensors and schedules launch."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

STRIPE_SYNC_JOB = "stripe_sync_job"
STRIPE_WEBHOOK_JOB = "stripe_webhook_job"
MARTS_JOB = "marts_job"
STRIPE_INGEST_JOB = "stripe_ingest_job"
SOURCE_FRESHNESS_JOB = "source_freshness_job"

# Everything a sync of some accounts needs: their Stripe resources, the app's and ops store's
# tables (cheap, and dbt reads them), then every dbt model and the published copy downstream.
SYNC_SELECTION = (
    dg.AssetSelection.key_prefixes("stripe")
    | dg.AssetSelection.key_prefixes("app")
    | dg.AssetSelection.key_prefixes("ops")
).downstream()

# The webhook fast path refreshes the marts a payment, refund or dispute changes, and their
# tests: `transactions` (incremental), what is built on it, and the payment conversion. The
# catalog maps, the ops-fed marts (webhook events, sync state, connector health) and the app's
# tables wait for the next full run (a sync request, the nightly reconcile), which also re-runs
# the dbt unit tests: they test the SQL, which a webhook does not change.
WEBHOOK_MARTS = ("transactions", "analytics_daily", "analytics_payment_conversion", "events")
_WEBHOOK_MARTS = dg.AssetSelection.assets(*(["marts", name] for name in WEBHOOK_MARTS))
_STRIPE = dg.AssetSelection.key_prefixes("stripe")
_OPS = dg.AssetSelection.key_prefixes("ops")
# The models between the landed tables and those marts are selected too: a job orders its steps
# by the dependencies among its own assets, so without them dbt would run before the landing.
# dbt leaves those views as they are (DbtBuildConfig.views); their tests wait for the full run.
# The ops store's tables are among them (copied after the Stripe step, about a second), so the
# run's own sync state and the events it marked processed reach the marts too.
_BETWEEN = (_STRIPE.downstream() & _WEBHOOK_MARTS.upstream()) - _STRIPE - _OPS - _WEBHOOK_MARTS
# The money reconciliation is a dbt test run inside the dbt step (a failure fails the step, so
# nothing is published); named here too so the webhook job's narrowed dbt selection keeps it.
RECONCILE_DBT_TEST = "assert_transactions_net_reconciles_with_balance_transactions"
WEBHOOK_SELECTION = (
    _STRIPE
    | _OPS
    | _BETWEEN.without_checks()
    | _WEBHOOK_MARTS
    | dg.AssetSelection.assets(["serving", "marts"])
)
WEBHOOK_RUN_CONFIG = {
    "ops": {
        "stripe_source": {"config": {"inbox_only": True}},
        "dbt_models": {
            "config": {"unit_tests": False, "views": False, "also_select": [RECONCILE_DBT_TEST]}
        },
    }
}


def partition_range_tags(keys: Sequence[str]) -> dict[str, str]:
    """One run over the account partitions `keys[0]..keys[-1]` (neighbours in the instance's
    partition order): the Stripe assets land them as one batch (single-run backfill policy)."""
    return {
        "dagster/asset_partition_range_start": keys[0],
        "dagster/asset_partition_range_end": keys[-1],
    }


def build_jobs(freshness_checks: Sequence[dg.AssetCheckKey]) -> list[UnresolvedAssetJobDefinition]:
    # `dbt source freshness` costs ~10 s; a webhook-triggered sync should reach the marts in
    # about a minute, so freshness runs in a job (and schedule) of its own.
    without_freshness = dg.AssetSelection.checks(*freshness_checks) if freshness_checks else None

    def selection(base: dg.AssetSelection) -> dg.AssetSelection:
        return base - without_freshness if without_freshness is not None else base

    # In-process: the pool lets one warehouse step run at a time anyway, and a subprocess per
    # step would reload the code location for every step (tens of seconds per run).
    executor = dg.in_process_executor
    jobs = [
        dg.define_asset_job(
            name=STRIPE_SYNC_JOB,
            selection=selection(SYNC_SELECTION),
            executor_def=executor,
            description=(
                "Sync the Stripe accounts of the run's partition (or partition range), load the "
                "app and ops tables, build the dbt marts and publish them. Accounts load one "
                "after another."
            ),
        ),
        dg.define_asset_job(
            name=STRIPE_WEBHOOK_JOB,
            selection=selection(WEBHOOK_SELECTION),
            executor_def=executor,
            config=WEBHOOK_RUN_CONFIG,
            description=(
                "The webhook fast path for the run's account: land the objects its pending inbox "
                "events name (fetched by id, no listing), rebuild transactions and the marts on "
                "it with their tests, publish. The nightly stripe_sync_job stays the full "
                "reconcile."
            ),
        ),
        dg.define_asset_job(
            name=STRIPE_INGEST_JOB,
            selection=selection(dg.AssetSelection.key_prefixes("stripe")),
            executor_def=executor,
            description="Land the Stripe accounts of the run's partition(s) only (no dbt, no publish).",
        ),
        dg.define_asset_job(
            name=MARTS_JOB,
            selection=selection(SYNC_SELECTION - dg.AssetSelection.key_prefixes("stripe")),
            executor_def=executor,
            description="Rebuild and publish the marts from what is already landed (no Stripe requests).",
        ),
    ]
    if freshness_checks:
        jobs.append(
            dg.define_asset_job(
                name=SOURCE_FRESHNESS_JOB,
                selection=dg.AssetSelection.checks(*freshness_checks),
                executor_def=executor,
                description="`dbt source freshness` on the landed Stripe tables, as asset checks.",
            )
        )
    return jobs
