"""The nightly reconcile: every account's partition, in one run on DuckDB, in a few concurrent
batch runs on Postgres; the marts are built once."""

import dagster as dg

from stripe_pipeline.defs.automation.jobs import (
    SOURCE_FRESHNESS_JOB,
    STRIPE_INGEST_JOB,
    STRIPE_SYNC_JOB,
    partition_range_tags,
)
from stripe_pipeline.defs.common import (
    STRIPE_ACCOUNTS,
    TAG_BATCH_GROUP,
    TAG_BATCH_RUNS,
    TAG_TRIGGER,
    PipelineSettings,
)

NIGHTLY_CRON = "0 2 * * *"
# Nightly, dbt rebuilds the incremental marts in full, so catalog remaps reach old rows.
FULL_REFRESH_MARTS = {"ops": {"dbt_models": {"config": {"full_refresh": True}}}}


def nightly_run_request(partition_keys: list[str], run_key: str) -> dg.RunRequest | dg.SkipReason:
    """One run over the whole partition range: the Stripe assets (single-run backfill policy)
    land the accounts as one batch, then dbt builds and publishes the marts once."""
    if not partition_keys:
        return dg.SkipReason(
            "no Stripe accounts yet: stripe_accounts_sensor adds them from the ops store"
        )
    return dg.RunRequest(
        job_name=STRIPE_SYNC_JOB,
        run_key=run_key,
        tags={**partition_range_tags(partition_keys), TAG_TRIGGER: "schedule"},
        run_config=FULL_REFRESH_MARTS,
    )


def batch_run_requests(
    partition_keys: list[str], run_key: str, runs: int
) -> list[dg.RunRequest] | dg.SkipReason:
    """`runs` ingest runs over consecutive slices of the partitions, which the run queue starts
    side by side (Postgres only: DuckDB has one writer). `marts_after_batches_sensor` builds
    the marts once the last of them has ended."""
    if runs <= 1 or len(partition_keys) <= 1:
        return nightly_run_request(partition_keys, run_key)
    size = -(-len(partition_keys) // runs)
    slices = [partition_keys[i : i + size] for i in range(0, len(partition_keys), size)]
    return [
        dg.RunRequest(
            job_name=STRIPE_INGEST_JOB,
            run_key=f"{run_key}:batch-{n}",
            tags={
                **partition_range_tags(keys),
                TAG_TRIGGER: "schedule",
                TAG_BATCH_GROUP: run_key,
                TAG_BATCH_RUNS: str(len(slices)),
            },
        )
        for n, keys in enumerate(slices, start=1)
    ]


@dg.schedule(
    name="stripe_nightly_schedule",
    cron_schedule=NIGHTLY_CRON,
    execution_timezone="UTC",
    job_name=STRIPE_SYNC_JOB,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description=(
        "02:00 UTC: sync every Stripe account (one run; STRIPE_SYNC_RUNS concurrent batch runs on "
        "Postgres), rebuild the marts in full, publish."
    ),
)
def stripe_nightly_schedule(
    context: dg.ScheduleEvaluationContext, settings: PipelineSettings
) -> list[dg.RunRequest] | dg.RunRequest | dg.SkipReason:
    keys = list(context.instance.get_dynamic_partitions(STRIPE_ACCOUNTS.name))
    scheduled = context.scheduled_execution_time
    stamp = scheduled.strftime("%Y-%m-%d") if scheduled else "manual"
    return batch_run_requests(keys, f"nightly:{stamp}", settings.get().sync_runs)


source_freshness_schedule = dg.ScheduleDefinition(
    name="source_freshness_schedule",
    cron_schedule="30 * * * *",
    execution_timezone="UTC",
    job_name=SOURCE_FRESHNESS_JOB,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Hourly: `dbt source freshness` on the landed Stripe tables, shown as asset checks.",
)
