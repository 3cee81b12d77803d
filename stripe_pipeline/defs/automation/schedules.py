"""The nightly reconcile: every account's partition, in one batch run on DuckDB, in a few
concurrent batch runs on Postgres; then the marts are built once."""

import dagster as dg

from stripe_pipeline.defs.automation.jobs import (
    SOURCE_FRESHNESS_JOB,
    STRIPE_INGEST_JOB,
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


def batch_run_requests(
    partition_keys: list[str], run_key: str, runs: int = 1, trigger: str = "schedule"
) -> list[dg.RunRequest] | dg.SkipReason:
    """`runs` ingest runs over consecutive slices of the account partitions (one on DuckDB, which
    has one writer; several side by side on Postgres, as far as the run queue's tag limits
    allow). Each lands its accounts as one batch; `marts_after_batches_sensor` builds the marts
    once, when the last of them has ended. The marts are a run of their own so that an ingest
    run over a thousand partitions need not materialize every asset of every partition (see
    `defs/ingestion/batch_run.py`)."""
    if not partition_keys:
        return dg.SkipReason(
            "no Stripe accounts yet: stripe_accounts_sensor adds them from the ops store"
        )
    size = -(-len(partition_keys) // max(1, runs))
    slices = [partition_keys[i : i + size] for i in range(0, len(partition_keys), size)]
    return [
        dg.RunRequest(
            job_name=STRIPE_INGEST_JOB,
            run_key=f"{run_key}:batch-{n}" if len(slices) > 1 else run_key,
            tags={
                **partition_range_tags(keys),
                TAG_TRIGGER: trigger,
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
    job_name=STRIPE_INGEST_JOB,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description=(
        "02:00 UTC: land every Stripe account (one batch run; STRIPE_SYNC_RUNS concurrent batch "
        "runs on Postgres), then marts_job rebuilds the marts in full and publishes."
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
