"""The jobs sensors and schedules launch."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

STRIPE_SYNC_JOB = "stripe_sync_job"
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
